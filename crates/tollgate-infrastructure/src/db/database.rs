use std::fmt;
#[cfg(feature = "sqlite")]
use std::sync::Arc;

use diesel::RunQueryDsl;

use super::migrations::{self, Step};
use super::pool::{self, Pool, PoolOptions};
#[cfg(feature = "sqlite")]
use super::sqlite_file;
use super::url::{self, Target};
use super::{
    DieselClientStore, DieselDpopReplayCache, DieselLoginThrottle, DieselSecurityEventStore,
    DieselSessionStore, DieselUserStore,
};
use crate::InfraError;

/// The storage backends this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (`sqlite://<path>`).
    Sqlite,
    /// A PostgreSQL server (`postgres://…`).
    Postgres,
}

/// A pool of connections to the database a URL names. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    /// SQLite: writers of this process take turns here before asking SQLite for its write lock.
    /// SQLite has one writer at a time anyway; queueing on SQLite's busy handler instead means
    /// sleeping and polling (1 to 100 ms steps), which made the tail latency of concurrent
    /// refreshes, and the WAL checkpoint, starve behind luckier writers. This lock only orders
    /// writers: races are still settled by the database (`BEGIN IMMEDIATE` and the conditional
    /// UPDATE), and other processes on the same file still wait on the busy timeout.
    /// parking_lot's mutex, because it is eventually fair: std's lets a thread that just unlocked
    /// take the lock again ahead of the waiters, and with 32 busy refreshers the purge (which
    /// pauses between its batches) got almost no turns and fell behind the inserts.
    #[cfg(feature = "sqlite")]
    writers: Arc<parking_lot::Mutex<()>>,
}

impl Database {
    /// Opens the database at `url` and applies pending embedded migrations.
    ///
    /// `url` is `sqlite://<path>` (relative to the working directory, or absolute as in
    /// `sqlite:///var/lib/tollgate.db`; the file and its directory are created if missing, with
    /// modes 0600 and 0700) or `postgres://…` /
    /// `postgresql://…` (anything libpq accepts, e.g. `?options=-csearch_path%3Dtenant`).
    /// Migrations run under a lock, so several processes may start on one database at once.
    ///
    /// # Errors
    /// [`InfraError::UnsupportedDatabase`] for an unknown scheme or one whose backend this
    /// build lacks (naming the missing cargo feature), [`InfraError::InsecureFile`] for an SQLite
    /// file group or others can read, [`InfraError::Pool`] when no connection
    /// opens within `options.connection_timeout`, [`InfraError::Migration`] when migrating fails.
    pub fn connect(url: &str, options: &PoolOptions) -> Result<Self, InfraError> {
        let pool = match url::parse(url)? {
            #[cfg(feature = "sqlite")]
            Target::Sqlite(url) => {
                sqlite_file::prepare(&url)?;
                Pool::Sqlite(pool::sqlite(&url, options)?)
            }
            #[cfg(feature = "postgres")]
            Target::Postgres(url) => Pool::Postgres(pool::postgres(&url, options)?),
        };
        let db = Self {
            pool,
            #[cfg(feature = "sqlite")]
            writers: Arc::default(),
        };
        let applied = db.run_pending_migrations()?;
        if !applied.is_empty() {
            tracing::info!(backend = ?db.backend(), migrations = ?applied, "applied migrations");
        }
        Ok(db)
    }

    /// Which backend this database is.
    pub fn backend(&self) -> Backend {
        match self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// One round trip to the database (`SELECT 1`), for readiness checks.
    ///
    /// # Errors
    /// [`InfraError::Pool`] when no connection is available, [`InfraError::Database`] when the
    /// query fails.
    pub fn ping(&self) -> Result<(), InfraError> {
        db_run!(self, |conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
    }

    /// Round trips the pool has run so far to check a connection before handing it out: none
    /// while every connection works, one per pooled connection after a connection was found
    /// lost (see the pool's `Manager`). For tests.
    #[cfg(feature = "test-support")]
    pub fn connection_checks(&self) -> u64 {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => pool.connection_checks(),
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => pool.connection_checks(),
        }
    }

    /// The user store on this database.
    pub fn user_store(&self) -> DieselUserStore {
        DieselUserStore::new(self.clone())
    }

    /// The session (token family) store on this database.
    pub fn session_store(&self) -> DieselSessionStore {
        DieselSessionStore::new(self.clone())
    }

    /// The session store for a host that keeps its users in its own table (its own
    /// `UserStore`). The only difference: a login's family is checked, in the transaction that
    /// stores it, against the user's cut-off in Tollgate's `session_cutoffs` table instead of
    /// Tollgate's `users` row (there is none). The host raises the cut-off by calling
    /// `SessionStore::revoke_user_families` after it changes a user's password or disables or
    /// deletes the user: a login that read the user before that call then stores no family,
    /// and one that stored it before is revoked by it.
    ///
    /// The cut-off is an instant from the host's clock compared with one from the login's
    /// clock: across processes their clocks must agree to better than the time between a
    /// host's change and its `revoke_user_families` call.
    pub fn session_store_for_external_users(&self) -> DieselSessionStore {
        DieselSessionStore::for_external_users(self.clone())
    }

    /// The OAuth client store on this database.
    pub fn client_store(&self) -> DieselClientStore {
        DieselClientStore::new(self.clone())
    }

    /// The failed-login counters on this database.
    pub fn login_throttle(&self) -> DieselLoginThrottle {
        DieselLoginThrottle::new(self.clone())
    }

    /// The DPoP replay cache on this database (every process sharing it sees each proof once).
    pub fn dpop_replay_cache(&self) -> DieselDpopReplayCache {
        DieselDpopReplayCache::new(self.clone())
    }

    /// The security event trail on this database.
    pub fn security_event_store(&self) -> DieselSecurityEventStore {
        DieselSecurityEventStore::new(self.clone())
    }

    /// Applies every pending embedded migration (as [`Database::connect`] does); returns the
    /// versions applied, oldest first.
    ///
    /// # Errors
    /// [`InfraError::Pool`] when no connection is available, [`InfraError::Migration`] when a
    /// migration fails (nothing of this call stays applied).
    pub fn run_pending_migrations(&self) -> Result<Vec<String>, InfraError> {
        migrations::perform(&self.pool, Step::RunPending)
    }

    /// Reverts every applied migration, dropping all tables and data; returns the versions
    /// reverted, newest first. For tests and for operators tearing a database down.
    ///
    /// # Errors
    /// [`InfraError::Pool`] when no connection is available, [`InfraError::Migration`] when a
    /// revert fails (nothing of this call stays reverted).
    pub fn revert_all_migrations(&self) -> Result<Vec<String>, InfraError> {
        migrations::perform(&self.pool, Step::RevertAll)
    }

    /// The versions of the applied migrations, newest first.
    ///
    /// # Errors
    /// [`InfraError::Pool`] when no connection is available, [`InfraError::Migration`] when the
    /// bookkeeping table cannot be read.
    pub fn applied_migrations(&self) -> Result<Vec<String>, InfraError> {
        migrations::perform(&self.pool, Step::ListApplied)
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// This process's turn to write (SQLite; see `writers`), held until the guard drops.
    #[cfg(feature = "sqlite")]
    pub(crate) fn writer_turn(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.writers.lock()
    }

    /// Runs `f` on a pooled SQLite connection during this process's turn to write. The turn is
    /// taken before the connection, in the same order as `db_write!`, so the two cannot deadlock.
    #[cfg(feature = "sqlite")]
    pub(crate) fn with_sqlite_writer<T>(
        &self,
        pool: &super::pool::SqlitePool,
        f: impl FnOnce(&mut diesel::sqlite::SqliteConnection) -> Result<T, InfraError>,
    ) -> Result<T, InfraError> {
        let _turn = self.writer_turn();
        pool::with_connection(pool, f)
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pool's manager holds the URL, which may carry a password.
        f.debug_struct("Database")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}
