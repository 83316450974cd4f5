ALTER TABLE clients DROP COLUMN introspect_any;
ALTER TABLE token_families DROP COLUMN client_id;
