//! `POST /api/oauth2/logout`: ends the caller's session.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::Authenticated;
use crate::handlers::run_blocking;
use crate::response::no_store;
use tollgate_application::{AccessGuard, RequestOrigin};

use crate::service::Endpoint;
use crate::OAuthError;

/// Revokes the `sid` family of the bearer access token; `204`.
#[utoipa::path(
    post,
    path = "/api/oauth2/logout",
    tag = "oauth2",
    operation_id = "logout",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session family is revoked"),
        (status = 401, description = "No `Authorization` header (no body; challenge \
`Bearer realm=\"tollgate\"`), or `invalid_token`: a malformed, expired or wrongly signed token, a \
refresh token, or a revoked session (challenge `Bearer realm=\"tollgate\", error=\"invalid_token\", …`)",
            body = crate::error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "The RFC 6750 challenge"))),
        (status = 500, description = "`server_error`", body = crate::error::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the session check cannot reach \
the database", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ),
)]
pub(crate) async fn logout(
    req: HttpRequest,
    caller: Authenticated,
    endpoint: web::Data<Endpoint>,
    guard: web::Data<AccessGuard>,
) -> Result<HttpResponse, OAuthError> {
    let guard = guard.into_inner();
    // A bearer request names no client: only the address is known.
    let origin = RequestOrigin {
        client_id: None,
        address: endpoint.address_of(&req),
    };
    run_blocking("logout", endpoint.config.retry_after_secs, move || {
        guard.logout(&caller.0, &origin)
    })
    .await?;
    Ok(no_store(&mut HttpResponse::NoContent()).finish())
}
