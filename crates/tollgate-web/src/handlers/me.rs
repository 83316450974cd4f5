//! `GET /api/users/me`: who the bearer token belongs to.

use actix_web::HttpResponse;
use serde::Serialize;

use crate::auth::Authenticated;
use crate::response::no_store;

#[derive(Serialize, utoipa::ToSchema)]
struct Me<'a> {
    id: String,
    #[serde(rename = "userName")]
    user_name: &'a str,
}

/// `{"id": …, "userName": …}` of the caller.
#[utoipa::path(
    get,
    path = "/api/users/me",
    tag = "users",
    operation_id = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = Me),
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
pub(crate) async fn me(caller: Authenticated) -> HttpResponse {
    no_store(&mut HttpResponse::Ok()).json(Me {
        id: caller.0.sub.to_string(),
        user_name: &caller.0.unique_name,
    })
}
