//! `POST /api/oauth2/token`: the password and refresh-token grants.

use actix_web::{web, HttpRequest, HttpResponse};
use tollgate_application::LoginRequest;
use tollgate_domain::GrantType;

use crate::body::read_form;
use crate::client_auth::client_credentials;
use crate::form::{parse_token_request, Grant};
use crate::handlers::run_blocking;
use crate::response::token_response;
use crate::service::{Endpoint, Grants};
use crate::{OAuthError, Operations};

/// Issues a token pair for a password login or a refresh token, counting the request by grant
/// and outcome.
pub(crate) async fn token(
    req: HttpRequest,
    payload: web::Payload,
    endpoint: web::Data<Endpoint>,
    grants: web::Data<Grants>,
    operations: web::Data<Operations>,
) -> Result<HttpResponse, OAuthError> {
    let mut grant = "unknown";
    let result = issue(req, payload, endpoint, grants, &mut grant).await;
    if let Some(metrics) = &operations.metrics {
        let outcome = result.as_ref().map_or_else(OAuthError::code, |_| "success");
        metrics.token_request(grant, outcome);
    }
    result
}

async fn issue(
    req: HttpRequest,
    payload: web::Payload,
    endpoint: web::Data<Endpoint>,
    grants: web::Data<Grants>,
    grant: &mut &'static str,
) -> Result<HttpResponse, OAuthError> {
    let body = read_form(&req, payload, endpoint.config.max_body_bytes).await?;
    let request = parse_token_request(&body)?;
    *grant = match &request.grant {
        Grant::Password { .. } => "password",
        Grant::RefreshToken { .. } => "refresh_token",
    };
    let credentials = client_credentials(&req, request.client_id, request.client_secret)?;
    let retry_after = endpoint.config.retry_after_secs;
    let pair = run_blocking("token", retry_after, move || {
        // The client is settled first, so a refused client costs no password hashing and
        // spends no refresh token.
        let client = endpoint.identify(&credentials, endpoint.config.require_client)?;
        let grant_type = match &request.grant {
            Grant::Password { .. } => GrantType::Password,
            Grant::RefreshToken { .. } => GrantType::RefreshToken,
        };
        endpoint.authorize_grant(client.as_ref(), grant_type)?;
        match request.grant {
            Grant::Password {
                user_name,
                password,
                long_lived,
            } => grants.login.execute(&LoginRequest {
                user_name,
                password,
                long_lived,
            }),
            Grant::RefreshToken { refresh_token } => grants.refresh.execute(&refresh_token),
        }
    })
    .await?;
    Ok(token_response(&pair))
}
