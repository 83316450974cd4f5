//! The wire contract (docs/API.md) as an OpenAPI 3.1 document, generated with `utoipa` from the
//! `#[utoipa::path]` attributes on the handlers and the `ToSchema` derives on the response DTOs,
//! and served at `GET /api/openapi.json` with a Swagger page at `/api/docs`.
//!
//! The two form bodies are described by [`TokenForm`] and [`TokenOperationForm`]: the parsers
//! (`form.rs`, `operation_form.rs`) are hand-written for case-insensitive names and duplicate
//! detection, so these structs exist only to describe the wire format.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::handlers;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Where the Swagger page is served (its assets live under `/api/docs/`).
pub const DOCS_PATH: &str = "/api/docs";

/// The name of the HTTP Basic client-authentication scheme in the document.
pub(crate) const CLIENT_BASIC: &str = "client_basic";
/// The name of the bearer access-token scheme in the document.
pub(crate) const BEARER: &str = "bearer";

/// An OAuth 2.0 `error` code (RFC 6749 §5.2, RFC 6750 §3.1) as Tollgate sends it:
/// `invalid_request` (400, or 413 for a too large body), `unsupported_grant_type` (400),
/// `invalid_client` (401 with `WWW-Authenticate: Basic`), `unauthorized_client` (400),
/// `invalid_grant` (400), `temporarily_unavailable` (429 for the login throttle, 503 when storage
/// is unreachable or the server saturated; both with `Retry-After`), `server_error` (500), and `invalid_token` (401 from
/// bearer-protected endpoints, with `WWW-Authenticate: Bearer`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // Describes the wire format only; `OAuthError::code` produces the strings.
pub(crate) enum ErrorCode {
    /// A parameter missing, repeated or given in both spellings; a malformed or too large body;
    /// the wrong content type.
    InvalidRequest,
    /// A grant type other than password or refresh_token.
    UnsupportedGrantType,
    /// Client authentication failed (401 with `WWW-Authenticate: Basic`).
    InvalidClient,
    /// The client may not use this grant.
    UnauthorizedClient,
    /// Wrong credentials, or a refresh token that is invalid, expired, revoked or spent (or
    /// bound to a DPoP key the request did not prove).
    InvalidGrant,
    /// A `DPoP` proof header that is repeated, refused (RFC 9449 §4.3) or replayed, or missing
    /// while `dpop.required` is on.
    InvalidDpopProof,
    /// `dpop.require_nonce` is on and the proof carried no current server nonce: retry with the
    /// nonce from the `DPoP-Nonce` header (RFC 9449 §8).
    UseDpopNonce,
    /// Too many failed logins, storage unreachable, or the server saturated (429 or 503, with
    /// `Retry-After`).
    TemporarilyUnavailable,
    /// An unexpected failure; details are only logged.
    ServerError,
    /// A bearer-protected endpoint refused the access token (401, RFC 6750).
    InvalidToken,
}

/// The form body of `POST /api/oauth2/token` (`application/x-www-form-urlencoded`).
///
/// Names compare case-insensitively; empty values count as missing; a parameter given twice or
/// under both spellings is `invalid_request`; unknown parameters are ignored. Give exactly one
/// spelling of each: the product dialect (camelCase) or RFC 6749.
#[derive(ToSchema)]
#[allow(non_snake_case, dead_code)] // Field names are the wire names; never constructed.
pub(crate) struct TokenForm {
    /// Product dialect grant: `Password` or `RefreshToken` (case-insensitive).
    #[schema(examples("Password"), nullable = false)]
    grantType: Option<String>,
    /// RFC 6749 grant: `password` or `refresh_token`.
    #[schema(examples("password"), nullable = false)]
    grant_type: Option<String>,
    /// Product dialect login name (password grant).
    #[schema(examples("administrator"), nullable = false)]
    userName: Option<String>,
    /// RFC 6749 login name (password grant).
    #[schema(nullable = false)]
    username: Option<String>,
    /// The password (password grant; both dialects).
    #[schema(format = Password, nullable = false)]
    password: Option<String>,
    /// Product dialect refresh token (refresh grant).
    #[schema(nullable = false)]
    refreshToken: Option<String>,
    /// RFC 6749 refresh token (refresh grant).
    #[schema(nullable = false)]
    refresh_token: Option<String>,
    /// `true` asks for a 14-day refresh token instead of 24 hours (login only; default false).
    #[schema(nullable = false)]
    longLivedRefreshToken: Option<bool>,
    /// Client id, when the client authenticates in the body instead of HTTP Basic.
    #[schema(nullable = false)]
    client_id: Option<String>,
    /// Client secret, when the client authenticates in the body instead of HTTP Basic.
    #[schema(format = Password, nullable = false)]
    client_secret: Option<String>,
}

/// The form body of revocation (RFC 7009) and introspection (RFC 7662).
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the wire format only; `operation_form.rs` parses it.
pub(crate) struct TokenOperationForm {
    /// The access or refresh token.
    token: String,
    /// `access_token` or `refresh_token`; any other value is ignored.
    #[schema(nullable = false)]
    token_type_hint: Option<String>,
    /// Client id, when the client authenticates in the body instead of HTTP Basic.
    #[schema(nullable = false)]
    client_id: Option<String>,
    /// Client secret, when the client authenticates in the body instead of HTTP Basic.
    #[schema(format = Password, nullable = false)]
    client_secret: Option<String>,
}

/// Tollgate's HTTP API, as served by the `tollgate` server.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tollgate",
        description = "Refresh-token rotation service: an OAuth 2.0 token endpoint in two \
wire dialects (the product dialect with camelCase names, and RFC 6749). The contract in prose: \
docs/API.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        handlers::token::token,
        handlers::logout::logout,
        handlers::revoke::revoke,
        handlers::introspect::introspect,
        handlers::me::me,
        handlers::jwks::jwks,
        handlers::discovery::discovery,
        handlers::health::healthz,
        handlers::health::readyz,
        handlers::metrics::metrics,
        openapi_document,
    ),
    components(schemas(ErrorCode, TokenForm, TokenOperationForm)),
    modifiers(&SecuritySchemes, &DocsPage),
    tags(
        (name = "oauth2", description = "Token endpoint, logout, revocation, introspection"),
        (name = "users", description = "The caller's own account"),
        (name = "discovery", description = "Key set and authorization-server metadata"),
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "documentation", description = "This document and its Swagger page"),
    ),
)]
pub struct ApiDoc;

/// Adds the security schemes the paths refer to.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            CLIENT_BASIC,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "OAuth client credentials (client_secret_basic). Optional unless \
auth.require_client is on; always required for introspection. client_id and client_secret in the \
form body (client_secret_post) are the alternative. A login that authenticates a client binds its \
refresh tokens to that client: only it may refresh or revoke them, and only it (or a client added \
with --introspect-any) sees them active at introspection.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from the token endpoint. A DPoP-bound one (its \
login carried a DPoP proof) is sent as `Authorization: DPoP <token>` instead, with a `DPoP` proof \
header for the request that carries the token's hash (`ath`), RFC 9449 §7.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds `GET /api/docs`, which `utoipa-swagger-ui` serves (there is no handler to annotate).
struct DocsPage;

impl Modify for DocsPage {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let html = ResponseBuilder::new()
            .description("The Swagger UI page for this document")
            .content("text/html", ContentBuilder::new().build())
            .build();
        let redirect = ResponseBuilder::new()
            .description("Redirect to `/api/docs/`, where the page and its assets are served")
            .build();
        let operation = OperationBuilder::new()
            .tag("documentation")
            .operation_id(Some("docs"))
            .summary(Some("Interactive API documentation (Swagger UI)"))
            .response("200", html)
            .response("308", redirect)
            .build();
        openapi
            .paths
            .add_path_operation(DOCS_PATH, vec![HttpMethod::Get], operation);
    }
}

/// The rendered document, shared by every worker.
pub(crate) struct Document(String);

/// The document as JSON.
///
/// # Errors
/// When it cannot be serialised (a bug in the annotations).
pub fn openapi_json() -> Result<String, serde_json::Error> {
    ApiDoc::openapi().to_pretty_json()
}

/// This OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "documentation",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")),
)]
async fn openapi_document(document: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .body(document.0.clone())
}

/// `/api/docs` without the slash: the page's assets are relative, so send the browser to the
/// directory form (relative `Location`, so it also works inside a scope).
async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, HeaderValue::from_static("docs/")))
        .finish()
}

/// Registers `GET /api/openapi.json` and the Swagger page under `/api/docs`.
pub(crate) fn register(cfg: &mut web::ServiceConfig) {
    let document = match openapi_json() {
        Ok(json) => json,
        Err(e) => {
            // Cannot happen for a derived document; answer an empty object rather than panic.
            tracing::error!(error = %e, "the OpenAPI document cannot be rendered");
            "{}".to_owned()
        }
    };
    cfg.app_data(web::Data::new(Document(document)))
        .service(web::resource(OPENAPI_PATH).route(web::get().to(openapi_document)))
        .service(web::resource(DOCS_PATH).route(web::get().to(docs_redirect)))
        .service(SwaggerUi::new("/api/docs/{_:.*}").config(Config::from(OPENAPI_PATH)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn document() -> Value {
        serde_json::from_str(&openapi_json().unwrap()).unwrap()
    }

    fn response<'a>(doc: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
        let r = &doc["paths"][path][method]["responses"][status];
        assert!(r.is_object(), "{method} {path} has no {status}");
        r
    }

    #[test]
    fn the_metadata_documents_its_signing_algorithms_extension() {
        let doc = document();
        let metadata = &doc["components"]["schemas"]["AuthorizationServerMetadata"];
        let member = &metadata["properties"]["token_signing_alg_values_supported"];
        assert!(member.is_object(), "{metadata}");
        assert!(
            member.to_string().contains("Extension member"),
            "the member says it is an extension: {member}"
        );
        let introspection = &doc["components"]["schemas"]["Introspection"]["properties"];
        for member in ["kid", "alg"] {
            assert!(
                introspection[member].is_object(),
                "{member}: {introspection}"
            );
        }
        let jwk = &doc["components"]["schemas"]["Jwk"];
        let required = jwk["required"].as_array().unwrap();
        assert!(required.contains(&Value::from("alg")), "{jwk}");
    }

    #[test]
    fn the_token_form_names_both_dialects() {
        let doc = document();
        let body = &doc["paths"]["/api/oauth2/token"]["post"]["requestBody"]["content"];
        assert_eq!(
            body["application/x-www-form-urlencoded"]["schema"]["$ref"],
            "#/components/schemas/TokenForm"
        );
        let props = doc["components"]["schemas"]["TokenForm"]["properties"]
            .as_object()
            .unwrap();
        for name in [
            "grantType",
            "userName",
            "password",
            "refreshToken",
            "longLivedRefreshToken",
            "grant_type",
            "username",
            "refresh_token",
            "client_id",
            "client_secret",
        ] {
            assert!(props.contains_key(name), "{name}");
        }
    }

    #[test]
    fn errors_carry_the_oauth_body_and_their_headers() {
        let doc = document();
        let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        for code in [
            "invalid_request",
            "unsupported_grant_type",
            "invalid_client",
            "unauthorized_client",
            "invalid_grant",
            "temporarily_unavailable",
            "server_error",
            "invalid_token",
        ] {
            assert!(codes.contains(&code), "{code} missing from {codes:?}");
        }
        let token = "/api/oauth2/token";
        for status in ["400", "401", "413", "429", "500", "503"] {
            let r = response(&doc, token, "post", status);
            assert_eq!(
                r["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/OAuthErrorBody",
                "{status}"
            );
        }
        for (status, header) in [
            ("401", "WWW-Authenticate"),
            ("429", "Retry-After"),
            ("503", "Retry-After"),
        ] {
            let r = response(&doc, token, "post", status);
            assert!(r["headers"][header].is_object(), "{status} {header}");
        }
        let me = response(&doc, "/api/users/me", "get", "401");
        assert!(me["headers"]["WWW-Authenticate"].is_object());
    }

    #[test]
    fn security_schemes_are_defined_and_used() {
        let doc = document();
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes[CLIENT_BASIC]["scheme"], "basic");
        assert_eq!(schemes[BEARER]["scheme"], "bearer");
        let token_security = doc["paths"]["/api/oauth2/token"]["post"]["security"].to_string();
        assert!(token_security.contains(CLIENT_BASIC), "{token_security}");
        let me_security = doc["paths"]["/api/users/me"]["get"]["security"].to_string();
        assert!(me_security.contains(BEARER), "{me_security}");
    }
}
