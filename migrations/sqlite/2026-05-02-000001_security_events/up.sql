-- The security event trail (`tollgate audit`, docs/SECURITY.md): failed and throttled logins,
-- refresh-token reuse, revocations, failed client authentications, key and user administration.
-- Never a token, password, secret or raw user name: `detail` holds a reason, a key id or a
-- salted digest of a name that was tried. No foreign keys: events outlive users and families.
-- Types as in create_users; INTEGER PRIMARY KEY is the rowid, so ids grow with insertion.
CREATE TABLE security_events (
    id          INTEGER NOT NULL PRIMARY KEY,
    occurred_at INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    user_id     TEXT,
    client_id   TEXT,
    address     TEXT,
    family_id   TEXT,
    detail      TEXT    CHECK (length(detail) <= 200)
) STRICT;
-- `tollgate audit` lists newest first, optionally since an instant; the purge deletes by age.
CREATE INDEX security_events_occurred_at ON security_events (occurred_at);
-- `tollgate audit --user`.
CREATE INDEX security_events_user_occurred_at ON security_events (user_id, occurred_at)
    WHERE user_id IS NOT NULL;
