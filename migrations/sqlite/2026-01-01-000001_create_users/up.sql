-- SQLite has no uuid or timestamptz: ids are hyphenated lower-case TEXT, instants are unix
-- microseconds (UTC) in an INTEGER, booleans 0/1. STRICT makes SQLite refuse anything else.
CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_name     TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL
) STRICT;
