//! `GET /metrics`: Prometheus text exposition.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use crate::Operations;

/// The OpenMetrics text content type `prometheus-client` encodes, which Prometheus accepts.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric's current value. Gauges read storage, so this runs on the blocking pool.
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
