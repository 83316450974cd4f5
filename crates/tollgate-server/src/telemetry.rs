//! Logging set-up: human-readable or JSON lines on stderr, filtered by level.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

use crate::log_limit::RepeatLimit;
use crate::settings::{LogFormat, LogSettings};

/// The filter in force: `RUST_LOG`, else `TOLLGATE_LOG` (kept from earlier releases), else
/// `log.level`, else `info`. The environment wins so that an operator can turn up one module
/// (`info,tollgate::security=debug`) without editing the file.
///
/// # Errors
/// The text of a filter that does not parse, naming where it came from.
pub fn filter(settings: &LogSettings) -> Result<EnvFilter, String> {
    for var in ["RUST_LOG", "TOLLGATE_LOG"] {
        if let Ok(value) = std::env::var(var) {
            return EnvFilter::try_new(&value).map_err(|e| format!("{var}: {e}"));
        }
    }
    let level = settings.level.as_deref().unwrap_or("info");
    EnvFilter::try_new(level).map_err(|e| format!("log.level: {e}"))
}

/// Logs to stderr in `log.format` (`human` or `json`), filtered as [`filter`] says; identical
/// warnings are limited to five a minute (`log_limit`), so a flood of bad requests cannot fill
/// the disk. Called once the settings are read; a second call (tests) keeps the first subscriber.
///
/// # Errors
/// As [`filter`].
pub fn init(settings: &LogSettings) -> Result<(), String> {
    let filter = filter(settings)?;
    // Colour codes only for a person at a terminal, not in a journal or a file.
    let ansi = std::io::stderr().is_terminal();
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(RepeatLimit::default());
    let _ = match settings.format {
        LogFormat::Human => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        // One JSON object per line with the span fields (request id, route) flattened in.
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    Ok(())
}
