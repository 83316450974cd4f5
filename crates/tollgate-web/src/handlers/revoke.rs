//! `POST /api/oauth2/revoke`: token revocation (RFC 7009).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::body::read_form;
use crate::client_auth::client_credentials;
use crate::operation_form::parse_token_operation;
use crate::{AppState, OAuthError};

/// Revokes the session of a refresh or access token; `200` with an empty body whether or not
/// the token was valid, so that the answer reveals nothing about it.
pub(crate) async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let body = read_form(&req, payload, state.config.max_body_bytes).await?;
    let request = parse_token_operation(&body)?;
    let credentials = client_credentials(&req, request.client_id, request.client_secret)?;
    let retry_after = state.config.retry_after_secs;
    web::block(move || {
        // Any client may revoke; tokens carry no client binding to check against.
        state
            .clients
            .identify(&credentials, state.config.require_client)?;
        state.revocation.execute(&request.token, request.hint)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "revocation task failed");
        OAuthError::ServerError
    })?
    .map_err(|e| OAuthError::from_app(e, retry_after))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .finish())
}
