-- Configured OAuth clients (API.md §6). Only the SHA-256 digest of a secret is kept; the secret
-- is shown once when the client is created.
CREATE TABLE clients (
    -- "C": byte-wise comparison, so uniqueness is exact and `ORDER BY id` matches SQLite.
    id             text        COLLATE "C" PRIMARY KEY,
    secret_digest  bytea       NOT NULL CHECK (octet_length(secret_digest) = 32),
    -- Allowed grant names in order, separated by single spaces; empty for a client that may
    -- only introspect and revoke.
    allowed_grants text        NOT NULL,
    created_at     timestamptz NOT NULL
);
