-- Back to families referencing Tollgate's users table. Families of users that table does not
-- hold (a host's own users) cannot satisfy the key and are dropped with their tokens.
DELETE FROM token_families WHERE user_id NOT IN (SELECT id FROM users);
ALTER TABLE token_families
    ADD CONSTRAINT token_families_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
