//! Operations adapters: readiness, Prometheus metrics, and the decorators that feed the metrics
//! from the ports the use cases already call.

mod counting;
mod metrics;
mod readiness;

pub use counting::{CountingEvents, CountingSessions};
pub use metrics::PrometheusMetrics;
pub use readiness::ServiceReadiness;
