//! Builds every adapter from the settings and plugs them into the ports.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use tollgate_application::{Clock, Ports};
use tollgate_domain::TokenPolicy;
use tollgate_infrastructure::db::{Database, PoolOptions};
use tollgate_infrastructure::jwt::{JwtCodec, KeySet};
use tollgate_infrastructure::{
    Argon2Hasher, Argon2Params, LogSecurityEvents, RandomIds, Sha256Secrets, SystemClock,
};

use crate::operations::{CountingEvents, CountingSessions, PrometheusMetrics};
use crate::{ServerError, Settings};

/// The opened adapters, ready for the use cases.
#[derive(Clone)]
pub struct Services {
    /// Every port, wired.
    pub ports: Ports,
    /// The database (for readiness checks and administration).
    pub database: Database,
    /// The signing and verification keys.
    pub keys: Arc<KeySet>,
    /// The token rules in force.
    pub policy: Arc<TokenPolicy>,
    /// The metrics every port here feeds (`/metrics`).
    pub metrics: Arc<PrometheusMetrics>,
}

/// The issuer the administration commands build their policy with. They sign no token, so it is
/// never seen; the lifetimes, which they do use (key trust windows), come from the settings.
pub(crate) const COMMAND_LINE_ISSUER: &str = "http://localhost";

/// The services of an administration command (`tollgate user …`, `client …`, `sessions …`):
/// the system clock and [`COMMAND_LINE_ISSUER`]. Blocking.
///
/// # Errors
/// As [`open_services`].
pub(crate) fn open_command_services(settings: &Settings) -> Result<Services, ServerError> {
    open_services(settings, COMMAND_LINE_ISSUER, Arc::new(SystemClock))
}

/// Opens the database (applying migrations), loads or creates the keys and builds the ports.
/// Blocking.
///
/// # Errors
/// [`ServerError`] when a setting is invalid or an adapter cannot start.
pub fn open_services(
    settings: &Settings,
    default_issuer: &str,
    clock: Arc<dyn Clock>,
) -> Result<Services, ServerError> {
    let policy = Arc::new(settings.token_policy(default_issuer)?);
    let database = Database::connect(
        &settings.database_url(),
        &PoolOptions {
            max_size: settings.database.pool_size,
            connection_timeout: StdDuration::from_secs(settings.database.connect_timeout),
            statement_cache: settings.database.statement_cache,
        },
    )?;
    // Checked here too (the key set refuses them as well) so that every exposed secret file is
    // reported the same way: one line with the `chmod` that fixes it.
    tollgate_infrastructure::files::ensure_private_keys(&settings.keys_dir())?;
    let keys = Arc::new(KeySet::load_or_generate_with(
        &settings.keys_dir(),
        settings.tokens.algorithm,
    )?);
    // The JWKS and verification share one codec, so a key is published exactly while it verifies.
    let codec = Arc::new(JwtCodec::for_policy(
        keys.clone(),
        &policy,
        settings.leeway(),
    ));
    // One Argon2 buffer per hashing permit: the web layer lets `max_concurrent_hashes` logins
    // hash at once, and the hasher keeps exactly that many buffers, allocated once and reused.
    let hasher = Arc::new(Argon2Hasher::with_slots(
        Argon2Params {
            memory_kib: settings.password.memory_kib,
            iterations: settings.password.iterations,
            parallelism: settings.password.parallelism,
        },
        settings.max_concurrent_hashes(),
    )?);
    let metrics = Arc::new(PrometheusMetrics::new(
        database.clone(),
        keys.clone(),
        clock.clone(),
    ));
    let ports = Ports {
        clock,
        ids: Arc::new(RandomIds),
        users: Arc::new(database.user_store()),
        sessions: Arc::new(CountingSessions::new(
            Arc::new(database.session_store()),
            metrics.clone(),
        )),
        signer: codec.clone(),
        verifier: codec.clone(),
        public_keys: codec,
        hasher,
        events: Arc::new(CountingEvents::new(
            Arc::new(LogSecurityEvents),
            metrics.clone(),
        )),
        clients: Arc::new(database.client_store()),
        secrets: Arc::new(Sha256Secrets),
        throttle: Arc::new(database.login_throttle()),
    };
    Ok(Services {
        ports,
        database,
        keys,
        policy,
        metrics,
    })
}
