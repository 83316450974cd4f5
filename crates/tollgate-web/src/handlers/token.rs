//! `POST /api/oauth2/token`: the password and refresh-token grants.

use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_application::LoginRequest;
use tollgate_domain::GrantType;

use crate::body::read_form;
use crate::client_addr::client_address;
use crate::client_auth::client_credentials;
use crate::form::{parse_token_request, Grant};
use crate::handlers::run_blocking;
use crate::response::token_response;
use crate::{AppState, OAuthError};

/// Issues a token pair for a password login or a refresh token.
pub(crate) async fn token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let body = read_form(&req, payload, state.config.max_body_bytes).await?;
    let request = parse_token_request(&body)?;
    let credentials = client_credentials(&req, request.client_id, request.client_secret)?;
    let retry_after = state.config.retry_after_secs;
    let grant_type = match &request.grant {
        Grant::Password { .. } => GrantType::Password,
        Grant::RefreshToken { .. } => GrantType::RefreshToken,
    };
    let login = match request.grant {
        Grant::Password {
            user_name,
            password,
            long_lived,
        } => LoginRequest {
            user_name,
            password,
            long_lived,
            client_address: client_address(&req, &state.config.trusted_proxies),
        },
        Grant::RefreshToken { refresh_token } => {
            let state = state.clone();
            let pair = run_blocking("token", retry_after, move || {
                // The client is settled first, so a refused client spends no refresh token.
                let client = state
                    .clients
                    .identify(&credentials, state.config.require_client)?;
                state.clients.authorize_grant(client.as_ref(), grant_type)?;
                state.refresh.execute(&refresh_token)
            })
            .await?;
            return Ok(token_response(&pair));
        }
    };

    // Cheap checks first, on a blocking thread (they read the database): a refused client or a
    // throttled name or address is answered without queueing for a hashing slot.
    let checked = {
        let state = state.clone();
        run_blocking("token", retry_after, move || {
            let client = state
                .clients
                .identify(&credentials, state.config.require_client)?;
            state.clients.authorize_grant(client.as_ref(), grant_type)?;
            state.login.check_throttle(&login)?;
            Ok(login)
        })
        .await?
    };

    // The slot is taken here, on the async side, before the login reaches the blocking pool:
    // waiting logins hold no blocking thread and no Argon2 memory.
    let permit = tokio::time::timeout(
        state.config.hash_queue_timeout,
        state.hashing.clone().acquire_owned(),
    )
    .await;
    let Ok(Ok(permit)) = permit else {
        tracing::warn!("login refused: every password hashing slot stayed busy");
        return Err(OAuthError::TemporarilyUnavailable {
            retry_after_secs: retry_after,
        });
    };
    let pair = run_blocking("token", retry_after, move || {
        let result = state.login.execute(&checked);
        drop(permit);
        result
    })
    .await?;
    Ok(token_response(&pair))
}
