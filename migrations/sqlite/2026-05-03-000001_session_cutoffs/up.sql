-- Per-user session cut-off for hosts whose users live in their own table
-- (`Database::session_store_for_external_users`), where a login cannot check a Tollgate users row.
-- Revoking a user's sessions raises `not_before` to the revocation instant; a login's family is
-- stored only if the login read the user at or after it. Both run in write transactions, which
-- SQLite serialises.
CREATE TABLE session_cutoffs (
    user_id    TEXT    NOT NULL PRIMARY KEY,
    not_before INTEGER
) STRICT;
