//! Storage: diesel stores for SQLite and PostgreSQL behind one [`Database`] handle.
//!
//! The backend is chosen at run time by the URL scheme among those compiled in (features
//! `sqlite`, `postgres`). Every query is written once: the `db_run!` / `db_write!` macros expand
//! the same diesel code for each backend's connection type, and the custom column types in
//! `types` let one `table!` schema mean `uuid` / `timestamptz` on PostgreSQL and TEXT / INTEGER
//! on SQLite. All calls block; run them on a blocking thread pool.

use crate::InfraError;

#[macro_use]
mod macros;
mod client_store;
mod database;
mod dpop_store;
mod event_store;
mod migrations;
mod pool;
mod purge;
pub(crate) mod rows;
pub(crate) mod schema;
#[cfg(feature = "test-support")]
mod seed;
mod session_store;
#[cfg(feature = "sqlite")]
mod sqlite_file;
mod stats;
mod throttle_store;
pub(crate) mod types;
mod url;
mod user_store;

pub use client_store::DieselClientStore;
pub use database::{Backend, Database};
pub use dpop_store::DieselDpopReplayCache;
pub use event_store::DieselSecurityEventStore;
pub use pool::PoolOptions;
pub use purge::{PurgePolicy, PurgeReport};
#[cfg(feature = "test-support")]
pub use seed::SeedFamilies;
pub use session_store::DieselSessionStore;
pub use stats::PoolStats;
pub use throttle_store::DieselLoginThrottle;
pub use user_store::DieselUserStore;

#[cfg(all(feature = "test-support", feature = "postgres"))]
pub(crate) use purge::pg_batch_statements as purge_statements;
#[cfg(all(feature = "test-support", feature = "postgres"))]
pub(crate) use session_store::queries as session_queries;

/// Turns a unique-key violation into the port's documented error, anything else into
/// `Unavailable` / `Unexpected` as [`InfraError`]'s conversion decides.
fn on_unique_violation(
    e: InfraError,
    documented: tollgate_application::Error,
) -> tollgate_application::Error {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    match e {
        InfraError::Database(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            documented
        }
        other => other.into(),
    }
}
