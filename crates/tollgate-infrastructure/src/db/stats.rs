//! Figures about the database for metrics: pool occupancy and live families.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::pool::Pool;
use super::schema::token_families;
use super::types::DbTime;
use super::Database;
use crate::InfraError;

/// Connections of the pool at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (in use plus idle).
    pub connections: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
}

impl PoolStats {
    /// Connections checked out by a request right now.
    pub fn in_use(&self) -> u32 {
        self.connections.saturating_sub(self.idle)
    }
}

impl Database {
    /// The pool's connections now. No I/O.
    pub fn pool_stats(&self) -> PoolStats {
        let state = match self.pool() {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => pool.state(),
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => pool.state(),
        };
        PoolStats {
            connections: state.connections,
            idle: state.idle_connections,
        }
    }

    /// Families neither revoked nor past their absolute end at `now` (an upper bound on the
    /// sessions that can still refresh: one whose latest token expired counts until purged).
    ///
    /// # Errors
    /// [`InfraError::Pool`] when no connection is available, [`InfraError::Database`] when the
    /// query fails.
    pub fn count_live_families(&self, now: DateTime<Utc>) -> Result<u64, InfraError> {
        let count: i64 = db_run!(self, |conn| {
            Ok(token_families::table
                .filter(token_families::revoked_at.is_null())
                .filter(token_families::expires_at.gt(DbTime(now)))
                .count()
                .get_result(conn)?)
        })?;
        // COUNT(*) is never negative.
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
