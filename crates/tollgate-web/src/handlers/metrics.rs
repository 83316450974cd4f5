//! `GET /metrics`: Prometheus text exposition.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use crate::Operations;

/// The OpenMetrics text content type `prometheus-client` encodes, which Prometheus accepts.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric's current value. Gauges read storage, so this runs on the blocking pool.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    description = "Served here unless `server.metrics_bind` moves it to its own listener.",
    responses(
        (status = 200, description = "Prometheus metrics in OpenMetrics text",
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 404, description = "No metrics registry is configured"),
        (status = 500, description = "The metrics task failed"),
        (status = 503, description = "A gauge cannot read storage"),
    ),
)]
pub(crate) async fn metrics(operations: web::Data<Operations>) -> HttpResponse {
    let Some(metrics) = operations.metrics.clone() else {
        return HttpResponse::NotFound().finish();
    };
    match web::block(move || metrics.render()).await {
        Ok(Ok(text)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)))
            .body(text),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics unavailable");
            HttpResponse::ServiceUnavailable().finish()
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics task failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
