//! The [`Metrics`] adapter on `prometheus-client`: counters fed by the web layer and the counting
//! decorators, gauges read from the pool, the database and the key set at scrape time.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tollgate_application::{Clock, Error, Metrics};
use tollgate_domain::RevokeReason;
use tollgate_infrastructure::db::Database;
use tollgate_infrastructure::jwt::JwtCodec;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    grant: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

/// 0.5 ms to about 16 s: a refresh is a few ms, a login with OWASP Argon2 tens of ms, and a
/// storage outage waits for `database.connect_timeout` seconds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every Tollgate metric, registered once. Cheap to share behind an `Arc`.
pub struct PrometheusMetrics {
    registry: Registry,
    token_requests: Family<TokenLabels, Counter>,
    reuse_detected: Counter,
    families_revoked: Family<ReasonLabels, Counter>,
    login_throttled: Counter,
    http_duration: Family<HttpLabels, Histogram, fn() -> Histogram>,
    pool_in_use: Gauge,
    pool_idle: Gauge,
    live_families: Gauge,
    signing_key_age: Gauge<f64, AtomicU64>,
    database: Database,
    keys: Arc<JwtCodec>,
    clock: Arc<dyn Clock>,
}

impl PrometheusMetrics {
    /// Registers every metric; the gauges will read `database`, `keys` and `clock` at scrape time.
    pub fn new(database: Database, keys: Arc<JwtCodec>, clock: Arc<dyn Clock>) -> Self {
        let mut registry = Registry::with_prefix("tollgate");
        let token_requests = Family::<TokenLabels, Counter>::default();
        registry.register(
            "token_requests",
            "Token endpoint requests by grant (password, refresh_token, unknown) and outcome (success or the OAuth error code)",
            token_requests.clone(),
        );
        let reuse_detected = Counter::default();
        registry.register(
            "refresh_reuse_detected",
            "Spent refresh tokens presented again (each revokes its family)",
            reuse_detected.clone(),
        );
        let families_revoked = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "families_revoked",
            "Token families revoked, by reason",
            families_revoked.clone(),
        );
        let login_throttled = Counter::default();
        registry.register(
            "login_throttled",
            "Login attempts refused by throttling",
            login_throttled.clone(),
        );
        let http_duration: Family<HttpLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route pattern and status",
            http_duration.clone(),
        );
        let pool_in_use = Gauge::default();
        registry.register(
            "db_pool_connections_in_use",
            "Database connections checked out by a request",
            pool_in_use.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "db_pool_connections_idle",
            "Open database connections waiting in the pool",
            pool_idle.clone(),
        );
        let live_families = Gauge::default();
        registry.register(
            "live_families",
            "Token families neither revoked nor past their absolute end",
            live_families.clone(),
        );
        let signing_key_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "signing_key_age_seconds",
            "Age of the key signing new tokens",
            signing_key_age.clone(),
        );
        Self {
            registry,
            token_requests,
            reuse_detected,
            families_revoked,
            login_throttled,
            http_duration,
            pool_in_use,
            pool_idle,
            live_families,
            signing_key_age,
            database,
            keys,
            clock,
        }
    }

    /// One refresh-token reuse detected.
    pub fn reuse_detected(&self) {
        self.reuse_detected.inc();
    }

    /// `count` families revoked for `reason`.
    pub fn families_revoked(&self, reason: RevokeReason, count: u64) {
        self.families_revoked
            .get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            })
            .inc_by(count);
    }

    /// One login refused by throttling.
    pub fn login_throttled(&self) {
        self.login_throttled.inc();
    }
}

/// Gauges hold `i64`; a count beyond that is not a real case, so it saturates.
fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics for PrometheusMetrics {
    fn token_request(&self, grant: &str, outcome: &str) {
        self.token_requests
            .get_or_create(&TokenLabels {
                grant: grant.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http_duration
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .observe(seconds);
    }

    fn render(&self) -> Result<String, Error> {
        let now = self.clock.now();
        let pool = self.database.pool_stats();
        self.pool_in_use.set(i64::from(pool.in_use()));
        self.pool_idle.set(i64::from(pool.idle));
        let key_age = now - self.keys.key_set().signing().created_at();
        // Milliseconds keep sub-second precision without a float conversion of a Duration.
        self.signing_key_age
            .set(key_age.num_milliseconds() as f64 / 1000.0);
        let live = self.database.count_live_families(now)?;
        self.live_families.set(gauge_value(live));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(Error::unexpected)?;
        Ok(text)
    }
}
