-- Failed-login counters for brute-force throttling (API.md §1, 429). The key is the SHA-256
-- (hex) of "name\0<login name>" or "addr\0<address>": never the raw name, which may be a
-- password typed into the wrong field.
CREATE TABLE login_failures (
    key_digest      text        COLLATE "C" PRIMARY KEY,
    failures        bigint      NOT NULL CHECK (failures >= 0),
    last_failure_at timestamptz NOT NULL,
    blocked_until   timestamptz
);
-- Purging forgotten counters scans by age.
CREATE INDEX login_failures_last_failure_at ON login_failures (last_failure_at);
