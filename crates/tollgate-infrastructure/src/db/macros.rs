//! The two macros that let every query be written once for all backends.
//!
//! `$body` is expanded once per compiled-in backend with `$conn` bound to that backend's
//! connection type, so each query is type-checked against every backend but exists once in the
//! source. The body runs inside a closure: `?` converts into [`crate::InfraError`], and `return`
//! leaves the body, not the enclosing function.

/// Runs `$body` on a pooled connection, outside any explicit transaction.
macro_rules! db_run {
    ($db:expr, |$conn:ident| $body:block) => {
        match $db.pool() {
            #[cfg(feature = "sqlite")]
            $crate::db::pool::Pool::Sqlite(pool) => $crate::db::pool::with_connection(
                pool,
                |$conn: &mut ::diesel::sqlite::SqliteConnection| $body,
            ),
            #[cfg(feature = "postgres")]
            $crate::db::pool::Pool::Postgres(pool) => {
                $crate::db::pool::with_connection(pool, |$conn: &mut ::diesel::pg::PgConnection| {
                    $body
                })
            }
        }
    };
}

/// Runs `$body` in a write transaction, rolled back when it returns `Err`.
///
/// SQLite gets `BEGIN IMMEDIATE`: the write lock is taken up front, so concurrent writers queue
/// on the busy timeout instead of failing with `SQLITE_BUSY` when a read lock cannot be upgraded;
/// writers of this process first take turns on `Database::writer_turn`.
/// PostgreSQL gets an ordinary READ COMMITTED transaction; row locks settle the races.
macro_rules! db_write {
    ($db:expr, |$conn:ident| $body:block) => {
        match $db.pool() {
            #[cfg(feature = "sqlite")]
            $crate::db::pool::Pool::Sqlite(pool) => {
                let _turn = $db.writer_turn();
                $crate::db::pool::with_connection(
                    pool,
                    |conn: &mut ::diesel::sqlite::SqliteConnection| {
                        conn.immediate_transaction(|$conn| $body)
                    },
                )
            }
            #[cfg(feature = "postgres")]
            $crate::db::pool::Pool::Postgres(pool) => {
                $crate::db::pool::with_connection(pool, |conn: &mut ::diesel::pg::PgConnection| {
                    ::diesel::Connection::transaction(conn, |$conn| $body)
                })
            }
        }
    };
}
