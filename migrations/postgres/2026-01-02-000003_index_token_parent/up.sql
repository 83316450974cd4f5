-- The retry grace finds a token's successor by its parent.
CREATE UNIQUE INDEX refresh_tokens_parent_id ON refresh_tokens (parent_id);
