-- Refresh tokens bound to their client (RFC 6749 §6, RFC 7009 §2.1, RFC 7662 §2.1).
--
-- token_families.client_id: the client a login authenticated as, NULL for a login without
-- client authentication (the product dialect) and for every family created before this
-- migration. Deliberately no foreign key to clients: ON DELETE SET NULL would unbind a removed
-- client's tokens (anyone could then refresh them without a client), ON DELETE CASCADE would
-- silently delete session records. Without a key a removed client's families stay bound to an
-- id nobody can authenticate as, so they can no longer be refreshed. Families also reference
-- their user without a key (sessions_without_user_fk). "C" collation as clients.id, so the
-- comparison is byte for byte on both backends.
ALTER TABLE token_families ADD COLUMN client_id text COLLATE "C";

-- clients.introspect_any: introspection shows this client the tokens of every client, not
-- only its own and unbound ones (a resource server). Off for existing clients.
ALTER TABLE clients ADD COLUMN introspect_any boolean NOT NULL DEFAULT false;
