//! `POST /api/oauth2/logout`: ends the caller's session.

use actix_web::{web, HttpResponse};

use crate::auth::Authenticated;
use crate::handlers::run_blocking;
use crate::response::no_store;
use tollgate_application::AccessGuard;

use crate::service::Endpoint;
use crate::OAuthError;

/// Revokes the `sid` family of the bearer access token; `204`.
pub(crate) async fn logout(
    caller: Authenticated,
    endpoint: web::Data<Endpoint>,
    guard: web::Data<AccessGuard>,
) -> Result<HttpResponse, OAuthError> {
    let guard = guard.into_inner();
    run_blocking("logout", endpoint.config.retry_after_secs, move || {
        guard.logout(&caller.0)
    })
    .await?;
    Ok(no_store(&mut HttpResponse::NoContent()).finish())
}
