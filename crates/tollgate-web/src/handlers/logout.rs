//! `POST /api/oauth2/logout`: ends the caller's session.

use actix_web::{web, HttpResponse};

use crate::auth::Authenticated;
use crate::handlers::run_blocking;
use crate::response::no_store;
use crate::{AppState, OAuthError};

/// Revokes the `sid` family of the bearer access token; `204`.
pub(crate) async fn logout(
    caller: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let guard = state.guard.clone();
    run_blocking("logout", state.config.retry_after_secs, move || {
        guard.logout(&caller.0)
    })
    .await?;
    Ok(no_store(&mut HttpResponse::NoContent()).finish())
}
