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
        (status = 401, description = "No `Authorization` header (no body; challenges \
`Bearer realm=\"tollgate\"` and, with DPoP on, `DPoP realm=\"tollgate\", algs=\"…\"`); \
`invalid_token`: a malformed, expired or wrongly signed token, a refresh token, a revoked session, \
a DPoP-bound token sent as `Bearer` or an unbound one sent as `DPoP`; `invalid_dpop_proof`: with \
`Authorization: DPoP`, a missing, invalid or replayed `DPoP` proof, one without the token's `ath`, \
or one by another key than the token is bound to; `use_dpop_nonce`: the proof lacks the current \
server nonce (sent in `DPoP-Nonce`)",
            body = crate::error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "The RFC 6750 and RFC 9449 \
challenges, the error under the scheme it concerns"),
                ("DPoP-Nonce" = String, description = "With `use_dpop_nonce`: the nonce to use"))),
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
