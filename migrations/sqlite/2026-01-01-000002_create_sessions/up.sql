-- Token families (sessions) and the refresh tokens in them: ids and metadata only, never token
-- strings. Types as in create_users.
CREATE TABLE token_families (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    long_lived    INTEGER NOT NULL CHECK (long_lived IN (0, 1)),
    revoked_at    INTEGER,
    revoke_reason TEXT,
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
) STRICT;

-- Revoking all of a user's sessions (password change, disable) and the cascade from users.
CREATE INDEX token_families_user_id ON token_families (user_id);

CREATE TABLE refresh_tokens (
    token_id        TEXT    NOT NULL PRIMARY KEY,
    family_id       TEXT    NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    parent_id       TEXT,
    access_token_id TEXT    NOT NULL,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
) STRICT;

-- Every token of a family, spent ones included: the cascade when a family is purged.
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);

-- The live (unspent) token of a family, at most one per family, without walking the spent chain.
CREATE INDEX refresh_tokens_live ON refresh_tokens (family_id) WHERE used_at IS NULL;
