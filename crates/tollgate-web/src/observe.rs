//! One tracing span per request, the `X-Request-Id` echo, and HTTP metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error};
use tracing::Instrument as _;

use crate::Operations;

/// The request id header, read from the client and echoed on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming request id kept; longer ones are replaced by a fresh id.
const MAX_REQUEST_ID_LEN: usize = 128;

/// An incoming id is kept only when it is short and made of characters that cannot forge log
/// lines or headers (letters, digits, `-`, `_`, `.`, `:`); anything else gets a fresh UUID, so a
/// client can correlate its own calls but cannot inject into the logs.
fn sane_request_id(value: &HeaderValue) -> Option<&str> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= MAX_REQUEST_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then_some(s)
}

/// Middleware (`actix_web::middleware::from_fn(tollgate_web::observe)`): wraps the request in a
/// span carrying its id, method and route, logs one line when it finishes (status, latency) and
/// feeds the [`Metrics`](tollgate_application::Metrics) port. Only the route pattern is logged,
/// never the query string, a header or the body, so no token or password reaches the log.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let operations = req.app_data::<web::Data<Operations>>().cloned();
    let request_id = match req.headers().get(&REQUEST_ID).and_then(sane_request_id) {
        Some(id) => id.to_owned(),
        None => match operations.as_ref().and_then(|o| o.ids.as_ref()) {
            Some(ids) => ids.new_uuid().to_string(),
            None => String::from("-"),
        },
    };
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let seconds = started.elapsed().as_secs_f64();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| String::from("unmatched"));
    let status = res.status().as_u16();
    span.record("route", route.as_str());
    span.in_scope(|| {
        tracing::info!(status, latency_ms = seconds * 1000.0, "request finished");
    });
    if let Some(metrics) = operations.as_ref().and_then(|o| o.metrics.as_ref()) {
        metrics.http_request(method.as_str(), &route, status, seconds);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        let keep = |s: &str| sane_request_id(&HeaderValue::from_str(s).unwrap()).is_some();
        assert!(keep("abc-123_X.y:z"));
        assert!(keep(&"a".repeat(MAX_REQUEST_ID_LEN)));
        assert!(!keep(&"a".repeat(MAX_REQUEST_ID_LEN + 1)));
        assert!(!keep(""));
        assert!(!keep("a b"));
        assert!(!keep("a\"b"));
        assert!(!keep("line\tbreak"));
    }
}
