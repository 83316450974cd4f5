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
pub(crate) async fn me(caller: Authenticated) -> HttpResponse {
    no_store(&mut HttpResponse::Ok()).json(Me {
        id: caller.0.sub.to_string(),
        user_name: &caller.0.unique_name,
    })
}
