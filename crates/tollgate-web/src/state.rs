use std::sync::Arc;

use tollgate_application::{
    AccessGuard, ClientAuthenticator, Introspection, Login, Metrics, Ports, Readiness, Refresh,
    Revocation,
};
use tollgate_domain::TokenPolicy;

/// HTTP-level limits and hints.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Largest accepted form body, in bytes; larger ones get `413`.
    pub max_body_bytes: usize,
    /// `Retry-After` seconds sent with `503` when storage is unavailable.
    pub retry_after_secs: u32,
    /// `auth.require_client`: token and revocation requests must authenticate a client.
    pub require_client: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            // A refresh token is about 1 KiB; 16 KiB leaves room without inviting abuse.
            max_body_bytes: 16 * 1024,
            retry_after_secs: 5,
            require_client: false,
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
    pub(crate) operations: Operations,
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
}

impl AppState {
    /// Builds every use case the routes need from one set of ports.
    pub fn new(ports: Ports, policy: Arc<TokenPolicy>, config: WebConfig) -> Self {
        Self {
            login: Login::new(ports.clone(), policy.clone()),
            refresh: Refresh::new(ports.clone(), policy.clone()),
            guard: AccessGuard::new(ports.clone()),
            clients: ClientAuthenticator::new(ports.clone()),
            revocation: Revocation::new(ports.clone()),
            introspection: Introspection::new(ports.clone()),
            ports,
            policy,
            config,
            operations: Operations::default(),
        }
    }

    /// Adds the operations ports (readiness, metrics).
    #[must_use]
    pub fn with_operations(mut self, operations: Operations) -> Self {
        self.operations = operations;
        self
    }
}
