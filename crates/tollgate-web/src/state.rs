use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tollgate_application::{
    AccessGuard, ClientAuthenticator, DpopCheck, IdGenerator, Introspection, Login, Metrics, Ports,
    PublishedKeys, Readiness, Refresh, Revocation,
};
use tollgate_domain::{ThrottlePolicy, TokenPolicy};

use crate::TokenService;

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
    /// Most refresh grants served at once (`server.max_concurrent_refreshes`); those beyond wait,
    /// first come first served, without holding a thread. `None` (the default): no limit. About
    /// as many as keep the CPUs busy shortens the latency tail (see the README's row).
    pub max_concurrent_refreshes: Option<usize>,
    /// How long a refresh waits for its turn before `503` with `Retry-After`
    /// (`server.refresh_queue_timeout`); its token is not spent. Only with
    /// `max_concurrent_refreshes`.
    pub refresh_queue_timeout: Duration,
    /// The JWKS `Cache-Control: max-age`, in seconds (`keys.jwks_max_age`; default
    /// [`JWKS_MAX_AGE_SECONDS`](crate::JWKS_MAX_AGE_SECONDS)).
    pub jwks_max_age: u32,
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
            max_concurrent_refreshes: None,
            refresh_queue_timeout: Duration::from_secs(2),
            jwks_max_age: crate::JWKS_MAX_AGE_SECONDS,
        }
    }
}

/// Every route of Tollgate's own server, built from one set of ports: a [`TokenService`] with
/// all its use cases. A host that runs only some use cases uses [`TokenService::builder`].
#[derive(Clone)]
pub struct AppState {
    service: TokenService,
}

/// The operations ports: readiness and metrics. Without them `/readyz` answers `503` and no
/// metrics are recorded or served.
#[derive(Clone, Default)]
pub struct Operations {
    /// What `/readyz` checks.
    pub readiness: Option<Arc<dyn Readiness>>,
    /// Where request counts and latencies go, and what `/metrics` renders.
    pub metrics: Option<Arc<dyn Metrics>>,
    /// Whether this app serves `/metrics` itself; `false` when `server.metrics_bind` puts the
    /// metrics on a listener of their own (see [`configure_metrics`](crate::configure_metrics)).
    pub serve_metrics: bool,
    /// Where fresh request ids come from when a request brings none (or an unusable one).
    pub ids: Option<Arc<dyn IdGenerator>>,
}

impl AppState {
    /// Builds every use case the routes need from one set of ports; the metadata's endpoints
    /// hang off the policy's issuer.
    pub fn new(ports: Ports, policy: Arc<TokenPolicy>, config: WebConfig) -> Self {
        let service = TokenService::builder(
            Login::new(ports.login(), policy.clone()).with_throttle(config.throttle),
            Refresh::new(ports.refresh(), policy.clone()),
        )
        .config(config)
        .clients(ClientAuthenticator::new(ports.client_authenticator()))
        .logout(AccessGuard::new(ports.token_check()))
        .revocation(Revocation::new(ports.token_check()))
        .introspection(Introspection::new(ports.token_check()))
        .jwks(PublishedKeys::new(ports.published_keys()))
        .metadata(&policy.issuer, &policy.issuer)
        .build();
        Self { service }
    }

    /// The service behind the state.
    pub fn service(&self) -> &TokenService {
        &self.service
    }

    /// Accepts DPoP proofs at the token endpoint (see [`TokenServiceBuilder::dpop`]).
    ///
    /// [`TokenServiceBuilder::dpop`]: crate::TokenServiceBuilder::dpop
    #[must_use]
    pub fn with_dpop(mut self, check: DpopCheck, required: bool) -> Self {
        self.service.set_dpop(check, required);
        self
    }

    /// Adds the operations ports (readiness, metrics).
    #[must_use]
    pub fn with_operations(mut self, operations: Operations) -> Self {
        self.service.set_operations(operations);
        self
    }
}
