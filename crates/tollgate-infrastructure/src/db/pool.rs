//! Connection pools, one variant per compiled-in backend.

use std::time::Duration;

#[cfg(feature = "postgres")]
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, R2D2Connection};
#[cfg(feature = "sqlite")]
use diesel::{connection::SimpleConnection, sqlite::SqliteConnection};

use crate::InfraError;

/// Sizing of the connection pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once (0 counts as 1).
    pub max_size: u32,
    /// How long a caller waits for a free connection (and how long start-up waits for the
    /// first one) before giving up with [`InfraError::Pool`] (zero counts as 1 ms).
    pub connection_timeout: Duration,
    /// PostgreSQL: keep each connection's prepared statements (named, parsed once per
    /// connection). Turn off behind a pooler in transaction mode (PgBouncer), where the next
    /// transaction may run on another server connection that never saw them: every statement is
    /// then sent unnamed with its parameters in one protocol round (`PQsendQueryParams`).
    /// SQLite always keeps its statement cache.
    pub statement_cache: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            connection_timeout: Duration::from_secs(5),
            statement_cache: true,
        }
    }
}

/// How long an SQLite writer waits for the write lock before giving up with "database is locked".
#[cfg(feature = "sqlite")]
pub(crate) const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// The size the WAL file is cut back to whenever it restarts from its beginning (bytes).
#[cfg(feature = "sqlite")]
const SQLITE_JOURNAL_SIZE_LIMIT: u32 = 16 * 1024 * 1024;

#[cfg(feature = "sqlite")]
pub(crate) type SqlitePool = r2d2::Pool<ConnectionManager<SqliteConnection>>;
#[cfg(feature = "postgres")]
pub(crate) type PgPool = r2d2::Pool<ConnectionManager<PgConnection>>;

/// The pool of whichever backend the URL chose.
#[derive(Clone)]
pub(crate) enum Pool {
    /// An SQLite file.
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    /// A PostgreSQL server.
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

/// Runs `f` on a connection checked out of `pool`.
pub(crate) fn with_connection<C, T>(
    pool: &r2d2::Pool<ConnectionManager<C>>,
    f: impl FnOnce(&mut C) -> Result<T, InfraError>,
) -> Result<T, InfraError>
where
    C: R2D2Connection + 'static,
{
    let mut conn = pool.get()?;
    f(&mut conn)
}

fn builder<C: R2D2Connection + 'static>(
    options: &PoolOptions,
) -> r2d2::Builder<ConnectionManager<C>> {
    // r2d2 panics on a zero size or timeout; settings must not be able to panic the server.
    r2d2::Pool::builder()
        .max_size(options.max_size.max(1))
        // Connections open on demand: several servers and test processes share one PostgreSQL,
        // and `max_size` idle connections each would exhaust its `max_connections`. Keeping one
        // makes `build` prove the database answers before start-up goes on.
        .min_idle(Some(1))
        .connection_timeout(options.connection_timeout.max(Duration::from_millis(1)))
}

/// Opens a pool on an SQLite file, creating the file if needed.
///
/// # Errors
/// [`InfraError::Pool`] when no connection can be opened within the timeout.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite(url: &str, options: &PoolOptions) -> Result<SqlitePool, InfraError> {
    Ok(builder(options)
        .connection_customizer(Box::new(SqlitePragmas))
        .build(ConnectionManager::new(url))?)
}

/// Opens a pool on a PostgreSQL database.
///
/// # Errors
/// [`InfraError::Pool`] when no connection can be opened within the timeout.
#[cfg(feature = "postgres")]
pub(crate) fn postgres(url: &str, options: &PoolOptions) -> Result<PgPool, InfraError> {
    let mut builder = builder(options);
    if !options.statement_cache {
        builder = builder.connection_customizer(Box::new(NoStatementCache));
    }
    Ok(builder.build(ConnectionManager::new(url))?)
}

/// Turns diesel's prepared statement cache off on each new PostgreSQL connection.
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, Copy)]
struct NoStatementCache;

#[cfg(feature = "postgres")]
impl r2d2::CustomizeConnection<PgConnection, diesel::r2d2::Error> for NoStatementCache {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        use diesel::connection::{CacheSize, Connection};
        conn.set_prepared_statement_cache_size(CacheSize::Disabled);
        Ok(())
    }
}

/// Per-connection SQLite settings (PRAGMAs other than `journal_mode` do not persist in the file).
#[cfg(feature = "sqlite")]
#[derive(Debug, Clone, Copy)]
struct SqlitePragmas;

#[cfg(feature = "sqlite")]
impl r2d2::CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // busy_timeout first: switching the file to WAL needs a lock another process may hold.
        // WAL lets readers run beside the one writer; NORMAL sync is durable enough in WAL mode
        // (a power cut may lose the last commits, never corrupts); SQLite leaves foreign keys
        // off unless asked, per connection. journal_size_limit: a WAL that once grew large is
        // cut back when it restarts instead of keeping its peak size on disk.
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA journal_size_limit = {SQLITE_JOURNAL_SIZE_LIMIT};"
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}
