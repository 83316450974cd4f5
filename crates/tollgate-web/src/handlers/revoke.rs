//! `POST /api/oauth2/revoke`: token revocation (RFC 7009).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::handlers::run_blocking;
use crate::operation_form::read_token_operation;
use crate::response::no_store;
use crate::{AppState, OAuthError};

/// Revokes the session of a refresh or access token; `200` with an empty body whether or not
/// the token was valid, so that the answer reveals nothing about it.
pub(crate) async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (token, hint, credentials) =
        read_token_operation(&req, payload, state.config.max_body_bytes).await?;
    let retry_after = state.config.retry_after_secs;
    run_blocking("revocation", retry_after, move || {
        // Any client may revoke; tokens carry no client binding to check against.
        state
            .clients
            .identify(&credentials, state.config.require_client)?;
        state.revocation.execute(&token, hint)
    })
    .await?;
    Ok(no_store(&mut HttpResponse::Ok()).finish())
}
