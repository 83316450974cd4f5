use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use thiserror::Error;
use tollgate_application::Error as AppError;
use tollgate_domain::DpopRejection;

use crate::response::no_store;

/// An OAuth 2.0 error response (RFC 6749 §5.2). `Display` is the `error_description`.
#[derive(Debug, Error)]
pub enum OAuthError {
    /// Malformed request: missing, repeated or mixed parameters, bad body or content type.
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// The body is larger than the configured limit.
    #[error("request body is too large")]
    BodyTooLarge,
    /// The grant type is not one we support.
    #[error("the grant type is not supported")]
    UnsupportedGrantType,
    /// Client authentication failed (API.md §6): `401` with a Basic challenge.
    #[error("{0}")]
    InvalidClient(&'static str),
    /// The authenticated client may not use the requested grant.
    #[error("the client is not allowed to use this grant type")]
    UnauthorizedClient,
    /// Credentials or refresh token refused. One description for every cause on purpose.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// The `DPoP` proof header is missing where required, repeated, or refused (RFC 9449 §7.1).
    #[error("{0}")]
    InvalidDpopProof(&'static str),
    /// The proof must carry a current server nonce (RFC 9449 §8): `400 use_dpop_nonce` with the
    /// nonce in a `DPoP-Nonce` header.
    #[error("a DPoP proof with the server nonce from the DPoP-Nonce header is required")]
    UseDpopNonce {
        /// The nonce to retry with.
        nonce: String,
    },
    /// Storage cannot be reached; the client may retry.
    #[error("the service is temporarily unavailable, retry later")]
    TemporarilyUnavailable {
        /// Seconds for `Retry-After`.
        retry_after_secs: u32,
    },
    /// Too many failed logins for this name or address (`429`, RFC 6749 §4.3.2).
    #[error("too many failed logins, retry later")]
    TooManyAttempts {
        /// Seconds for `Retry-After`.
        retry_after_secs: u64,
    },
    /// Anything else; details go to the log only.
    #[error("internal server error")]
    ServerError,
}

/// The RFC 6749 §5.2 error body (bearer-protected endpoints answer the same shape).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OAuthErrorBody)]
pub(crate) struct ErrorBody<'a> {
    /// The error code.
    #[schema(value_type = crate::openapi::ErrorCode)]
    pub(crate) error: &'a str,
    /// Readable ASCII without double quotes or backslashes; never a stack trace, SQL or key
    /// material.
    #[schema(examples("invalid user name or password"))]
    pub(crate) error_description: String,
}

impl OAuthError {
    /// The RFC 6749 `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) | Self::BodyTooLarge => "invalid_request",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidClient(_) => "invalid_client",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::UseDpopNonce { .. } => "use_dpop_nonce",
            Self::TemporarilyUnavailable { .. } | Self::TooManyAttempts { .. } => {
                "temporarily_unavailable"
            }
            Self::ServerError => "server_error",
        }
    }

    /// Maps a use-case error at the token endpoint, logging what the client must not see.
    pub fn from_app(e: AppError, retry_after_secs: u32) -> Self {
        match e {
            AppError::InvalidCredentials => Self::InvalidGrant("invalid user name or password"),
            AppError::InvalidClient => Self::InvalidClient("client authentication failed"),
            AppError::UnauthorizedClient => Self::UnauthorizedClient,
            AppError::InvalidToken(reason) => {
                tracing::info!(%reason, "refresh token rejected");
                Self::InvalidGrant("the refresh token is invalid, expired or revoked")
            }
            // A bound family refreshed without a proof of its key: the refresh token is what
            // is refused (RFC 9449 §5), not a proof.
            AppError::InvalidDpopProof(DpopRejection::KeyMismatch) => {
                tracing::info!("refresh of a DPoP-bound family without a proof of its key");
                Self::InvalidGrant("the refresh token is invalid, expired or revoked")
            }
            AppError::InvalidDpopProof(DpopRejection::Missing) => {
                Self::InvalidDpopProof("a DPoP proof is required")
            }
            AppError::InvalidDpopProof(reason) => {
                tracing::info!(%reason, "DPoP proof rejected");
                Self::InvalidDpopProof("the DPoP proof is invalid")
            }
            AppError::UseDpopNonce { nonce } => Self::UseDpopNonce { nonce },
            AppError::Throttled { retry_after_secs } => Self::TooManyAttempts { retry_after_secs },
            AppError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "storage unavailable");
                Self::TemporarilyUnavailable { retry_after_secs }
            }
            other => {
                tracing::error!(error = ?other, "unexpected error at the token endpoint");
                Self::ServerError
            }
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            Self::TemporarilyUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        no_store(&mut response);
        if let Self::TemporarilyUnavailable { retry_after_secs } = self {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if let Self::TooManyAttempts { retry_after_secs } = self {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if let Self::UseDpopNonce { nonce } = self {
            // The nonce is base64url (HmacNonces), so it is always a valid header value.
            response.insert_header((crate::dpop::DPOP_NONCE, nonce.as_str()));
        }
        if let Self::InvalidClient(_) = self {
            // RFC 6749 §5.2: a 401 names the scheme the client may authenticate with.
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tollgate\""),
            ));
        }
        response.json(ErrorBody {
            error: self.code(),
            error_description: self.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_domain::TokenRejection;

    #[test]
    fn every_token_rejection_reads_the_same_to_the_client() {
        let a = OAuthError::from_app(AppError::InvalidToken(TokenRejection::Reused), 5);
        let b = OAuthError::from_app(AppError::InvalidToken(TokenRejection::Signature), 5);
        assert_eq!(a.code(), "invalid_grant");
        assert_eq!(a.to_string(), b.to_string());
    }

    #[test]
    fn storage_outage_is_a_503_with_retry_after() {
        let e = OAuthError::from_app(AppError::Unavailable("down".into()), 7);
        let r = e.error_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "7");
        assert_eq!(r.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
    }

    #[test]
    fn throttling_is_a_429_temporarily_unavailable_with_retry_after() {
        let e = OAuthError::from_app(
            AppError::Throttled {
                retry_after_secs: 8,
            },
            5,
        );
        assert_eq!(e.code(), "temporarily_unavailable");
        let r = e.error_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "8");
        assert_eq!(r.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
    }

    #[test]
    fn descriptions_are_ascii_without_quotes_or_backslashes() {
        let all = [
            OAuthError::InvalidRequest("missing parameter: grant_type"),
            OAuthError::BodyTooLarge,
            OAuthError::UnsupportedGrantType,
            OAuthError::InvalidGrant("x"),
            OAuthError::InvalidClient("client authentication failed"),
            OAuthError::UnauthorizedClient,
            OAuthError::TemporarilyUnavailable {
                retry_after_secs: 1,
            },
            OAuthError::TooManyAttempts {
                retry_after_secs: 1,
            },
            OAuthError::UseDpopNonce { nonce: "n".into() },
            OAuthError::ServerError,
        ];
        for e in all {
            let d = e.to_string();
            assert!(d.is_ascii() && !d.contains('"') && !d.contains('\\'), "{d}");
        }
    }

    #[test]
    fn a_nonce_demand_is_a_400_with_the_nonce_in_a_header() {
        let r = OAuthError::from_app(
            AppError::UseDpopNonce {
                nonce: "bm9uY2U".into(),
            },
            5,
        )
        .error_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers().get("dpop-nonce").unwrap(), "bm9uY2U");
        assert_eq!(r.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
    }

    #[test]
    fn client_failures_are_401_with_a_basic_challenge_and_no_store() {
        let r = OAuthError::from_app(AppError::InvalidClient, 5).error_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Basic realm=\"tollgate\""
        );
        assert_eq!(r.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
        let r = OAuthError::from_app(AppError::UnauthorizedClient, 5);
        assert_eq!(
            (r.code(), r.status_code()),
            ("unauthorized_client", StatusCode::BAD_REQUEST)
        );
    }
}
