//! Embedded migrations, applied under a database-wide lock so several processes may start at once.
//!
//! All pending migrations run inside one outer transaction that first takes the lock: `BEGIN
//! IMMEDIATE` on SQLite, `pg_advisory_xact_lock` on PostgreSQL (the transaction-scoped form of
//! `pg_advisory_lock`, released by the commit or rollback itself, so no error path can leave a
//! pooled connection holding it). A second process waits for the first, then finds nothing
//! pending. diesel runs each migration in a savepoint inside it.

use diesel::migration::{MigrationSource, MigrationVersion};
#[cfg(feature = "postgres")]
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::pool::{with_connection, Pool};
use crate::InfraError;

#[cfg(feature = "sqlite")]
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// An arbitrary constant naming "tollgate schema migrations" among the advisory locks.
#[cfg(feature = "postgres")]
const PG_MIGRATION_LOCK: i64 = 0x746f_6c6c_6761_7465; // "tollgate"

type HarnessResult<T> = diesel::migration::Result<T>;

/// What to do once the lock is held.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    /// Apply every pending migration, oldest first.
    RunPending,
    /// Revert every applied migration, newest first.
    RevertAll,
    /// Only list the applied migrations, newest first.
    ListApplied,
}

/// Performs `step` under the migration lock; returns the versions it applied, reverted or found.
///
/// # Errors
/// [`InfraError::Pool`] when no connection is available, [`InfraError::Migration`] when a
/// migration or the bookkeeping fails (everything done by this call is rolled back).
pub(crate) fn perform(pool: &Pool, step: Step) -> Result<Vec<String>, InfraError> {
    match pool {
        #[cfg(feature = "sqlite")]
        Pool::Sqlite(pool) => with_connection(pool, |conn| {
            conn.immediate_transaction(|conn| apply(conn, SQLITE, step))
                .map_err(migration_error)
        }),
        #[cfg(feature = "postgres")]
        Pool::Postgres(pool) => with_connection(pool, |conn| {
            conn.transaction(|conn| {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                    .bind::<diesel::sql_types::BigInt, _>(PG_MIGRATION_LOCK)
                    .execute(conn)?;
                apply(conn, POSTGRES, step)
            })
            .map_err(migration_error)
        }),
    }
}

fn apply<DB, C, S>(conn: &mut C, source: S, step: Step) -> HarnessResult<Vec<String>>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    S: MigrationSource<DB>,
{
    let versions = match step {
        Step::RunPending => conn.run_pending_migrations(source)?,
        Step::RevertAll => conn.revert_all_migrations(source)?,
        Step::ListApplied => conn.applied_migrations()?,
    };
    Ok(versions.iter().map(MigrationVersion::to_string).collect())
}

fn migration_error(e: Box<dyn std::error::Error + Send + Sync>) -> InfraError {
    InfraError::Migration(e.to_string())
}
