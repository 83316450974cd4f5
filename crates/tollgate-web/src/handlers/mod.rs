//! One handler per file, and what they share.

use actix_web::web;
use tollgate_application::Error as AppError;

use crate::OAuthError;

pub(crate) mod discovery;
pub(crate) mod health;
pub(crate) mod introspect;
pub(crate) mod jwks;
pub(crate) mod logout;
pub(crate) mod me;
pub(crate) mod metrics;
pub(crate) mod revoke;
pub(crate) mod token;

/// Runs blocking work (hashing, storage) on the blocking pool, never on the async executor, and
/// maps its failure: a lost task is an opaque 500 (logged as `what`), a use-case error goes
/// through [`OAuthError::from_app`].
pub(crate) async fn run_blocking<T, F>(
    what: &'static str,
    retry_after_secs: u32,
    work: F,
) -> Result<T, OAuthError>
where
    F: FnOnce() -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    web::block(work)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, task = what, "blocking task failed");
            OAuthError::ServerError
        })?
        .map_err(|e| OAuthError::from_app(e, retry_after_secs))
}
