//! `GET /healthz` and `GET /readyz`: liveness and readiness probes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::response::no_store;
use crate::Operations;

/// The body of both probes: `{"status": "ok"}`, or `{"status": "unavailable", "reason": …}`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

fn answer(status: StatusCode, body: Health) -> HttpResponse {
    // A cached "ok" would hide an outage from the orchestrator asking.
    no_store(&mut HttpResponse::build(status)).json(body)
}

/// The process is up and serving HTTP. No I/O on purpose: a database outage must not make an
/// orchestrator restart a process that would recover by itself.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    responses((status = 200, description = "`{\"status\":\"ok\"}`", body = Health)),
)]
pub(crate) async fn healthz() -> HttpResponse {
    answer(
        StatusCode::OK,
        Health {
            status: "ok",
            reason: None,
        },
    )
}

/// Token requests can be served now: the database answers a round trip and a signing key is
/// usable. `503` with a short reason otherwise, so a load balancer takes this process out.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    responses(
        (status = 200, description = "`{\"status\":\"ok\"}`", body = Health),
        (status = 503, description = "`{\"status\":\"unavailable\",\"reason\":…}`", body = Health),
    ),
)]
pub(crate) async fn readyz(operations: web::Data<Operations>) -> HttpResponse {
    let Some(readiness) = operations.readiness.clone() else {
        // Only reachable when an embedder registered the route without a readiness port.
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            Health {
                status: "unavailable",
                reason: Some("readiness is not configured"),
            },
        );
    };
    let checked = web::block(move || readiness.check()).await;
    match checked {
        Ok(Ok(())) => answer(
            StatusCode::OK,
            Health {
                status: "ok",
                reason: None,
            },
        ),
        Ok(Err(not_ready)) => {
            tracing::warn!(reason = not_ready.as_str(), "not ready");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Health {
                    status: "unavailable",
                    reason: Some(not_ready.as_str()),
                },
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "readiness check task failed");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Health {
                    status: "unavailable",
                    reason: Some("readiness check failed"),
                },
            )
        }
    }
}
