//! Logging set-up.

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

use crate::log_limit::RepeatLimit;

/// Logs to stderr, filtered by `TOLLGATE_LOG` (e.g. `info,tollgate::security=warn`), default
/// `info`; identical warnings are limited to five a minute (`log_limit`).
pub fn init() {
    let filter = EnvFilter::try_from_env("TOLLGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(RepeatLimit::default())
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .try_init();
}
