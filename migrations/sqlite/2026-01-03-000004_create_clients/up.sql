-- Configured OAuth clients (API.md §6). Only the SHA-256 digest of a secret is kept; the secret
-- is shown once when the client is created. Types as in create_users; the digest is a BLOB.
CREATE TABLE clients (
    id             TEXT    NOT NULL PRIMARY KEY,
    secret_digest  BLOB    NOT NULL CHECK (length(secret_digest) = 32),
    -- Allowed grant names in order, separated by single spaces; empty for a client that may
    -- only introspect and revoke.
    allowed_grants TEXT    NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
