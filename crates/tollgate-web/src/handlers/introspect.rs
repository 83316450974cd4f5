//! `POST /api/oauth2/introspect`: token introspection (RFC 7662) for configured clients.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use tollgate_application::Introspected;

use crate::body::read_form;
use crate::client_auth::client_credentials;
use crate::operation_form::parse_token_operation;
use crate::{AppState, OAuthError};

/// The RFC 7662 §2.2 answer. An inactive token is `{"active":false}` and nothing else, so that
/// the answer tells nothing about why.
#[derive(Serialize)]
struct IntrospectionBody<'a> {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

impl<'a> IntrospectionBody<'a> {
    fn from_result(found: &'a Introspected) -> Self {
        let inactive = Self {
            active: false,
            token_type: None,
            sub: None,
            username: None,
            exp: None,
            iat: None,
            iss: None,
            aud: None,
            sid: None,
        };
        match found {
            Introspected::Inactive => inactive,
            Introspected::Access(c) => Self {
                active: true,
                // RFC 7662's token_type is the OAuth token type of RFC 6749 §7.1.
                token_type: Some("Bearer"),
                sub: Some(c.sub.to_string()),
                username: Some(&c.unique_name),
                exp: Some(c.expires_at.timestamp()),
                iat: Some(c.issued_at.timestamp()),
                iss: Some(&c.issuer),
                aud: Some("access"),
                sid: Some(c.sid.to_string()),
            },
            Introspected::Refresh(c) => Self {
                active: true,
                token_type: Some("refresh_token"),
                sub: Some(c.sub.to_string()),
                username: Some(&c.unique_name),
                exp: Some(c.expires_at.timestamp()),
                iat: Some(c.issued_at.timestamp()),
                iss: Some(&c.issuer),
                aud: Some("refresh"),
                sid: None,
            },
        }
    }
}

/// Tells an authenticated client whether a token is active, and its claims when it is.
pub(crate) async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let body = read_form(&req, payload, state.config.max_body_bytes).await?;
    let request = parse_token_operation(&body)?;
    let credentials = client_credentials(&req, request.client_id, request.client_secret)?;
    let retry_after = state.config.retry_after_secs;
    let found = web::block(move || {
        // Introspection answers questions about other people's tokens: always a known client.
        state.clients.identify(&credentials, true)?;
        state.introspection.execute(&request.token, request.hint)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "introspection task failed");
        OAuthError::ServerError
    })?
    .map_err(|e| OAuthError::from_app(e, retry_after))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .json(IntrospectionBody::from_result(&found)))
}
