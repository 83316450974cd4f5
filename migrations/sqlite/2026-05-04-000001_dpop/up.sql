-- DPoP (RFC 9449) replay cache: one row per accepted proof, kept until the proof would be
-- refused as too old anyway (`expires_at` = iat + dpop.max_age + leeway). The key is the SHA-256
-- (hex) of "<jkt>\0<jti>": a fixed size whatever the client sent, and the primary key makes the
-- insert the replay check (first writer wins, across processes). Types as in create_users.
CREATE TABLE dpop_proofs (
    proof_digest TEXT    NOT NULL PRIMARY KEY,
    expires_at   INTEGER NOT NULL
) STRICT;
-- The purge deletes by age.
CREATE INDEX dpop_proofs_expires_at ON dpop_proofs (expires_at);

-- The DPoP key (RFC 7638 SHA-256 thumbprint, base64url) a family is bound to; NULL for a
-- bearer family. Every refresh of a bound family needs a proof by this key.
ALTER TABLE token_families ADD COLUMN jkt TEXT CHECK (length(jkt) = 43);
