use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::Semaphore;
use tollgate_application::{
    AccessGuard, ClientAuthenticator, Introspection, Login, Ports, Refresh, Revocation,
};
use tollgate_domain::{ThrottlePolicy, TokenPolicy};

/// HTTP-level limits and hints.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Largest accepted form body, in bytes; larger ones get `413`.
    pub max_body_bytes: usize,
    /// `Retry-After` seconds sent with `503` when storage is unavailable.
    pub retry_after_secs: u32,
    /// `auth.require_client`: token and revocation requests must authenticate a client.
    pub require_client: bool,
    /// Peers whose `X-Forwarded-For` names the client address (`server.trusted_proxies`).
    pub trusted_proxies: Vec<IpNet>,
    /// Failed-login throttling (`[login]`).
    pub throttle: ThrottlePolicy,
    /// Most password hashes at once (`password.max_concurrent_hashes`, at least 1).
    pub max_concurrent_hashes: usize,
    /// How long a login waits for a hashing slot before `503` (`password.queue_timeout`).
    pub hash_queue_timeout: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            // A refresh token is about 1 KiB; 16 KiB leaves room without inviting abuse.
            max_body_bytes: 16 * 1024,
            retry_after_secs: 5,
            require_client: false,
            trusted_proxies: Vec::new(),
            throttle: ThrottlePolicy::default(),
            max_concurrent_hashes: std::thread::available_parallelism().map_or(1, usize::from),
            hash_queue_timeout: Duration::from_secs(2),
        }
    }
}

/// What the handlers need, shared by every worker.
#[derive(Clone)]
pub struct AppState {
    pub(crate) ports: Ports,
    pub(crate) policy: Arc<TokenPolicy>,
    pub(crate) login: Login,
    pub(crate) refresh: Refresh,
    pub(crate) guard: AccessGuard,
    pub(crate) clients: ClientAuthenticator,
    pub(crate) revocation: Revocation,
    pub(crate) introspection: Introspection,
    pub(crate) config: WebConfig,
    /// Hashing slots: a login holds one while it runs on the blocking pool, so at most
    /// `max_concurrent_hashes` Argon2 computations (and their memory) exist at once, and the
    /// blocking threads left over serve refresh, revocation and introspection.
    pub(crate) hashing: Arc<Semaphore>,
}

impl AppState {
    /// Builds every use case the routes need from one set of ports.
    pub fn new(ports: Ports, policy: Arc<TokenPolicy>, config: WebConfig) -> Self {
        Self {
            login: Login::new(ports.clone(), policy.clone()).with_throttle(config.throttle),
            refresh: Refresh::new(ports.clone(), policy.clone()),
            guard: AccessGuard::new(ports.clone()),
            clients: ClientAuthenticator::new(ports.clone()),
            revocation: Revocation::new(ports.clone()),
            introspection: Introspection::new(ports.clone()),
            hashing: Arc::new(Semaphore::new(config.max_concurrent_hashes.max(1))),
            ports,
            policy,
            config,
        }
    }
}
