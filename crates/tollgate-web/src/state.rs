use tollgate_application::{Login, Refresh};

/// HTTP-level limits and hints.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Largest accepted form body, in bytes; larger ones get `413`.
    pub max_body_bytes: usize,
    /// `Retry-After` seconds sent with `503` when storage is unavailable.
    pub retry_after_secs: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            // A refresh token is about 1 KiB; 16 KiB leaves room without inviting abuse.
            max_body_bytes: 16 * 1024,
            retry_after_secs: 5,
        }
    }
}

/// What the handlers need, shared by every worker.
#[derive(Clone)]
pub struct AppState {
    pub(crate) login: Login,
    pub(crate) refresh: Refresh,
    pub(crate) config: WebConfig,
}

impl AppState {
    /// Bundles the use cases and limits.
    pub fn new(login: Login, refresh: Refresh, config: WebConfig) -> Self {
        Self {
            login,
            refresh,
            config,
        }
    }
}
