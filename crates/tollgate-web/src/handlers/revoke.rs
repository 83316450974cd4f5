//! `POST /api/oauth2/revoke`: token revocation (RFC 7009).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::handlers::run_blocking;
use crate::operation_form::read_token_operation;
use crate::response::no_store;
use tollgate_application::{RequestOrigin, Revocation};

use crate::service::Endpoint;
use crate::OAuthError;

/// Revokes the session of a refresh or access token; `200` with an empty body whether or not
/// the token was valid, so that the answer reveals nothing about it.
#[utoipa::path(
    post,
    path = "/api/oauth2/revoke",
    tag = "oauth2",
    operation_id = "revoke",
    description = "RFC 7009. A refresh token revokes its family; an access token the family named \
by its `sid`. Client credentials are needed only with `auth.require_client`. A token bound to a \
client (issued to it at login) is revoked only when that client authenticates; from any other \
caller the request is refused silently: `200`, nothing revoked (RFC 7009 §2.1).",
    request_body(content = crate::openapi::TokenOperationForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "Revoked, or a token Tollgate does not know or that is bound \
to another client (empty body)"),
        (status = 400, description = "`invalid_request`: `token` missing or repeated, malformed \
body, wrong content type", body = crate::error::ErrorBody),
        (status = 401, description = "`invalid_client`: client authentication failed",
            body = crate::error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"tollgate\"`"))),
        (status = 413, description = "`invalid_request`: the body exceeds `server.max_body_bytes`",
            body = crate::error::ErrorBody),
        (status = 500, description = "`server_error`", body = crate::error::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database cannot be reached",
            body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ),
)]
pub(crate) async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    endpoint: web::Data<Endpoint>,
    revocation: web::Data<Revocation>,
) -> Result<HttpResponse, OAuthError> {
    let (token, hint, mut credentials) =
        read_token_operation(&req, payload, endpoint.config.max_body_bytes).await?;
    credentials.address = endpoint.address_of(&req);
    let retry_after = endpoint.config.retry_after_secs;
    run_blocking("revocation", retry_after, move || {
        // A client revokes only its own tokens and unbound ones; the use case ignores the rest.
        let client = endpoint.identify(&credentials, endpoint.config.require_client)?;
        let origin = RequestOrigin {
            client_id: client.map(|c| c.id),
            address: credentials.address,
        };
        revocation.execute(&token, hint, &origin)
    })
    .await?;
    Ok(no_store(&mut HttpResponse::Ok()).finish())
}
