//! The [`Readiness`] adapter: a database round trip and a usable signing key.

use std::sync::Arc;

use tollgate_application::{Clock, NotReady, Readiness};
use tollgate_infrastructure::db::Database;
use tollgate_infrastructure::jwt::JwtCodec;

/// Checks what every token request needs.
pub struct ServiceReadiness {
    database: Database,
    keys: Arc<JwtCodec>,
    clock: Arc<dyn Clock>,
}

impl ServiceReadiness {
    /// Checks `database` and the signing key `keys` signs with now, at the time `clock` gives.
    pub fn new(database: Database, keys: Arc<JwtCodec>, clock: Arc<dyn Clock>) -> Self {
        Self {
            database,
            keys,
            clock,
        }
    }
}

impl Readiness for ServiceReadiness {
    fn check(&self) -> Result<(), NotReady> {
        // The key first: it costs no I/O.
        let now = self.clock.now();
        let keys = self.keys.key_set();
        let signing = keys.signing();
        if signing.retired_at().is_some_and(|at| at <= now) {
            return Err(NotReady::SigningKey);
        }
        self.database.ping().map_err(|e| {
            tracing::debug!(error = %e, "readiness: database round trip failed");
            NotReady::Database
        })
    }
}
