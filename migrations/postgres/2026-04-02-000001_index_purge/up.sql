-- The purge (`tollgate purge`, and the background task of `serve`) finds its victims through these
-- partial indexes instead of scanning every family and token.

-- Families revoked before a cutoff (`purge.keep_revoked` ago). Live families are not in it.
CREATE INDEX token_families_revoked_at ON token_families (revoked_at) WHERE revoked_at IS NOT NULL;

-- Spent tokens by expiry: once expired they are refused before storage is asked, so they go.
CREATE INDEX refresh_tokens_spent_expires_at ON refresh_tokens (expires_at) WHERE used_at IS NOT NULL;

-- Unspent tokens by expiry: every family has one, so a family whose unspent token expired is a
-- candidate (the purge then checks every token of it before deleting the family).
CREATE INDEX refresh_tokens_live_expires_at ON refresh_tokens (expires_at) WHERE used_at IS NULL;
