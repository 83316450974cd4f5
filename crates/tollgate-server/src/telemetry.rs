//! Logging set-up.

use tracing_subscriber::EnvFilter;

/// Logs to stderr, filtered by `TOLLGATE_LOG` (e.g. `info,tollgate::security=warn`), default `info`.
pub fn init() {
    let filter = EnvFilter::try_from_env("TOLLGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
