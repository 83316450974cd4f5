//! Connection pools, one variant per compiled-in backend.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "postgres")]
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, ManageConnection, R2D2Connection};
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
    /// SQLite: the commit that takes the WAL past 1,000 pages checkpoints it (SQLite's own
    /// default). Turn it off only where something else checkpoints regularly, as `serve` does
    /// with [`Database::checkpoint_wal`](super::Database::checkpoint_wal) every
    /// `database.wal_checkpoint_ms`: then no request pays for copying the WAL inside its commit
    /// while the requests behind it wait for the write lock. Without such a task a WAL with
    /// this off grows until the last connection closes.
    pub sqlite_auto_checkpoint: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            connection_timeout: Duration::from_secs(5),
            statement_cache: true,
            sqlite_auto_checkpoint: true,
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
pub(crate) type SqlitePool = ConnectionPool<SqliteConnection>;
#[cfg(feature = "postgres")]
pub(crate) type PgPool = ConnectionPool<PgConnection>;

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

/// One backend's r2d2 pool and what its connections have shown of the server's health.
///
/// A checkout costs no round trip while every connection works. r2d2's usual check (diesel's
/// `SELECT 1` on every checkout) added one to every store call. It is what made a pool
/// recover at once when the server restarted (every pooled connection dies together), so
/// the check remains, but only for connections that may be dead: when a statement fails
/// because its connection is gone, that connection is dropped on return, and every other
/// connection is checked once before it is handed out again ([`Manager`]). A restart then
/// costs each request in flight at most one failure, answered as storage unavailable
/// (`503`, retryable); nothing is retried here, since a write whose commit went unanswered
/// must not run twice.
pub(crate) struct ConnectionPool<C: R2D2Connection + 'static> {
    pool: r2d2::Pool<Manager<C>>,
    health: Arc<Health>,
}

// Derived `Clone` would demand `C: Clone`; a clone shares the pool.
impl<C: R2D2Connection + 'static> Clone for ConnectionPool<C> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            health: Arc::clone(&self.health),
        }
    }
}

impl<C: R2D2Connection + 'static> ConnectionPool<C> {
    /// The pool's connections now (no I/O).
    pub(crate) fn state(&self) -> r2d2::State {
        self.pool.state()
    }

    /// Round trips run so far to check a connection on checkout.
    #[cfg(any(test, feature = "test-support"))]
    pub(crate) fn connection_checks(&self) -> u64 {
        self.health.checks.load(Ordering::Relaxed)
    }
}

/// What the connections of one pool have shown about the server, shared by the pool's manager
/// and every checkout.
#[derive(Debug, Default)]
struct Health {
    /// Raised each time a statement failed because its connection was gone. A connection last
    /// known alive under an older value (opened or checked before the loss) may be dead too.
    losses: AtomicU64,
    /// Checks run on checkout (round trips), for tests.
    checks: AtomicU64,
}

impl Health {
    fn connection_lost(&self) {
        self.losses.fetch_add(1, Ordering::AcqRel);
    }
}

/// A pooled connection and what is known of it.
pub(crate) struct Checked<C> {
    conn: C,
    /// The value of [`Health::losses`] when this connection was last known to work.
    alive_at: u64,
    /// A statement on it failed because the connection is gone: r2d2 drops it on return.
    lost: bool,
}

/// diesel's [`ConnectionManager`] with a checkout check that runs only when a connection may be
/// dead: once per connection after each connection loss the pool has seen.
///
/// Why not the alternatives: diesel's own `is_broken` says only whether a transaction was left
/// open or its manager is in error, and a killed connection that failed on `BEGIN` or outside
/// a transaction is neither, so without help it would go back to the pool and fail every
/// request it is handed to. Dropping just the connection that failed (`lost`) costs one failed
/// request per dead connection, up to the pool size, one after the other. Checking connections
/// that sat idle for some seconds, or for some seconds after a failure, puts a clock in the
/// decision, and a dead connection used within the window still fails its request. Counting
/// losses is exact: every connection that was alive before the latest loss is checked once
/// before it is handed out, and never again while nothing fails.
pub(crate) struct Manager<C: R2D2Connection + 'static> {
    inner: ConnectionManager<C>,
    health: Arc<Health>,
}

impl<C: R2D2Connection + Send + 'static> ManageConnection for Manager<C> {
    type Connection = Checked<C>;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Checked<C>, Self::Error> {
        // Read before connecting: a loss reported meanwhile leaves the new connection one check
        // behind, never ahead.
        let alive_at = self.health.losses.load(Ordering::Acquire);
        Ok(Checked {
            conn: self.inner.connect()?,
            alive_at,
            lost: false,
        })
    }

    fn is_valid(&self, conn: &mut Checked<C>) -> Result<(), Self::Error> {
        let losses = self.health.losses.load(Ordering::Acquire);
        if conn.alive_at == losses {
            return Ok(());
        }
        self.health.checks.fetch_add(1, Ordering::Relaxed);
        // On failure r2d2 drops the connection and tries the next idle one or opens one.
        conn.conn.ping().map_err(diesel::r2d2::Error::QueryError)?;
        conn.alive_at = losses;
        Ok(())
    }

    fn has_broken(&self, conn: &mut Checked<C>) -> bool {
        conn.lost || self.inner.has_broken(&mut conn.conn)
    }
}

/// Messages of server errors that end the connection, for when they arrive before libpq has
/// seen the socket close (then diesel reports them as `Unknown`, not `ClosedConnection`).
const LOST_CONNECTION_MESSAGES: [&str; 3] = [
    "terminating connection",
    "server closed the connection",
    "connection to server",
];

/// Whether `e` says the connection itself is gone (server process ended, socket closed), not
/// just that one statement failed.
fn is_lost_connection(e: &InfraError) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error as Diesel};
    match e {
        InfraError::Database(Diesel::DatabaseError(
            Kind::ClosedConnection | Kind::UnableToSendCommand,
            _,
        )) => true,
        InfraError::Database(Diesel::DatabaseError(Kind::Unknown, info)) => {
            LOST_CONNECTION_MESSAGES
                .iter()
                .any(|m| info.message().contains(m))
        }
        _ => false,
    }
}

/// Runs `f` on a connection checked out of `pool`. When `f` fails because the connection is
/// gone, the connection is dropped and the pool checks the others before their next use; the
/// error is returned as it is (never retried: `f` may have committed).
pub(crate) fn with_connection<C, T>(
    pool: &ConnectionPool<C>,
    f: impl FnOnce(&mut C) -> Result<T, InfraError>,
) -> Result<T, InfraError>
where
    C: R2D2Connection + 'static,
{
    let mut conn = pool.pool.get()?;
    let result = f(&mut conn.conn);
    if let Err(e) = &result {
        if is_lost_connection(e) {
            conn.lost = true;
            pool.health.connection_lost();
        }
    }
    result
}

fn builder<C: R2D2Connection + 'static>(options: &PoolOptions) -> r2d2::Builder<Manager<C>> {
    // r2d2 panics on a zero size or timeout; settings must not be able to panic the server.
    r2d2::Pool::builder()
        .max_size(options.max_size.max(1))
        // Connections open on demand: several servers and test processes share one PostgreSQL,
        // and `max_size` idle connections each would exhaust its `max_connections`. Keeping one
        // makes `build` prove the database answers before start-up goes on.
        .min_idle(Some(1))
        .connection_timeout(options.connection_timeout.max(Duration::from_millis(1)))
        // The check is `Manager::is_valid`: no I/O unless a connection loss was seen.
        .test_on_check_out(true)
}

fn open<C: R2D2Connection + 'static>(
    url: &str,
    builder: r2d2::Builder<Manager<C>>,
) -> Result<ConnectionPool<C>, InfraError> {
    let health = Arc::new(Health::default());
    let manager = Manager {
        inner: ConnectionManager::new(url),
        health: Arc::clone(&health),
    };
    Ok(ConnectionPool {
        pool: builder.build(manager)?,
        health,
    })
}

/// Opens a pool on an SQLite file, creating the file if needed.
///
/// # Errors
/// [`InfraError::Pool`] when no connection can be opened within the timeout.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite(url: &str, options: &PoolOptions) -> Result<SqlitePool, InfraError> {
    open(
        url,
        builder(options).connection_customizer(Box::new(SqlitePragmas {
            auto_checkpoint: options.sqlite_auto_checkpoint,
        })),
    )
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
    open(url, builder)
}

/// Turns diesel's prepared statement cache off on each new PostgreSQL connection.
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, Copy)]
struct NoStatementCache;

#[cfg(feature = "postgres")]
impl r2d2::CustomizeConnection<Checked<PgConnection>, diesel::r2d2::Error> for NoStatementCache {
    fn on_acquire(&self, conn: &mut Checked<PgConnection>) -> Result<(), diesel::r2d2::Error> {
        use diesel::connection::{CacheSize, Connection};
        conn.conn
            .set_prepared_statement_cache_size(CacheSize::Disabled);
        Ok(())
    }
}

/// Per-connection SQLite settings (PRAGMAs other than `journal_mode` do not persist in the file).
#[cfg(feature = "sqlite")]
#[derive(Debug, Clone, Copy)]
struct SqlitePragmas {
    /// [`PoolOptions::sqlite_auto_checkpoint`].
    auto_checkpoint: bool,
}

#[cfg(feature = "sqlite")]
impl r2d2::CustomizeConnection<Checked<SqliteConnection>, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Checked<SqliteConnection>) -> Result<(), diesel::r2d2::Error> {
        // busy_timeout first: switching the file to WAL needs a lock another process may hold.
        // WAL lets readers run beside the one writer; NORMAL sync is durable enough in WAL mode
        // (a power cut may lose the last commits, never corrupts); SQLite leaves foreign keys
        // off unless asked, per connection. journal_size_limit: a WAL that once grew large is
        // cut back when it restarts instead of keeping its peak size on disk. wal_autocheckpoint:
        // SQLite's 1,000 pages, or 0 (never) when the caller checkpoints by itself.
        let auto_checkpoint_pages = if self.auto_checkpoint { 1000 } else { 0 };
        conn.conn
            .batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA journal_size_limit = {SQLITE_JOURNAL_SIZE_LIMIT};
             PRAGMA wal_autocheckpoint = {auto_checkpoint_pages};"
            ))
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

#[cfg(all(test, feature = "sqlite"))]
// The fixtures are not `#[test]`s themselves, so clippy's test allowance misses them.
#[allow(clippy::unwrap_used)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    use diesel::RunQueryDsl;

    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> InfraError {
        InfraError::Database(DieselError::DatabaseError(
            kind,
            Box::new(message.to_owned()),
        ))
    }

    fn lost() -> InfraError {
        database_error(
            DatabaseErrorKind::ClosedConnection,
            "server closed the connection unexpectedly",
        )
    }

    /// A pool of three open SQLite connections (all idle), and the directory holding its file.
    fn three_connections() -> (tempfile::TempDir, SqlitePool) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("pool.db").display());
        let options = PoolOptions {
            max_size: 3,
            ..PoolOptions::default()
        };
        let pool = sqlite(&url, &options).unwrap();
        let held: Vec<_> = (0..3).map(|_| pool.pool.get().unwrap()).collect();
        drop(held);
        assert_eq!(pool.state().connections, 3);
        (dir, pool)
    }

    fn query(pool: &SqlitePool) {
        with_connection(pool, |conn| {
            diesel::sql_query("SELECT 2").execute(conn)?;
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn checkouts_run_no_check_while_nothing_fails() {
        let (_dir, pool) = three_connections();
        for _ in 0..30 {
            query(&pool);
        }
        // An ordinary failure says nothing about the connection.
        let failed = with_connection(&pool, |_| -> Result<(), _> {
            Err(database_error(DatabaseErrorKind::UniqueViolation, "dup"))
        });
        assert!(failed.is_err());
        query(&pool);
        assert_eq!(pool.connection_checks(), 0);
        assert_eq!(pool.state().connections, 3);
    }

    #[test]
    fn a_lost_connection_is_dropped_and_every_other_checked_once() {
        let (_dir, pool) = three_connections();
        let failed = with_connection(&pool, |_| -> Result<(), _> { Err(lost()) });
        assert!(
            matches!(
                failed,
                Err(InfraError::Database(DieselError::DatabaseError(
                    DatabaseErrorKind::ClosedConnection,
                    _
                )))
            ),
            "the error is returned as it was: {failed:?}"
        );
        assert_eq!(
            pool.state().connections,
            2,
            "the lost connection is dropped"
        );
        let both: Vec<_> = (0..2).map(|_| pool.pool.get().unwrap()).collect();
        drop(both);
        assert_eq!(pool.connection_checks(), 2, "each survivor checked once");
        for _ in 0..10 {
            query(&pool);
        }
        assert_eq!(pool.connection_checks(), 2, "and not again");
        assert_eq!(pool.state().connections, 2);
    }

    #[test]
    fn connection_level_errors_are_told_from_statement_errors() {
        use DatabaseErrorKind as K;
        let lost_ones = [
            database_error(K::ClosedConnection, "no connection to the server"),
            database_error(K::UnableToSendCommand, "could not send data to server"),
            database_error(
                K::Unknown,
                "terminating connection due to administrator command",
            ),
        ];
        for e in &lost_ones {
            assert!(is_lost_connection(e), "{e:?}");
        }
        let others = [
            database_error(K::UniqueViolation, "duplicate key"),
            database_error(K::SerializationFailure, "could not serialize access"),
            database_error(K::Unknown, "database is locked"),
            InfraError::Database(DieselError::NotFound),
            InfraError::Corrupt("x".into()),
        ];
        for e in &others {
            assert!(!is_lost_connection(e), "{e:?}");
        }
    }
}
