CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    -- "C": byte-wise comparison, so uniqueness is exact and `ORDER BY user_name` matches SQLite.
    user_name     text        COLLATE "C" NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL
);
