//! `POST /api/oauth2/revoke`: token revocation (RFC 7009).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::handlers::run_blocking;
use crate::operation_form::read_token_operation;
use crate::response::no_store;
use tollgate_application::Revocation;

use crate::service::Endpoint;
use crate::OAuthError;

/// Revokes the session of a refresh or access token; `200` with an empty body whether or not
/// the token was valid, so that the answer reveals nothing about it.
pub(crate) async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    endpoint: web::Data<Endpoint>,
    revocation: web::Data<Revocation>,
) -> Result<HttpResponse, OAuthError> {
    let (token, hint, credentials) =
        read_token_operation(&req, payload, endpoint.config.max_body_bytes).await?;
    let retry_after = endpoint.config.retry_after_secs;
    run_blocking("revocation", retry_after, move || {
        // Any client may revoke; tokens carry no client binding to check against.
        endpoint.identify(&credentials, endpoint.config.require_client)?;
        revocation.execute(&token, hint)
    })
    .await?;
    Ok(no_store(&mut HttpResponse::Ok()).finish())
}
