-- A host may keep its users in its own table (its own UserStore), so a family's user_id can no
-- longer reference Tollgate's users table. Deleting a user from Tollgate's own store still
-- removes their families: DieselUserStore::delete deletes them in the same transaction.
ALTER TABLE token_families DROP CONSTRAINT token_families_user_id_fkey;
