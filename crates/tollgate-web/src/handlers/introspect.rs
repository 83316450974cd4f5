//! `POST /api/oauth2/introspect`: token introspection (RFC 7662) for configured clients.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use tollgate_application::{Introspected, Introspection};

use crate::handlers::run_blocking;
use crate::operation_form::read_token_operation;
use crate::response::no_store;
use crate::service::Endpoint;
use crate::OAuthError;

/// The RFC 7662 §2.2 answer. An inactive token is `{"active":false}` and nothing else, so that
/// the answer tells nothing about why.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Introspection)]
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
#[utoipa::path(
    post,
    path = "/api/oauth2/introspect",
    tag = "oauth2",
    operation_id = "introspect",
    description = "RFC 7662, for authenticated configured clients only (HTTP Basic or \
`client_id`/`client_secret` in the body). Anything not active is `{\"active\":false}`.",
    request_body(content = crate::openapi::TokenOperationForm, content_type = "application/x-www-form-urlencoded"),
    security(("client_basic" = [])),
    responses(
        (status = 200, description = "The token's state", body = IntrospectionBody),
        (status = 400, description = "`invalid_request`: `token` missing or repeated, malformed \
body, wrong content type", body = crate::error::ErrorBody),
        (status = 401, description = "`invalid_client`: client authentication failed",
            body = crate::error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"tollgate\"`"))),
        (status = 413, description = "`invalid_request`: the body exceeds `server.max_body_bytes`",
            body = crate::error::ErrorBody),
        (status = 500, description = "`server_error`", body = crate::error::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database cannot be reached",
            body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ),
)]
pub(crate) async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    endpoint: web::Data<Endpoint>,
    introspection: web::Data<Introspection>,
) -> Result<HttpResponse, OAuthError> {
    let (token, hint, mut credentials) =
        read_token_operation(&req, payload, endpoint.config.max_body_bytes).await?;
    credentials.address = endpoint.address_of(&req);
    let retry_after = endpoint.config.retry_after_secs;
    let found = run_blocking("introspection", retry_after, move || {
        // Introspection answers questions about other people's tokens: always a known client.
        endpoint.identify(&credentials, true)?;
        introspection.execute(&token, hint)
    })
    .await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(IntrospectionBody::from_result(&found)))
}
