//! Builds every adapter from the settings and plugs them into the ports.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use tollgate_application::{
    Clock, Ports, RequestOrigin, SecurityEvent, SecurityEventKind, SecurityEvents,
};
use tollgate_domain::TokenPolicy;
use tollgate_infrastructure::db::{Database, PoolOptions};
use tollgate_infrastructure::jwt::{JwtCodec, KeyDirectory, KeySet, SigningSchedule};
use tollgate_infrastructure::{
    Argon2Hasher, Argon2Params, FanOutSecurityEvents, LogSecurityEvents, RandomIds, Sha256Secrets,
    SystemClock,
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
    /// Signs and verifies with the key set of the moment (swapped by rescans).
    pub codec: Arc<JwtCodec>,
    /// The key directory behind `codec`, to rescan.
    pub key_directory: Arc<KeyDirectory>,
    /// The token rules in force.
    pub policy: Arc<TokenPolicy>,
    /// The metrics every port here feeds (`/metrics`).
    pub metrics: Arc<PrometheusMetrics>,
}

impl Services {
    /// The key set signed and verified with now.
    pub fn keys(&self) -> Arc<KeySet> {
        self.codec.key_set()
    }
}

/// The issuer the administration commands build their policy with. They sign no token, so it is
/// never seen; the lifetimes, which they do use (key trust windows), come from the settings.
pub(crate) const COMMAND_LINE_ISSUER: &str = "http://localhost";

/// Where an administration command that does not open the other services (`tollgate keys`)
/// reports security events: the database's trail and the log, or only the log (with a warning)
/// when the database cannot be opened, so key rotation still works during a database outage.
pub(crate) fn command_line_events(settings: &Settings) -> Arc<dyn SecurityEvents> {
    match Database::connect(&settings.database_url(), &PoolOptions::default()) {
        Ok(db) => Arc::new(FanOutSecurityEvents::new(Arc::new(
            db.security_event_store(),
        ))),
        Err(e) => {
            tracing::warn!(error = %e, "database unavailable; this key change is logged only, not stored as a security event");
            Arc::new(LogSecurityEvents)
        }
    }
}

/// The services of an administration command (`tollgate user …`, `client …`, `sessions …`):
/// the system clock and [`COMMAND_LINE_ISSUER`]. Blocking.
///
/// # Errors
/// As [`open_services`].
pub(crate) fn open_command_services(settings: &Settings) -> Result<Services, ServerError> {
    open(
        settings,
        COMMAND_LINE_ISSUER,
        Arc::new(SystemClock),
        None,
        Checkpoints::Sqlite,
    )
}

/// Who checkpoints an SQLite WAL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checkpoints {
    /// SQLite itself, in the commit that crosses 1,000 pages (and when the last connection
    /// closes): commands, which run no background tasks.
    Sqlite,
    /// `serve`'s checkpoint task, when `database.wal_checkpoint_ms` is not 0.
    Serve,
}

impl Checkpoints {
    /// [`PoolOptions::sqlite_auto_checkpoint`]: off only where the checkpoint task will run.
    fn sqlite_auto_checkpoint(self, settings: &Settings) -> bool {
        self == Self::Sqlite || settings.database.wal_checkpoint_ms == 0
    }
}

/// Opens the database (applying migrations), loads or creates the keys (publishing a new key
/// `publish_ahead` before it signs; `keys.publish_ahead` when `None`) and builds the ports.
/// Blocking.
///
/// For `serve`: with `database.wal_checkpoint_ms` above 0 an SQLite WAL is left to the
/// checkpoint task `serve` starts ([`Database::checkpoint_wal`]), so a caller that does not
/// run that task should checkpoint the same way.
///
/// # Errors
/// [`ServerError`] when a setting is invalid or an adapter cannot start.
pub fn open_services(
    settings: &Settings,
    default_issuer: &str,
    clock: Arc<dyn Clock>,
    publish_ahead: Option<chrono::Duration>,
) -> Result<Services, ServerError> {
    open(
        settings,
        default_issuer,
        clock,
        publish_ahead,
        Checkpoints::Serve,
    )
}

fn open(
    settings: &Settings,
    default_issuer: &str,
    clock: Arc<dyn Clock>,
    publish_ahead: Option<chrono::Duration>,
    checkpoints: Checkpoints,
) -> Result<Services, ServerError> {
    let policy = Arc::new(settings.token_policy(default_issuer)?);
    let database = Database::connect(
        &settings.database_url(),
        &PoolOptions {
            max_size: settings.database.pool_size,
            connection_timeout: StdDuration::from_secs(settings.database.connect_timeout),
            statement_cache: settings.database.statement_cache,
            sqlite_auto_checkpoint: checkpoints.sqlite_auto_checkpoint(settings),
        },
    )?;
    // Checked here too (the key set refuses them as well) so that every exposed secret file is
    // reported the same way: one line with the `chmod` that fixes it.
    tollgate_infrastructure::files::ensure_private_keys(&settings.keys_dir())?;
    let publish_ahead = publish_ahead.map_or_else(|| settings.publish_ahead(), Ok)?;
    // Generated here (under the directory's lock) when no key can sign, so the event is
    // recorded; the codec's rescans generate one too when every key was retired.
    let (keys, generated) = KeySet::open_reporting(
        &settings.keys_dir(),
        settings.tokens.algorithm,
        Some(SigningSchedule {
            now: clock.now(),
            publish_ahead,
        }),
    )?;
    // The JWKS and verification share one codec, so a key is published exactly while it verifies.
    let codec = Arc::new(
        JwtCodec::for_policy(Arc::new(keys), &policy)
            .with_trust_window(settings.key_trust_window(&policy)?),
    );
    let key_directory = Arc::new(KeyDirectory::new(
        &settings.keys_dir(),
        settings.tokens.algorithm,
        publish_ahead,
        codec.clone(),
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
        codec.clone(),
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
        public_keys: codec.clone(),
        hasher,
        // Stored in the database and logged (FanOutSecurityEvents); counted on the way.
        events: Arc::new(CountingEvents::new(
            Arc::new(FanOutSecurityEvents::new(Arc::new(
                database.security_event_store(),
            ))),
            metrics.clone(),
        )),
        clients: Arc::new(database.client_store()),
        secrets: Arc::new(Sha256Secrets),
        throttle: Arc::new(database.login_throttle()),
    };
    if let Some(key) = generated {
        ports.events.record(&SecurityEvent {
            at: ports.clock.now(),
            origin: RequestOrigin::default(),
            kind: SecurityEventKind::KeyGenerated {
                kid: key.kid().to_owned(),
            },
        });
    }
    Ok(Services {
        ports,
        database,
        codec,
        key_directory,
        policy,
        metrics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_checkpoint_unless_serve_runs_its_checkpoint_task() {
        let mut settings = Settings::default();
        assert!(Checkpoints::Sqlite.sqlite_auto_checkpoint(&settings));
        assert!(!Checkpoints::Serve.sqlite_auto_checkpoint(&settings));
        settings.database.wal_checkpoint_ms = 0;
        assert!(Checkpoints::Sqlite.sqlite_auto_checkpoint(&settings));
        assert!(Checkpoints::Serve.sqlite_auto_checkpoint(&settings));
    }
}
