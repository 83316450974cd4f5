-- Back to families referencing Tollgate's users table. Families of users that table does not
-- hold (a host's own users) cannot satisfy the key and are dropped with their tokens.
CREATE TABLE token_families_old (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    long_lived    INTEGER NOT NULL CHECK (long_lived IN (0, 1)),
    revoked_at    INTEGER,
    revoke_reason TEXT,
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
) STRICT;
INSERT INTO token_families_old (id, user_id, created_at, expires_at, long_lived, revoked_at, revoke_reason)
    SELECT id, user_id, created_at, expires_at, long_lived, revoked_at, revoke_reason FROM token_families
    WHERE user_id IN (SELECT id FROM users);

CREATE TABLE refresh_tokens_old (
    token_id        TEXT    NOT NULL PRIMARY KEY,
    family_id       TEXT    NOT NULL REFERENCES token_families_old (id) ON DELETE CASCADE,
    parent_id       TEXT,
    access_token_id TEXT    NOT NULL,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
) STRICT;
INSERT INTO refresh_tokens_old (token_id, family_id, parent_id, access_token_id, issued_at, expires_at, used_at)
    SELECT token_id, family_id, parent_id, access_token_id, issued_at, expires_at, used_at FROM refresh_tokens
    WHERE family_id IN (SELECT id FROM token_families_old);

DROP TABLE refresh_tokens;
DROP TABLE token_families;
ALTER TABLE token_families_old RENAME TO token_families;
ALTER TABLE refresh_tokens_old RENAME TO refresh_tokens;

CREATE INDEX token_families_user_id ON token_families (user_id);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_live ON refresh_tokens (family_id) WHERE used_at IS NULL;
CREATE UNIQUE INDEX refresh_tokens_parent_id ON refresh_tokens (parent_id);
