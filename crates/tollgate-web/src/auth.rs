//! A reusable bearer-token extractor (RFC 6750) for actix-web services.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use thiserror::Error;
use tollgate_application::{AccessGuard, Clock, Error as AppError, TokenVerifier};
use tollgate_domain::AccessClaims;

use crate::error::ErrorBody;
use crate::response::no_store;

type Check = dyn Fn(&str) -> Result<AccessClaims, AppError> + Send + Sync;

/// How bearer tokens are checked. Register it as `web::Data<BearerAuth>` and take
/// [`Authenticated`] in a handler.
#[derive(Clone)]
pub struct BearerAuth {
    check: Arc<Check>,
    realm: Arc<str>,
    retry_after_secs: u32,
}

impl BearerAuth {
    /// Offline verification with any [`TokenVerifier`] (for example one built from Tollgate's
    /// JWKS): signature, `alg` allow-list, `aud = "access"`, `iss`, `exp`/`nbf`. It cannot see
    /// revocation; that is what the short access lifetime and introspection are for.
    pub fn offline(verifier: Arc<dyn TokenVerifier>, clock: Arc<dyn Clock>) -> Self {
        Self::from_check(Arc::new(move |token: &str| {
            verifier.verify_access(token, clock.now())
        }))
    }

    /// Verification plus a session check against Tollgate's own storage: a token whose session
    /// (`sid`) was revoked is refused at once.
    pub fn with_session_check(guard: AccessGuard) -> Self {
        Self::from_check(Arc::new(move |token: &str| guard.authenticate(token)))
    }

    fn from_check(check: Arc<Check>) -> Self {
        Self {
            check,
            realm: Arc::from("tollgate"),
            retry_after_secs: 5,
        }
    }

    /// The `realm` of the `WWW-Authenticate` challenge (default `tollgate`); quotes and
    /// backslashes are dropped so the header stays well-formed.
    pub fn realm(mut self, realm: &str) -> Self {
        let clean: String = realm
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect();
        self.realm = Arc::from(clean);
        self
    }
}

/// The verified caller of a bearer-protected endpoint.
#[derive(Debug, Clone)]
pub struct Authenticated(pub AccessClaims);

/// Why a bearer-protected request was refused (RFC 6750 §3).
#[derive(Debug, Error)]
pub enum BearerError {
    /// No bearer credentials: a bare challenge, no error code.
    #[error("authentication required")]
    Missing {
        /// The challenge's realm.
        realm: Arc<str>,
    },
    /// A token was sent and refused: malformed, expired, forged, refresh-audience or revoked.
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken {
        /// The challenge's realm.
        realm: Arc<str>,
    },
    /// The session check could not reach storage.
    #[error("the service is temporarily unavailable, retry later")]
    Unavailable {
        /// Seconds for `Retry-After`.
        retry_after_secs: u32,
    },
    /// Misconfiguration or a bug; details are logged.
    #[error("internal server error")]
    Internal,
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Missing { .. } | Self::InvalidToken { .. } => StatusCode::UNAUTHORIZED,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        no_store(&mut response);
        let code = match self {
            Self::Missing { realm } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"{realm}\""),
                ));
                return response.finish();
            }
            Self::InvalidToken { realm } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{self}\""),
                ));
                "invalid_token"
            }
            Self::Unavailable { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
                "temporarily_unavailable"
            }
            Self::Internal => "server_error",
        };
        response.json(ErrorBody {
            error: code,
            error_description: self.to_string(),
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header; `None` for no header or another scheme.
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl FromRequest for Authenticated {
    type Error = BearerError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = req.app_data::<web::Data<BearerAuth>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let Some(auth) = auth else {
                tracing::error!("Authenticated used without web::Data<BearerAuth> registered");
                return Err(BearerError::Internal);
            };
            let realm = auth.realm.clone();
            let Some(token) = token.filter(|t| !t.is_empty()) else {
                return Err(BearerError::Missing { realm });
            };
            let retry_after_secs = auth.retry_after_secs;
            // The session check may touch storage: keep it off the async executor.
            let checked = web::block(move || (auth.check)(&token))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "bearer check task failed");
                    BearerError::Internal
                })?;
            match checked {
                Ok(claims) => Ok(Authenticated(claims)),
                Err(AppError::InvalidToken(reason)) => {
                    tracing::debug!(%reason, "bearer token refused");
                    Err(BearerError::InvalidToken { realm })
                }
                Err(AppError::Unavailable(cause)) => {
                    tracing::warn!(error = %cause, "storage unavailable during bearer check");
                    Err(BearerError::Unavailable { retry_after_secs })
                }
                Err(other) => {
                    tracing::error!(error = ?other, "unexpected error during bearer check");
                    Err(BearerError::Internal)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_the_bearer_scheme_yields_a_token() {
        let with = |v: &str| {
            bearer_token(
                &TestRequest::default()
                    .insert_header((header::AUTHORIZATION, v))
                    .to_http_request(),
            )
        };
        assert_eq!(with("Bearer abc.def.ghi").as_deref(), Some("abc.def.ghi"));
        assert_eq!(with("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(with("Basic dXNlcjpwdw=="), None);
        assert_eq!(with("Bearer"), None);
        assert_eq!(
            bearer_token(&TestRequest::default().to_http_request()),
            None
        );
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let realm: Arc<str> = Arc::from("tollgate");
        let missing = BearerError::Missing {
            realm: realm.clone(),
        }
        .error_response();
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            missing.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"tollgate\""
        );
        let invalid = BearerError::InvalidToken { realm }.error_response();
        let challenge = invalid
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"tollgate\", error=\"invalid_token\""),
            "{challenge}"
        );
    }

    #[test]
    fn a_hostile_realm_cannot_break_the_header() {
        let auth =
            BearerAuth::from_check(Arc::new(|_| Err(AppError::UserNotFound))).realm("a\"b\\c\r\nd");
        assert_eq!(&*auth.realm, "abcd");
    }
}
