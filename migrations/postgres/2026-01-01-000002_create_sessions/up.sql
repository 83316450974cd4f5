-- Token families (sessions) and the refresh tokens in them: ids and metadata only, never token
-- strings.
CREATE TABLE token_families (
    id            uuid        PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    long_lived    boolean     NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text,
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);

-- Revoking all of a user's sessions (password change, disable) and the cascade from users.
CREATE INDEX token_families_user_id ON token_families (user_id);

CREATE TABLE refresh_tokens (
    token_id        uuid        PRIMARY KEY,
    family_id       uuid        NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    parent_id       uuid,
    access_token_id uuid        NOT NULL,
    issued_at       timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);

-- Every token of a family, spent ones included: the cascade when a family is purged.
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);

-- The live (unspent) token of a family, at most one per family, without walking the spent chain.
CREATE INDEX refresh_tokens_live ON refresh_tokens (family_id) WHERE used_at IS NULL;
