-- Per-user session cut-off for hosts whose users live in their own table
-- (`Database::session_store_for_external_users`), where a login cannot lock a Tollgate users row.
-- Revoking a user's sessions raises `not_before` to the revocation instant; a login's family is
-- stored only if the login read the user at or after it. A login locks the row (creating it with
-- a NULL `not_before` if needed), so a revocation either waits for the family to be stored and
-- then revokes it, or comes first and refuses the login.
CREATE TABLE session_cutoffs (
    user_id    uuid        PRIMARY KEY,
    not_before timestamptz
);
