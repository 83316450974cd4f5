//! One typed `Settings`: defaults, then an optional TOML file, then `TOLLGATE__SECTION__KEY`
//! environment variables.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use config::{Config, Environment, File, FileFormat};
use ipnet::IpNet;
use serde::{Deserialize, Serialize, Serializer};
use tollgate_domain::{ThrottlePolicy, TokenPolicy};
use tollgate_infrastructure::db::{Backend, PurgePolicy};
use tollgate_infrastructure::jwt::SigningAlgorithm;

use crate::ServerError;

/// Everything the server can be told. Every key is listed in the README's table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where relative paths (SQLite file, key directory) live. Default `data`.
    pub data_dir: PathBuf,
    /// HTTP listener.
    pub server: ServerSettings,
    /// Storage.
    pub database: DatabaseSettings,
    /// Signing keys.
    pub keys: KeySettings,
    /// Token lifetimes and issuer.
    pub tokens: TokenSettings,
    /// Argon2id cost.
    pub password: PasswordSettings,
    /// Client authentication.
    pub auth: AuthSettings,
    /// Optional first user, created at start when absent.
    pub bootstrap: BootstrapSettings,
    /// Deleting sessions nobody can use any more.
    pub purge: PurgeSettings,
    /// Log format and level.
    pub log: LogSettings,
    /// Brute-force throttling of the password grant.
    pub login: LoginSettings,
    /// DPoP proofs (RFC 9449) at the token endpoint.
    pub dpop: DpopSettings,
    /// The security event trail.
    pub audit: AuditSettings,
}

/// `[dpop]`: proof of possession (RFC 9449) at the token endpoint. A login with a valid `DPoP`
/// proof starts a family bound to the proof's key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DpopSettings {
    /// Seconds a proof is accepted after its `iat` (plus `tokens.leeway` either way); its `jti`
    /// is kept in the database as long. 1 to 3600.
    pub max_age: i64,
    /// Refuse logins without a proof (`invalid_dpop_proof`).
    pub required: bool,
    /// Every proof must carry a current server nonce (RFC 9449 §8); one without gets
    /// `use_dpop_nonce` and the nonce in `DPoP-Nonce`. Nonces are derived from a secret in the
    /// key directory, so servers sharing it accept each other's.
    pub require_nonce: bool,
    /// Seconds between nonce rotations; a nonce is accepted for one to two of these. 10 to
    /// 86400.
    pub nonce_lifetime: i64,
}

impl Default for DpopSettings {
    fn default() -> Self {
        Self {
            max_age: tollgate_infrastructure::dpop::DEFAULT_MAX_AGE_SECS,
            required: false,
            require_nonce: false,
            nonce_lifetime: tollgate_infrastructure::dpop::DEFAULT_NONCE_LIFETIME_SECS,
        }
    }
}

/// `[audit]`: the security event trail (`tollgate audit`, docs/SECURITY.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Seconds a security event is kept; older ones go with the purge (`purge.interval`,
    /// `tollgate purge`). `0` keeps them forever. Default 90 days.
    pub keep: i64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            keep: 90 * 24 * 3600,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `human` (default) or `json` (one object per line).
    pub format: LogFormat,
    /// A filter such as `info` or `warn,tollgate::security=info`; `RUST_LOG` and `TOLLGATE_LOG`
    /// win over it. Default `info`.
    pub level: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable text, one line per event.
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address. Default `127.0.0.1:8080`.
    pub bind: String,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Seconds a graceful shutdown waits for requests in flight.
    pub shutdown_timeout: u64,
    /// Serve `GET /metrics` on this address instead of on `bind` (e.g. `127.0.0.1:9090`, kept
    /// off the public listener). Unset: `/metrics` is served on `bind`.
    pub metrics_bind: Option<String>,
    // --- performance (issue 10) ---
    /// Most blocking-pool threads per HTTP worker (storage, signing, Argon2 run there);
    /// 0 keeps actix's default (512 shared out among the workers).
    pub blocking_threads: usize,
    /// Most refresh grants served at once; the others wait their turn in arrival order,
    /// holding no thread. 0 (the default) is one per CPU on SQLite and four per CPU on
    /// PostgreSQL, whose requests also wait on round trips (see `max_concurrent_refreshes()`).
    pub max_concurrent_refreshes: usize,
    /// Seconds a refresh waits for its turn before it is answered 503 with `Retry-After`
    /// (fractions allowed); the token it carries is not spent, so the client may retry it.
    pub refresh_queue_timeout: f64,
    /// Peers (CIDRs, e.g. `10.0.0.0/8`, `::1/128`) whose `X-Forwarded-For` names the client
    /// address. Empty (the default): the socket's peer address is the client address.
    pub trusted_proxies: Vec<String>,
    /// HTTPS (issue 7): both files set ⇒ `serve` speaks TLS 1.2+ only.
    pub tls: TlsSettings,
}

/// `[server.tls]`: a PEM certificate chain and its private key; relative paths are under
/// `data_dir`. Both or neither.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// Certificate chain (PEM), leaf first.
    pub cert: Option<PathBuf>,
    /// Private key (PEM), mode 0600 or stricter.
    pub key: Option<PathBuf>,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (relative paths are under `data_dir`) or `postgres://…`.
    pub url: String,
    /// Most connections in the pool.
    pub pool_size: u32,
    /// Seconds to wait for a pooled connection before answering 503.
    pub connect_timeout: u64,
    /// SQLite only: milliseconds between checkpoints that empty the WAL file (0 = never; SQLite's
    /// own checkpoints then cannot finish under steady concurrent load and the WAL keeps growing).
    pub wal_checkpoint_ms: u64,
    /// PostgreSQL: keep prepared statements per connection; `false` behind PgBouncer in
    /// transaction pooling mode.
    pub statement_cache: bool,
}

/// `[keys]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeySettings {
    /// Directory of key pairs (relative paths are under `data_dir`); a key is generated when empty.
    pub dir: PathBuf,
    /// Seconds between rescans of `dir` by a running server (a rescan also happens at once on
    /// SIGHUP); 1 to 86400.
    pub rescan_interval: u64,
    /// Seconds a new key is published in the JWKS before any server signs with it; at least
    /// `jwks_max_age`.
    pub publish_ahead: u64,
    /// The JWKS `Cache-Control: max-age`, in seconds; 1 to 86400.
    pub jwks_max_age: u32,
}

/// `[tokens]`; every duration is in seconds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// `iss` of every token; empty means `http://<bound address>`.
    pub issuer: String,
    /// Access token lifetime.
    pub access_ttl: i64,
    /// Refresh token lifetime (`short_term_expiration: "True"`).
    pub refresh_ttl: i64,
    /// Refresh token lifetime with `longLivedRefreshToken=true`.
    pub refresh_long_ttl: i64,
    /// Absolute family lifetime from login.
    pub family_max_lifetime: i64,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: i64,
    /// Retry grace after a rotation (0 to 60; 0 = off, API.md §3).
    pub reuse_grace: i64,
    /// Algorithm of newly generated signing keys (`RS512`, `ES256`, `EdDSA`); every key keeps
    /// its own, so old tokens verify across a change.
    pub algorithm: SigningAlgorithm,
}

/// `[auth]`: client authentication (API.md §6).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Every token and revocation request must authenticate a configured client.
    pub require_client: bool,
}

/// `[password]`: Argon2id parameters.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    /// Memory in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Passes (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
    /// Most password hashes computed at once (each takes `memory_kib`); 0 means one per CPU.
    pub max_concurrent_hashes: usize,
    /// Seconds a login waits for a hashing slot before it is answered 503 (fractions allowed).
    pub queue_timeout: f64,
}

/// `[login]`: brute-force throttling (RFC 6749 §4.3.2), counted in the database per login name
/// and per client address.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginSettings {
    /// Failed logins allowed per name or address before any delay.
    pub max_failures: u32,
    /// Seconds blocked after the first failure beyond `max_failures`; doubles per failure.
    pub base_delay: u64,
    /// Longest block, in seconds.
    pub max_delay: u64,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            max_failures: 5,
            base_delay: 1,
            max_delay: 15 * 60,
        }
    }
}

/// `[bootstrap]`: a first user for a fresh install.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapSettings {
    /// Login name of the first user.
    pub user: Option<String>,
    /// Its password.
    pub password: Option<SecretString>,
}

/// `[purge]`: deleting token families and tokens nobody can use any more (API.md §5).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PurgeSettings {
    /// Seconds between purges in `serve` (0 = none; `tollgate purge` from cron instead).
    pub interval: u64,
    /// Seconds a revoked family is kept after its revocation, so reuse of its tokens is still
    /// recognised (and reported) for a while.
    pub keep_revoked: i64,
    /// Most families (or spent tokens) deleted per transaction: small batches keep the write
    /// lock short, so refreshes keep being answered during a large purge.
    pub batch: u32,
}

impl Default for PurgeSettings {
    fn default() -> Self {
        Self {
            interval: 600,
            keep_revoked: 7 * 24 * 3600,
            batch: 500,
        }
    }
}

/// A string that never shows in `Debug` output.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Serialized only by `tollgate config show`, which must never print a secret.
impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            keys: KeySettings::default(),
            tokens: TokenSettings::default(),
            password: PasswordSettings::default(),
            auth: AuthSettings::default(),
            bootstrap: BootstrapSettings::default(),
            purge: PurgeSettings::default(),
            log: LogSettings::default(),
            login: LoginSettings::default(),
            dpop: DpopSettings::default(),
            audit: AuditSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            workers: 0,
            max_body_bytes: 16 * 1024,
            shutdown_timeout: 10,
            metrics_bind: None,
            blocking_threads: 0,
            max_concurrent_refreshes: 0,
            refresh_queue_timeout: 2.0,
            trusted_proxies: Vec::new(),
            tls: TlsSettings::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://tollgate.db".into(),
            pool_size: 10,
            connect_timeout: 5,
            // Each checkpoint ends with a step in the writer turn (what was committed during
            // its first step, and the syncs of the WAL and the database file): ~5 ms at 250 ms,
            // when p99/mean crept to 1.55 on a server that had run a while; at 100 ms, 1.32–1.47
            // for 7% more bytes written (BENCHMARKS.md).
            wal_checkpoint_ms: 100,
            statement_cache: true,
        }
    }
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("keys"),
            rescan_interval: 60,
            publish_ahead: 3600,
            jwks_max_age: tollgate_web::JWKS_MAX_AGE_SECONDS,
        }
    }
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            access_ttl: 15 * 60,
            refresh_ttl: 24 * 3600,
            refresh_long_ttl: 14 * 24 * 3600,
            family_max_lifetime: 90 * 24 * 3600,
            leeway: 30,
            reuse_grace: 0,
            algorithm: SigningAlgorithm::default(),
        }
    }
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_concurrent_hashes: 0,
            queue_timeout: 2.0,
        }
    }
}

/// The settings file: `path`, or `./tollgate.toml` when it exists.
pub(crate) fn file_source(path: Option<&Path>) -> File<config::FileSourceFile, FileFormat> {
    match path {
        Some(p) => File::from(p).format(FileFormat::Toml).required(true),
        None => File::new("tollgate", FileFormat::Toml).required(false),
    }
}

/// `TOLLGATE__SECTION__KEY` variables.
pub(crate) fn environment_source() -> Environment {
    Environment::with_prefix("TOLLGATE")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
}

impl Settings {
    /// Reads defaults, then `path` (or `./tollgate.toml` when present), then the environment.
    ///
    /// # Errors
    /// [`ServerError::Config`] for an unreadable file, an unknown key or a value of the wrong type.
    pub fn load(path: Option<&Path>) -> Result<Self, ServerError> {
        let settings: Settings = Config::builder()
            .add_source(file_source(path))
            .add_source(environment_source())
            .build()?
            .try_deserialize()?;
        settings.token_policy("http://validation.invalid")?;
        settings.purge_policy(chrono::DateTime::UNIX_EPOCH)?;
        if let Some(level) = &settings.log.level {
            tracing_subscriber::EnvFilter::try_new(level)
                .map_err(|e| ServerError::Config(format!("log.level: {e}")))?;
        }
        settings.throttle_policy()?;
        settings.trusted_proxies()?;
        settings.hash_queue_timeout()?;
        settings.refresh_queue_timeout()?;
        settings.publish_ahead()?;
        settings.rescan_interval()?;
        settings.tls_files()?;
        Ok(settings)
    }

    /// The database URL with a relative SQLite path resolved under `data_dir`.
    pub fn database_url(&self) -> String {
        match self.database.url.strip_prefix("sqlite://") {
            Some(path) if Path::new(path).is_relative() => {
                format!("sqlite://{}", self.data_dir.join(path).display())
            }
            _ => self.database.url.clone(),
        }
    }

    /// The key directory, resolved under `data_dir` when relative.
    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join(&self.keys.dir)
    }

    /// The TLS certificate and key paths (resolved under `data_dir` when relative), when
    /// `server.tls` is configured.
    ///
    /// # Errors
    /// [`ServerError::Config`] when only one of the two is set.
    pub fn tls_files(&self) -> Result<Option<(PathBuf, PathBuf)>, ServerError> {
        match (&self.server.tls.cert, &self.server.tls.key) {
            (Some(cert), Some(key)) => {
                Ok(Some((self.data_dir.join(cert), self.data_dir.join(key))))
            }
            (None, None) => Ok(None),
            _ => Err(ServerError::Config(
                "server.tls.cert and server.tls.key must be set together".into(),
            )),
        }
    }

    /// `dpop.nonce_lifetime` as a duration.
    ///
    /// # Errors
    /// [`ServerError::Config`] outside 10 to 86400 seconds.
    pub fn dpop_nonce_lifetime(&self) -> Result<Duration, ServerError> {
        if (10..=86_400).contains(&self.dpop.nonce_lifetime) {
            Ok(Duration::seconds(self.dpop.nonce_lifetime))
        } else {
            Err(ServerError::Config(
                "dpop.nonce_lifetime must be 10 to 86400 seconds".into(),
            ))
        }
    }

    /// `dpop.max_age` as a duration.
    ///
    /// # Errors
    /// [`ServerError::Config`] outside 1 to 3600 seconds.
    pub fn dpop_max_age(&self) -> Result<Duration, ServerError> {
        if (1..=3600).contains(&self.dpop.max_age) {
            Ok(Duration::seconds(self.dpop.max_age))
        } else {
            Err(ServerError::Config(
                "dpop.max_age must be 1 to 3600 seconds".into(),
            ))
        }
    }

    /// `tokens.leeway` as a duration: the clock skew tolerated on `exp` and `nbf`.
    pub fn leeway(&self) -> Duration {
        Duration::seconds(self.tokens.leeway)
    }

    /// What a purge at `now` deletes: tokens expired longer than `tokens.leeway` ago (so none
    /// that could still verify), families revoked more than `purge.keep_revoked` ago, security
    /// events older than `audit.keep` (none when it is 0), and failed-login counters idle longer
    /// than the throttle remembers them (24 h, at least `login.max_delay`).
    ///
    /// # Errors
    /// [`ServerError::Config`] when `purge.keep_revoked`, `purge.batch`, `audit.keep` or a
    /// `[login]` delay is out of range.
    pub fn purge_policy(&self, now: DateTime<Utc>) -> Result<PurgePolicy, ServerError> {
        let p = &self.purge;
        if !(0..=100 * 365 * 24 * 3600).contains(&p.keep_revoked) {
            return Err(ServerError::Config(
                "purge.keep_revoked must be 0 to 3153600000 seconds".into(),
            ));
        }
        if p.batch == 0 {
            return Err(ServerError::Config("purge.batch must be at least 1".into()));
        }
        let keep_events = self.audit.keep;
        if !(0..=100 * 365 * 24 * 3600).contains(&keep_events) {
            return Err(ServerError::Config(
                "audit.keep must be 0 (forever) to 3153600000 seconds".into(),
            ));
        }
        Ok(PurgePolicy {
            expired_before: now - self.leeway(),
            revoked_before: now - Duration::seconds(p.keep_revoked),
            // A counter idle this long starts from zero at its next failure, so it can go.
            failures_before: now - self.throttle_policy()?.forget_after,
            batch: p.batch,
            events_before: (keep_events > 0).then(|| now - Duration::seconds(keep_events)),
        })
    }

    /// `keys.publish_ahead` as a duration.
    ///
    /// # Errors
    /// [`ServerError::Config`] when it is shorter than the JWKS `max-age` (`keys.jwks_max_age`):
    /// a verifier could then hold a cached JWKS without the key that signs its tokens. Or when
    /// `keys.jwks_max_age` is not 1 to 86400 seconds.
    pub fn publish_ahead(&self) -> Result<Duration, ServerError> {
        let ahead = self.keys.publish_ahead;
        let max_age = self.keys.jwks_max_age;
        if !(1..=86_400).contains(&max_age) {
            return Err(ServerError::Config(format!(
                "keys.jwks_max_age must be 1 to 86400 seconds, not {max_age}"
            )));
        }
        if ahead < u64::from(max_age) || ahead > 86_400 * 365 {
            return Err(ServerError::Config(format!(
                "keys.publish_ahead must be at least keys.jwks_max_age ({max_age} s, the JWKS Cache-Control max-age) and at most a year, not {ahead}"
            )));
        }
        Ok(Duration::seconds(i64::try_from(ahead).unwrap_or(i64::MAX)))
    }

    /// How long a key that stopped signing keeps verifying: the policy's
    /// [`key_trust_window`](TokenPolicy::key_trust_window) plus one `keys.rescan_interval`,
    /// the longest a server may go on signing with a key retired in the directory.
    ///
    /// # Errors
    /// As [`Settings::rescan_interval`].
    pub fn key_trust_window(&self, policy: &TokenPolicy) -> Result<Duration, ServerError> {
        let rescan = self.rescan_interval()?.as_secs();
        Ok(policy.key_trust_window() + Duration::seconds(i64::try_from(rescan).unwrap_or(86_400)))
    }

    /// `keys.rescan_interval` as a duration.
    ///
    /// # Errors
    /// [`ServerError::Config`] unless it is 1 to 86400 seconds.
    pub fn rescan_interval(&self) -> Result<StdDuration, ServerError> {
        let every = self.keys.rescan_interval;
        if !(1..=86_400).contains(&every) {
            return Err(ServerError::Config(format!(
                "keys.rescan_interval must be 1 to 86400 seconds, not {every}"
            )));
        }
        Ok(StdDuration::from_secs(every))
    }

    /// The throttling rules from `[login]`.
    ///
    /// # Errors
    /// [`ServerError::Config`] when a delay is out of range.
    pub fn throttle_policy(&self) -> Result<ThrottlePolicy, ServerError> {
        let l = &self.login;
        let seconds =
            |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX).min(86_400 * 2));
        let policy = ThrottlePolicy {
            max_failures: l.max_failures,
            base_delay: seconds(l.base_delay),
            max_delay: seconds(l.max_delay),
            ..ThrottlePolicy::default()
        };
        policy
            .validate()
            .map_err(|e| ServerError::Config(e.to_string()))?;
        Ok(policy)
    }

    /// `server.trusted_proxies`, parsed.
    ///
    /// # Errors
    /// [`ServerError::Config`] naming the first entry that is not a CIDR or address.
    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, ServerError> {
        self.server
            .trusted_proxies
            .iter()
            .map(|s| {
                // A bare address is its own one-address network.
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ServerError::Config(format!(
                            "server.trusted_proxies: {s:?} is not a CIDR such as 10.0.0.0/8"
                        ))
                    })
            })
            .collect()
    }

    /// How many password hashes may run at once: `password.max_concurrent_hashes`, or the
    /// number of CPUs when 0.
    pub fn max_concurrent_hashes(&self) -> usize {
        match self.password.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }

    /// How many refresh grants run at once: `server.max_concurrent_refreshes`, or when 0 one
    /// per CPU this process may use on SQLite and four per CPU on PostgreSQL.
    ///
    /// Why a limit at all: a refresh is mostly CPU (two signatures). Let every request onto its
    /// own blocking thread and 32 concurrent refreshes share a core in whatever order the
    /// scheduler slices them, so latency spreads (p99 1.8 × the mean on one core); let only as
    /// many run as keep the CPUs busy and the rest start in arrival order (1.4 ×, same
    /// throughput; BENCHMARKS.md). SQLite runs in the process, so one per CPU keeps it busy;
    /// a PostgreSQL refresh waits on three round trips, and one per CPU left the core idle
    /// (0.6 of the throughput). Four per CPU there gives p99/mean 1.4 instead of 1.8 for about
    /// a tenth of the throughput; set a large number to trade the other way.
    pub fn max_concurrent_refreshes(&self, backend: Backend) -> usize {
        match self.server.max_concurrent_refreshes {
            0 => {
                let cpus = std::thread::available_parallelism().map_or(1, usize::from);
                match backend {
                    Backend::Sqlite => cpus,
                    Backend::Postgres => 4 * cpus,
                }
            }
            n => n,
        }
    }

    /// `password.queue_timeout` as a duration.
    ///
    /// # Errors
    /// [`ServerError::Config`] unless it is 0 to 60 seconds.
    pub fn hash_queue_timeout(&self) -> Result<StdDuration, ServerError> {
        queue_timeout(self.password.queue_timeout, "password.queue_timeout")
    }

    /// `server.refresh_queue_timeout` as a duration.
    ///
    /// # Errors
    /// [`ServerError::Config`] unless it is 0 to 60 seconds.
    pub fn refresh_queue_timeout(&self) -> Result<StdDuration, ServerError> {
        queue_timeout(
            self.server.refresh_queue_timeout,
            "server.refresh_queue_timeout",
        )
    }

    /// The token rules, with `default_issuer` when `tokens.issuer` is empty.
    ///
    /// # Errors
    /// [`ServerError::Config`] when a lifetime is out of range.
    pub fn token_policy(&self, default_issuer: &str) -> Result<TokenPolicy, ServerError> {
        let t = &self.tokens;
        // Checked before the domain's own check so the message names the setting.
        if !(0..=3600).contains(&t.leeway) {
            return Err(ServerError::Config(
                "tokens.leeway must be 0 to 3600 seconds".into(),
            ));
        }
        let policy = TokenPolicy {
            issuer: if t.issuer.is_empty() {
                default_issuer.to_owned()
            } else {
                t.issuer.clone()
            },
            access_ttl: Duration::seconds(t.access_ttl),
            refresh_ttl: Duration::seconds(t.refresh_ttl),
            refresh_long_ttl: Duration::seconds(t.refresh_long_ttl),
            family_max_lifetime: Duration::seconds(t.family_max_lifetime),
            reuse_grace: Duration::seconds(t.reuse_grace),
            leeway: self.leeway(),
        };
        policy
            .validate()
            .map_err(|e| ServerError::Config(e.to_string()))?;
        Ok(policy)
    }
}

/// A wait in seconds (fractions allowed) that `key` sets: 0 to 60, or a configuration error.
fn queue_timeout(seconds: f64, key: &str) -> Result<StdDuration, ServerError> {
    if !(0.0..=60.0).contains(&seconds) {
        return Err(ServerError::Config(format!(
            "{key} must be 0 to 60 seconds"
        )));
    }
    Ok(StdDuration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_api_contract() {
        let s = Settings::default();
        let p = s.token_policy("http://x").unwrap();
        assert_eq!(p.access_ttl, Duration::minutes(15));
        assert_eq!(p.refresh_ttl, Duration::hours(24));
        assert_eq!(p.refresh_long_ttl, Duration::days(14));
        assert_eq!(p.family_max_lifetime, Duration::days(90));
        assert_eq!(p.issuer, "http://x");
        assert_eq!(s.server.bind, "127.0.0.1:8080");
    }

    #[test]
    fn a_relative_sqlite_path_lives_in_the_data_dir() {
        let mut s = Settings {
            data_dir: PathBuf::from("/srv/tollgate"),
            ..Settings::default()
        };
        assert_eq!(s.database_url(), "sqlite:///srv/tollgate/tollgate.db");
        s.database.url = "sqlite:///abs/t.db".into();
        assert_eq!(s.database_url(), "sqlite:///abs/t.db");
        s.database.url = "postgres://h/db".into();
        assert_eq!(s.database_url(), "postgres://h/db");
    }

    #[test]
    fn a_file_sets_keys_and_rejects_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "[tokens]\naccess_ttl = 60\n[server]\nbind = \"0.0.0.0:9\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path)).unwrap();
        assert_eq!(s.tokens.access_ttl, 60);
        assert_eq!(s.server.bind, "0.0.0.0:9");
        std::fs::write(&path, "[tokens]\naccess_tll = 60\n").unwrap();
        assert!(matches!(
            Settings::load(Some(&path)),
            Err(ServerError::Config(_))
        ));
        std::fs::write(&path, "[tokens]\naccess_ttl = 0\n").unwrap();
        assert!(matches!(
            Settings::load(Some(&path)),
            Err(ServerError::Config(_))
        ));
    }

    #[test]
    fn the_purge_keeps_revoked_families_a_week_and_spares_the_leeway() {
        let s = Settings::default();
        let now = DateTime::UNIX_EPOCH + Duration::days(30);
        let p = s.purge_policy(now).unwrap();
        assert_eq!(p.revoked_before, now - Duration::days(7));
        assert_eq!(p.expired_before, now - Duration::seconds(30));
        assert_eq!((p.batch, s.purge.interval), (500, 600));
        assert_eq!(p.events_before, Some(now - Duration::days(90)));
    }

    #[test]
    fn audit_keep_zero_keeps_events_forever_and_a_negative_one_stops_start_up() {
        let mut s = Settings::default();
        s.audit.keep = 0;
        assert_eq!(
            s.purge_policy(DateTime::UNIX_EPOCH).unwrap().events_before,
            None
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "[audit]
keep = -1
",
        )
        .unwrap();
        let err = Settings::load(Some(&path)).unwrap_err();
        assert!(err.to_string().contains("audit.keep"), "{err}");
    }

    #[test]
    fn out_of_range_purge_settings_stop_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        for bad in ["[purge]\nbatch = 0\n", "[purge]\nkeep_revoked = -1\n"] {
            std::fs::write(&path, bad).unwrap();
            let err = Settings::load(Some(&path)).unwrap_err();
            assert!(err.to_string().contains("purge."), "{bad}: {err}");
        }
    }

    #[test]
    fn login_and_proxy_settings_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "[login]\nmax_failures = 3\nbase_delay = 2\nmax_delay = 60\n\
             [server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n\
             [password]\nmax_concurrent_hashes = 3\nqueue_timeout = 0.5\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path)).unwrap();
        let p = s.throttle_policy().unwrap();
        assert_eq!(
            (p.max_failures, p.base_delay, p.max_delay),
            (3, Duration::seconds(2), Duration::seconds(60))
        );
        assert_eq!(s.trusted_proxies().unwrap().len(), 2);
        assert_eq!(s.max_concurrent_hashes(), 3);
        assert_eq!(
            s.hash_queue_timeout().unwrap(),
            StdDuration::from_millis(500)
        );
        std::fs::write(&path, "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n").unwrap();
        assert!(matches!(
            Settings::load(Some(&path)),
            Err(ServerError::Config(_))
        ));
        std::fs::write(&path, "[login]\nbase_delay = 0\n").unwrap();
        assert!(matches!(
            Settings::load(Some(&path)),
            Err(ServerError::Config(_))
        ));
        let d = Settings::default();
        assert_eq!(d.throttle_policy().unwrap(), ThrottlePolicy::default());
        assert!(d.max_concurrent_hashes() >= 1);
        assert_eq!(d.hash_queue_timeout().unwrap(), StdDuration::from_secs(2));
    }

    #[test]
    fn refresh_turns_default_by_backend_and_follow_the_setting() {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let mut s = Settings::default();
        assert_eq!(s.max_concurrent_refreshes(Backend::Sqlite), cpus);
        assert_eq!(s.max_concurrent_refreshes(Backend::Postgres), 4 * cpus);
        s.server.max_concurrent_refreshes = 7;
        assert_eq!(s.max_concurrent_refreshes(Backend::Sqlite), 7);
        assert_eq!(s.max_concurrent_refreshes(Backend::Postgres), 7);
    }

    #[test]
    fn the_refresh_queue_timeout_is_read_and_checked() {
        assert_eq!(
            Settings::default().refresh_queue_timeout().unwrap(),
            StdDuration::from_secs(2)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "[server]\nrefresh_queue_timeout = 0.25\n").unwrap();
        assert_eq!(
            Settings::load(Some(&path))
                .unwrap()
                .refresh_queue_timeout()
                .unwrap(),
            StdDuration::from_millis(250)
        );
        for bad in ["-1", "61"] {
            std::fs::write(&path, format!("[server]\nrefresh_queue_timeout = {bad}\n")).unwrap();
            let err = Settings::load(Some(&path)).unwrap_err();
            assert!(
                err.to_string().contains("refresh_queue_timeout"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn tls_files_come_together_and_resolve_under_the_data_dir() {
        let mut s = Settings {
            data_dir: PathBuf::from("/srv/tollgate"),
            ..Settings::default()
        };
        assert!(s.tls_files().unwrap().is_none());
        s.server.tls.cert = Some(PathBuf::from("tls/cert.pem"));
        assert!(matches!(s.tls_files(), Err(ServerError::Config(_))));
        s.server.tls.key = Some(PathBuf::from("/etc/tollgate/key.pem"));
        assert_eq!(
            s.tls_files().unwrap(),
            Some((
                PathBuf::from("/srv/tollgate/tls/cert.pem"),
                PathBuf::from("/etc/tollgate/key.pem")
            ))
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let b = BootstrapSettings {
            user: Some("admin".into()),
            password: Some(SecretString::new("hunter2")),
        };
        assert!(!format!("{b:?}").contains("hunter2"));
    }
}
