//! `POST /api/oauth2/logout`: ends the caller's session.

use actix_web::{web, HttpResponse};

use crate::auth::Authenticated;
use crate::{AppState, OAuthError};

/// Revokes the `sid` family of the bearer access token; `204`.
pub(crate) async fn logout(
    caller: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let retry_after = state.config.retry_after_secs;
    let guard = state.guard.clone();
    web::block(move || guard.logout(&caller.0))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "logout task failed");
            OAuthError::ServerError
        })?
        .map_err(|e| OAuthError::from_app(e, retry_after))?;
    Ok(HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}
