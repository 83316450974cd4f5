//! A reusable access-token extractor for actix-web services: bearer tokens (RFC 6750) and,
//! when switched on, DPoP-bound tokens (RFC 9449 §7).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use thiserror::Error;
use tollgate_application::{AccessGuard, Clock, DpopCheck, Error as AppError, TokenVerifier};
use tollgate_domain::{AccessClaims, TokenRejection};

use crate::dpop::{proof_header, DPOP_NONCE};
use crate::error::ErrorBody;
use crate::response::no_store;

type Check = dyn Fn(&str) -> Result<AccessClaims, AppError> + Send + Sync;

/// How access tokens are checked. Register it as `web::Data<BearerAuth>` and take
/// [`Authenticated`] in a handler.
#[derive(Clone)]
pub struct BearerAuth {
    check: Arc<Check>,
    challenge: Challenge,
    retry_after_secs: u32,
    /// DPoP proofs for bound tokens; `None`: only the `Bearer` scheme is understood.
    dpop: Option<DpopCheck>,
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
            challenge: Challenge {
                realm: Arc::from("tollgate"),
                dpop_algs: None,
            },
            retry_after_secs: 5,
            dpop: None,
        }
    }

    /// The `realm` of the `WWW-Authenticate` challenge (default `tollgate`); quotes and
    /// backslashes are dropped so the header stays well-formed.
    pub fn realm(mut self, realm: &str) -> Self {
        self.challenge.realm = Arc::from(clean(realm));
        self
    }

    /// Accepts DPoP-bound access tokens (`cnf.jkt`) as `Authorization: DPoP <token>` with a
    /// `DPoP` proof header for this request (method, URL below the base URL `check`'s verifier
    /// was given, `ath` of the token), new to `check`'s replay cache and signed by the bound
    /// key. Challenges then also offer the `DPoP` scheme with its `algs`.
    ///
    /// A bound token sent as `Bearer` is refused whether or not this is on: whoever holds only
    /// the token is exactly who the binding keeps out.
    pub fn dpop(mut self, check: DpopCheck) -> Self {
        self.challenge.dpop_algs = Some(Arc::from(clean(&check.algorithms().join(" "))));
        self.dpop = Some(check);
        self
    }
}

/// Drops what would end a quoted header parameter early or split the header.
fn clean(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// What the `WWW-Authenticate` challenges say besides the error.
#[derive(Debug, Clone)]
pub struct Challenge {
    realm: Arc<str>,
    /// The proof algorithms, when the `DPoP` scheme is offered.
    dpop_algs: Option<Arc<str>>,
}

/// The verified caller of a protected endpoint. A DPoP-bound token shows its key thumbprint in
/// `cnf_jkt`, and got here only with a valid proof by that key.
#[derive(Debug, Clone)]
pub struct Authenticated(pub AccessClaims);

/// The authorization scheme a refusal is reported under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449).
    Dpop,
}

/// Why a request to a protected endpoint was refused (RFC 6750 §3, RFC 9449 §7.1).
#[derive(Debug, Error)]
pub enum BearerError {
    /// No usable credentials: bare challenges, no error code.
    #[error("authentication required")]
    Missing {
        /// The challenges' parameters.
        challenge: Challenge,
    },
    /// A token was sent and refused: malformed, expired, forged, refresh-audience, revoked, or
    /// presented under the wrong scheme for its binding.
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken {
        /// The challenges' parameters.
        challenge: Challenge,
        /// The scheme the error is reported under.
        scheme: Scheme,
    },
    /// The `DPoP` proof is missing, repeated, invalid, replayed, or by another key than the
    /// token is bound to.
    #[error("the DPoP proof is invalid")]
    InvalidDpopProof {
        /// The challenges' parameters.
        challenge: Challenge,
    },
    /// The proof must carry the current server nonce (RFC 9449 §9), sent in `DPoP-Nonce`.
    #[error("a DPoP proof with the server nonce from the DPoP-Nonce header is required")]
    UseDpopNonce {
        /// The challenges' parameters.
        challenge: Challenge,
        /// The nonce to retry with.
        nonce: String,
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

impl BearerError {
    fn code(&self) -> &'static str {
        match self {
            Self::Missing { .. } => "",
            Self::InvalidToken { .. } => "invalid_token",
            Self::InvalidDpopProof { .. } => "invalid_dpop_proof",
            Self::UseDpopNonce { .. } => "use_dpop_nonce",
            Self::Unavailable { .. } => "temporarily_unavailable",
            Self::Internal => "server_error",
        }
    }

    /// The `WWW-Authenticate` values: one per offered scheme, the error under the scheme it
    /// concerns (RFC 9449 §7.1 allows several challenges).
    fn challenges(&self) -> Vec<String> {
        let (challenge, error_scheme) = match self {
            Self::Missing { challenge } => (challenge, None),
            Self::InvalidToken { challenge, scheme } => (challenge, Some(*scheme)),
            Self::InvalidDpopProof { challenge } | Self::UseDpopNonce { challenge, .. } => {
                (challenge, Some(Scheme::Dpop))
            }
            Self::Unavailable { .. } | Self::Internal => return Vec::new(),
        };
        // Without DPoP support a DPoP-scheme error can only be about a bound token sent as
        // bearer: say it under the scheme we do offer.
        let error_scheme = match (error_scheme, &challenge.dpop_algs) {
            (Some(Scheme::Dpop), None) => Some(Scheme::Bearer),
            (scheme, _) => scheme,
        };
        let error = format!(", error=\"{}\", error_description=\"{self}\"", self.code());
        let error_for = |scheme| {
            if error_scheme == Some(scheme) {
                error.as_str()
            } else {
                ""
            }
        };
        let realm = &challenge.realm;
        let mut out = vec![format!(
            "Bearer realm=\"{realm}\"{}",
            error_for(Scheme::Bearer)
        )];
        if let Some(algs) = &challenge.dpop_algs {
            out.push(format!(
                "DPoP realm=\"{realm}\", algs=\"{algs}\"{}",
                error_for(Scheme::Dpop)
            ));
        }
        out
    }
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Missing { .. }
            | Self::InvalidToken { .. }
            | Self::InvalidDpopProof { .. }
            | Self::UseDpopNonce { .. } => StatusCode::UNAUTHORIZED,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        no_store(&mut response);
        for challenge in self.challenges() {
            response.append_header((header::WWW_AUTHENTICATE, challenge));
        }
        match self {
            // RFC 6750 §3.1: a request without credentials gets no error code and no body.
            Self::Missing { .. } => return response.finish(),
            Self::UseDpopNonce { nonce, .. } => {
                response.insert_header((DPOP_NONCE, nonce.as_str()));
            }
            Self::Unavailable { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error: self.code(),
            error_description: self.to_string(),
        })
    }
}

/// The scheme and token of the `Authorization` header; `None` for no header, an unknown scheme,
/// or `DPoP` when `dpop` is off (the scheme is then unknown to this service).
fn credentials(req: &HttpRequest, dpop: bool) -> Option<(Scheme, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if dpop && scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return None;
    };
    Some((scheme, token.to_owned()))
}

/// What one request presented, gathered on the async side.
struct Presented {
    token: String,
    /// Under the `DPoP` scheme, what its proof is checked against; `None` for `Bearer`.
    dpop: Option<ProofRequest>,
}

/// The request a `DPoP` proof must match.
struct ProofRequest {
    /// The single `DPoP` header; `None` when absent, repeated or unreadable.
    proof: Option<String>,
    method: String,
    path: String,
}

impl Presented {
    fn scheme(&self) -> Scheme {
        if self.dpop.is_some() {
            Scheme::Dpop
        } else {
            Scheme::Bearer
        }
    }
}

impl BearerAuth {
    /// The whole check for one request. Blocking (session check, replay cache).
    fn authenticate(&self, presented: &Presented) -> Result<AccessClaims, AppError> {
        let claims = (self.check)(&presented.token)?;
        match (&presented.dpop, &self.dpop) {
            // A bound token needs its proof: as a bearer token it is refused (RFC 9449 §7.2).
            (None, _) if claims.cnf_jkt.is_some() => {
                Err(AppError::InvalidToken(TokenRejection::SchemeMismatch))
            }
            (None, _) => Ok(claims),
            (Some(request), Some(dpop)) => {
                let proof = request.proof.as_deref().ok_or(AppError::InvalidDpopProof(
                    tollgate_domain::DpopRejection::Malformed,
                ))?;
                dpop.check_presented(
                    &claims,
                    &presented.token,
                    proof,
                    &request.method,
                    &request.path,
                )?;
                Ok(claims)
            }
            // `credentials` yields the DPoP scheme only when DPoP is on.
            (Some(_), None) => Err(AppError::unexpected("DPoP scheme without DPoP")),
        }
    }
}

impl FromRequest for Authenticated {
    type Error = BearerError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = req.app_data::<web::Data<BearerAuth>>().cloned();
        let presented = auth.as_ref().and_then(|auth| {
            credentials(req, auth.dpop.is_some()).map(|(scheme, token)| Presented {
                token,
                // Read only for the DPoP scheme: a bearer request costs no copies.
                dpop: (scheme == Scheme::Dpop).then(|| ProofRequest {
                    proof: proof_header(req).ok().flatten(),
                    method: req.method().as_str().to_owned(),
                    path: req.path().to_owned(),
                }),
            })
        });
        Box::pin(async move {
            let Some(auth) = auth else {
                tracing::error!("Authenticated used without web::Data<BearerAuth> registered");
                return Err(BearerError::Internal);
            };
            let challenge = auth.challenge.clone();
            let Some(presented) = presented else {
                return Err(BearerError::Missing { challenge });
            };
            let retry_after_secs = auth.retry_after_secs;
            let scheme = presented.scheme();
            // The session check and the replay cache may touch storage: keep them off the
            // async executor.
            let checked = web::block(move || auth.authenticate(&presented))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "access token check task failed");
                    BearerError::Internal
                })?;
            match checked {
                Ok(claims) => Ok(Authenticated(claims)),
                Err(AppError::InvalidToken(TokenRejection::SchemeMismatch)) => {
                    tracing::debug!(?scheme, "access token presented under the wrong scheme");
                    Err(BearerError::InvalidToken {
                        challenge,
                        scheme: Scheme::Dpop,
                    })
                }
                Err(AppError::InvalidToken(reason)) => {
                    tracing::debug!(%reason, "access token refused");
                    Err(BearerError::InvalidToken { challenge, scheme })
                }
                Err(AppError::InvalidDpopProof(reason)) => {
                    tracing::info!(%reason, "DPoP proof refused at a protected resource");
                    Err(BearerError::InvalidDpopProof { challenge })
                }
                Err(AppError::UseDpopNonce { nonce }) => {
                    Err(BearerError::UseDpopNonce { challenge, nonce })
                }
                Err(AppError::Unavailable(cause)) => {
                    tracing::warn!(error = %cause, "storage unavailable during the token check");
                    Err(BearerError::Unavailable { retry_after_secs })
                }
                Err(other) => {
                    tracing::error!(error = ?other, "unexpected error during the token check");
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

    fn with(value: &str, dpop: bool) -> Option<(Scheme, String)> {
        credentials(
            &TestRequest::default()
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request(),
            dpop,
        )
    }

    #[test]
    fn bearer_always_and_dpop_only_when_on_yield_a_token() {
        let bearer = |t: &str| Some((Scheme::Bearer, t.to_owned()));
        assert_eq!(with("Bearer abc.def.ghi", false), bearer("abc.def.ghi"));
        assert_eq!(with("bearer  abc ", false), bearer("abc"));
        assert_eq!(with("Basic dXNlcjpwdw==", true), None);
        assert_eq!(with("Bearer", true), None);
        assert_eq!(with("Bearer  ", true), None);
        assert_eq!(with("DPoP abc", false), None);
        assert_eq!(with("dpop abc", true), Some((Scheme::Dpop, "abc".into())));
        assert_eq!(
            credentials(&TestRequest::default().to_http_request(), true),
            None
        );
    }

    fn challenge(dpop: bool) -> Challenge {
        Challenge {
            realm: Arc::from("tollgate"),
            dpop_algs: dpop.then(|| Arc::from("ES256 EdDSA")),
        }
    }

    fn headers(e: &BearerError) -> Vec<String> {
        e.error_response()
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn challenges_follow_rfc_6750_without_dpop() {
        let missing = BearerError::Missing {
            challenge: challenge(false),
        };
        assert_eq!(missing.status_code(), StatusCode::UNAUTHORIZED);
        assert_eq!(headers(&missing), ["Bearer realm=\"tollgate\""]);
        let invalid = BearerError::InvalidToken {
            challenge: challenge(false),
            scheme: Scheme::Bearer,
        };
        let got = headers(&invalid);
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with("Bearer realm=\"tollgate\", error=\"invalid_token\""),
            "{got:?}"
        );
        // A bound token sent as bearer to a service without DPoP: still refused, under Bearer.
        let bound = BearerError::InvalidToken {
            challenge: challenge(false),
            scheme: Scheme::Dpop,
        };
        assert!(headers(&bound)[0].contains("error=\"invalid_token\""));
    }

    #[test]
    fn with_dpop_both_schemes_are_offered_and_the_error_goes_with_its_scheme() {
        let missing = BearerError::Missing {
            challenge: challenge(true),
        };
        assert_eq!(
            headers(&missing),
            [
                "Bearer realm=\"tollgate\"",
                "DPoP realm=\"tollgate\", algs=\"ES256 EdDSA\""
            ]
        );
        let bound_as_bearer = BearerError::InvalidToken {
            challenge: challenge(true),
            scheme: Scheme::Dpop,
        };
        let got = headers(&bound_as_bearer);
        assert_eq!(got[0], "Bearer realm=\"tollgate\"");
        assert!(
            got[1].starts_with(
                "DPoP realm=\"tollgate\", algs=\"ES256 EdDSA\", error=\"invalid_token\""
            ),
            "{got:?}"
        );
        let proof = BearerError::InvalidDpopProof {
            challenge: challenge(true),
        };
        assert!(headers(&proof)[1].contains("error=\"invalid_dpop_proof\""));
        let nonce = BearerError::UseDpopNonce {
            challenge: challenge(true),
            nonce: "bm9uY2U".into(),
        };
        let response = nonce.error_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers().get(DPOP_NONCE).unwrap(), "bm9uY2U");
        assert!(headers(&nonce)[1].contains("error=\"use_dpop_nonce\""));
    }

    #[test]
    fn a_hostile_realm_cannot_break_the_header() {
        let auth =
            BearerAuth::from_check(Arc::new(|_| Err(AppError::UserNotFound))).realm("a\"b\\c\r\nd");
        assert_eq!(&*auth.challenge.realm, "abcd");
    }
}
