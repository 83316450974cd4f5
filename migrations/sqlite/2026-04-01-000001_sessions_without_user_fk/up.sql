-- A host may keep its users in its own table (its own UserStore), so a family's user_id can no
-- longer reference Tollgate's users table. Deleting a user from Tollgate's own store still
-- removes their families: DieselUserStore::delete deletes them in the same transaction.
--
-- SQLite cannot drop a constraint, so both session tables are rebuilt (refresh_tokens too,
-- because its foreign key must name the new token_families). Order matters with foreign keys
-- on: the new tables are filled first, the old child is dropped before the old parent, and the
-- renames (SQLite >= 3.26) carry refresh_tokens' REFERENCES over to the new name.
CREATE TABLE token_families_new (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    long_lived    INTEGER NOT NULL CHECK (long_lived IN (0, 1)),
    revoked_at    INTEGER,
    revoke_reason TEXT,
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
) STRICT;
INSERT INTO token_families_new (id, user_id, created_at, expires_at, long_lived, revoked_at, revoke_reason)
    SELECT id, user_id, created_at, expires_at, long_lived, revoked_at, revoke_reason FROM token_families;

CREATE TABLE refresh_tokens_new (
    token_id        TEXT    NOT NULL PRIMARY KEY,
    family_id       TEXT    NOT NULL REFERENCES token_families_new (id) ON DELETE CASCADE,
    parent_id       TEXT,
    access_token_id TEXT    NOT NULL,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
) STRICT;
INSERT INTO refresh_tokens_new (token_id, family_id, parent_id, access_token_id, issued_at, expires_at, used_at)
    SELECT token_id, family_id, parent_id, access_token_id, issued_at, expires_at, used_at FROM refresh_tokens;

DROP TABLE refresh_tokens;
DROP TABLE token_families;
ALTER TABLE token_families_new RENAME TO token_families;
ALTER TABLE refresh_tokens_new RENAME TO refresh_tokens;

-- The indexes went with the old tables (see create_sessions and index_token_parent).
CREATE INDEX token_families_user_id ON token_families (user_id);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_live ON refresh_tokens (family_id) WHERE used_at IS NULL;
CREATE UNIQUE INDEX refresh_tokens_parent_id ON refresh_tokens (parent_id);
