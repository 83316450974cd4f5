//! Operations ports: what health checks and metrics need from the outside world.
//!
//! They live apart from the use-case ports because no use case calls them: the web layer asks
//! [`Readiness`] before saying it can serve, and reports what it saw to [`Metrics`].

#[cfg(any(test, feature = "mock"))]
use mockall::automock;

use crate::Error;

/// Why the service cannot serve right now. The text forms are the `reason` of `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// The database did not answer a round trip.
    Database,
    /// No signing key is usable at this instant.
    SigningKey,
}

impl NotReady {
    /// Stable, short, secret-free text for the readiness body and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Database => "database unavailable",
            Self::SigningKey => "no usable signing key",
        }
    }
}

/// Whether the service can answer token requests now.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait Readiness: Send + Sync {
    /// Checks every dependency a token request needs. Blocking: it makes a database round trip.
    ///
    /// # Errors
    /// The first [`NotReady`] reason found.
    fn check(&self) -> Result<(), NotReady>;
}

/// Counters and histograms the web layer feeds, and their exposition.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait Metrics: Send + Sync {
    /// One token-endpoint request: `grant` is `password`, `refresh_token` or `unknown` (the
    /// request did not parse far enough), `outcome` is `success` or the OAuth error code.
    fn token_request(&self, grant: &str, outcome: &str);

    /// One finished HTTP request: `route` is the matched route pattern (`unmatched` for a 404),
    /// never the raw path, so a client cannot grow the label set.
    fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64);

    /// The current values in the Prometheus text format. Blocking: gauges such as live families
    /// are read from storage at scrape time.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when storage cannot be read, [`Error::Unexpected`] when encoding
    /// fails.
    fn render(&self) -> Result<String, Error>;
}
