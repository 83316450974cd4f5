//! `POST /api/oauth2/introspect`: token introspection (RFC 7662) for configured clients.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tollgate_application::{Error as AppError, Introspected, Introspection};

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
    /// The client the token was issued to; absent for a token issued without client
    /// authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    /// Extension member (RFC 7662 §2.2): the `kid` of the key that signed the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    /// Extension member (RFC 7662 §2.2): the JWS algorithm the token is signed with.
    #[serde(skip_serializing_if = "Option::is_none")]
    alg: Option<&'a str>,
    /// The DPoP key a bound token is bound to (RFC 9449 §6.2, RFC 7800).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation<'a>>,
}

/// `cnf` with the RFC 7638 thumbprint of the DPoP key.
#[derive(Serialize, utoipa::ToSchema)]
struct Confirmation<'a> {
    jkt: &'a str,
}

impl<'a> Confirmation<'a> {
    fn of(jkt: Option<&'a tollgate_domain::Jkt>) -> Option<Self> {
        jkt.map(|jkt| Self { jkt: jkt.as_str() })
    }
}

/// The `kid` and `alg` of a token's JWS header.
#[derive(Deserialize)]
struct SigningHeader {
    kid: String,
    alg: String,
}

/// A header no longer than this is not ours (ours are under 100 characters).
const MAX_HEADER_CHARS: usize = 1024;

/// The JWS header of `token`, if it decodes. A plain decode with no check of its own: it is
/// shown only once the use case found the token active, that is verified, and verification
/// covers the header and accepts a token only with the key its `kid` names, under that key's
/// own `alg`.
fn signing_header(token: &str) -> Option<SigningHeader> {
    let encoded = token.split('.').next()?;
    if encoded.len() > MAX_HEADER_CHARS {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()
}

impl<'a> IntrospectionBody<'a> {
    fn from_result(found: &'a Introspected, header: Option<&'a SigningHeader>) -> Self {
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
            client_id: None,
            kid: None,
            alg: None,
            cnf: None,
        };
        let kid = header.map(|h| h.kid.as_str());
        let alg = header.map(|h| h.alg.as_str());
        match found {
            Introspected::Inactive => inactive,
            Introspected::Access {
                claims: c,
                client_id,
            } => Self {
                active: true,
                // RFC 7662's token_type is the OAuth token type of RFC 6749 §7.1; a bound token
                // is of type DPoP (RFC 9449 §6.2).
                token_type: Some(if c.cnf_jkt.is_some() {
                    "DPoP"
                } else {
                    "Bearer"
                }),
                sub: Some(c.sub.to_string()),
                username: Some(&c.unique_name),
                exp: Some(c.expires_at.timestamp()),
                iat: Some(c.issued_at.timestamp()),
                iss: Some(&c.issuer),
                aud: Some("access"),
                sid: Some(c.sid.to_string()),
                client_id: client_id.as_ref().map(|c| c.as_str()),
                kid,
                alg,
                cnf: Confirmation::of(c.cnf_jkt.as_ref()),
            },
            Introspected::Refresh {
                claims: c,
                client_id,
                jkt,
            } => Self {
                active: true,
                token_type: Some("refresh_token"),
                sub: Some(c.sub.to_string()),
                username: Some(&c.unique_name),
                exp: Some(c.expires_at.timestamp()),
                iat: Some(c.issued_at.timestamp()),
                iss: Some(&c.issuer),
                aud: Some("refresh"),
                sid: None,
                client_id: client_id.as_ref().map(|c| c.as_str()),
                kid,
                alg,
                cnf: Confirmation::of(jkt.as_ref()),
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
`client_id`/`client_secret` in the body). Anything not active is `{\"active\":false}`, and so \
is a token bound to another client (issued to it at login) unless the caller was created with \
`tollgate client add --introspect-any`. An active token bound to a client carries its \
`client_id`; an active token's answer adds the extension members `kid` and `alg` of the key \
that signed it. A DPoP-bound token (access or refresh) carries `cnf.jkt`, the thumbprint of its \
key, and an access token of that kind has `token_type: DPoP`.",
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
    let header = signing_header(&token);
    let found = run_blocking("introspection", retry_after, move || {
        // Introspection answers questions about other people's tokens: always a known client.
        let client = endpoint
            .identify(&credentials, true)?
            .ok_or(AppError::InvalidClient)?;
        introspection.execute(&token, hint, &client)
    })
    .await?;
    Ok(no_store(&mut HttpResponse::Ok())
        .json(IntrospectionBody::from_result(&found, header.as_ref())))
}
