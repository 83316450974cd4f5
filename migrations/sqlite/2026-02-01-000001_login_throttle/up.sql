-- Failed-login counters for brute-force throttling (API.md §1, 429). The key is the SHA-256
-- (hex) of "name\0<login name>" or "addr\0<address>": never the raw name, which may be a
-- password typed into the wrong field. Types as in create_users.
CREATE TABLE login_failures (
    key_digest      TEXT    NOT NULL PRIMARY KEY,
    failures        INTEGER NOT NULL CHECK (failures >= 0),
    last_failure_at INTEGER NOT NULL,
    blocked_until   INTEGER
) STRICT;
-- Purging forgotten counters scans by age.
CREATE INDEX login_failures_last_failure_at ON login_failures (last_failure_at);
