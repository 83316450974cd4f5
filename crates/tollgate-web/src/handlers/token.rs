//! `POST /api/oauth2/token`: the password and refresh-token grants.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tollgate_application::{LoginRequest, RequestOrigin};
use tollgate_domain::GrantType;

use crate::body::read_form;
use crate::client_auth::client_credentials;
use crate::dpop::{HeaderDefect, DPOP_NONCE};
use crate::form::{parse_token_request, Grant};
use crate::handlers::run_blocking;
use crate::response::token_response;
use crate::service::{Dpop, Endpoint, Grants};
use crate::{OAuthError, Operations};

/// Issues a token pair for a password login or a refresh token, counting the request by grant
/// and outcome.
#[utoipa::path(
    post,
    path = "/api/oauth2/token",
    tag = "oauth2",
    operation_id = "token",
    summary = "Log in (password grant) or rotate a refresh token (refresh_token grant)",
    description = "Both dialects on one endpoint: `grantType=Password&userName=…&password=…` or \
`grant_type=password&username=…&password=…` logs in; `grantType=RefreshToken&refreshToken=…` or \
`grant_type=refresh_token&refresh_token=…` refreshes. A refresh token works once; presenting a \
spent one revokes its whole family. A refresh token issued to an authenticated client is bound to it (RFC 6749 §6): refreshing it with another client, or without client authentication, is `invalid_grant` and spends nothing. A token issued without client authentication (the product dialect) is unbound and refreshes with or without a client. A `DPoP` proof header (RFC 9449) on a login binds the family \
to the proof's key (`token_type: DPoP`); its refreshes then need a proof by that key. Responses \
carry `Cache-Control: no-store`.",
    request_body(content = crate::openapi::TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "A new token pair", body = crate::response::TokenBody,
            headers(("DPoP-Nonce" = String, description = "With `dpop.require_nonce`: the current server nonce (RFC 9449 §8.2)"))),
        (status = 400, description = "`invalid_request` (missing, repeated or both-spelled \
parameter, malformed body, wrong content type), `unsupported_grant_type`, `invalid_grant` (bad \
credentials or refresh token, a refresh token bound to another client, or a DPoP-bound refresh \
token without a proof by its key), `invalid_dpop_proof` (a repeated, refused or replayed `DPoP` \
header, or none while `dpop.required` is on), `use_dpop_nonce` (`dpop.require_nonce` is on and the proof carried no current nonce: retry with the one in `DPoP-Nonce`), `unauthorized_client`",
            body = crate::error::ErrorBody,
            headers(("DPoP-Nonce" = String, description = "With `use_dpop_nonce`: the nonce to put in the next proof"))),
        (status = 401, description = "`invalid_client`: client authentication failed",
            body = crate::error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"tollgate\"`"))),
        (status = 413, description = "`invalid_request`: the body exceeds `server.max_body_bytes`",
            body = crate::error::ErrorBody),
        (status = 429, description = "`temporarily_unavailable`: too many failed logins for this \
user or address (login throttle)", body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 500, description = "`server_error`", body = crate::error::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database cannot be reached",
            body = crate::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ),
)]
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
    let proof = dpop_header(&req, &grants)?;
    let dpop = grants.dpop.clone();
    let path = req.path().to_owned();
    let request = parse_token_request(&body)?;
    *grant = match &request.grant {
        Grant::Password { .. } => "password",
        Grant::RefreshToken { .. } => "refresh_token",
    };
    let mut credentials = client_credentials(&req, request.client_id, request.client_secret)?;
    let address = endpoint.address_of(&req);
    credentials.address = address;
    let retry_after = endpoint.config.retry_after_secs;
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
            client_address: address,
            client_id: None,
        },
        Grant::RefreshToken { refresh_token } => {
            // Waiting here holds no thread; the turn goes with the work and ends with it. A
            // refresh that waits too long is refused before anything is read or spent, so an
            // overloaded server sheds load with 503 instead of queueing without end.
            let turn = match &grants.refreshing {
                Some(turns) => Some(
                    wait_for(
                        turns,
                        endpoint.config.refresh_queue_timeout,
                        retry_after,
                        "refresh refused: every refresh turn stayed busy",
                    )
                    .await?,
                ),
                None => None,
            };
            let pair = run_blocking("token", retry_after, move || {
                let _turn = turn;
                // The client is settled first, so a refused client spends no refresh token.
                let client = endpoint.identify(&credentials, endpoint.config.require_client)?;
                endpoint.authorize_grant(client.as_ref(), grant_type)?;
                let jkt = match (&grants.dpop, &proof) {
                    (Some(dpop), Some(proof)) => {
                        Some(dpop.check.check(proof, "POST", &path, None)?.jkt)
                    }
                    _ => None,
                };
                // A token bound to a client refreshes only for that client (RFC 6749 §6), one
                // bound to a DPoP key only with a proof by it (RFC 9449 §5); the origin also
                // goes with the security events of a reuse.
                let origin = RequestOrigin {
                    client_id: client.map(|c| c.id),
                    address,
                };
                grants
                    .refresh
                    .execute_with_key(&refresh_token, &origin, jkt.as_ref())
            })
            .await?;
            return Ok(with_nonce(token_response(&pair), dpop.as_ref()));
        }
    };

    // Cheap checks first, on a blocking thread (they read the database): a refused client or a
    // throttled name or address is answered without queueing for a hashing slot.
    let queue_timeout = endpoint.config.hash_queue_timeout;
    let checked = {
        let grants = grants.clone();
        run_blocking("token", retry_after, move || {
            let client = endpoint.identify(&credentials, endpoint.config.require_client)?;
            endpoint.authorize_grant(client.as_ref(), grant_type)?;
            // The new family is bound to the authenticated client, if any, and the client goes
            // with the login's security events.
            let login = LoginRequest {
                client_id: client.map(|c| c.id),
                ..login
            };
            grants.login.check_throttle(&login)?;
            // The proof is spent here, before the password is hashed: a refused login cannot
            // have its proof replayed either.
            let jkt = match (&grants.dpop, proof) {
                (Some(dpop), Some(proof)) => {
                    Some(dpop.check.check(&proof, "POST", &path, None)?.jkt)
                }
                (Some(dpop), None) if dpop.required => return Err(dpop_required()),
                _ => None,
            };
            Ok((login, jkt))
        })
        .await?
    };

    // The slot is taken here, on the async side, before the login reaches the blocking pool:
    // waiting logins hold no blocking thread and no Argon2 memory.
    let permit = wait_for(
        &grants.hashing,
        queue_timeout,
        retry_after,
        "login refused: every password hashing slot stayed busy",
    )
    .await?;
    let (checked, jkt) = checked;
    let pair = run_blocking("token", retry_after, move || {
        let result = grants.login.execute_bound(&checked, jkt);
        drop(permit);
        result
    })
    .await?;
    Ok(with_nonce(token_response(&pair), dpop.as_ref()))
}

/// Takes one of `slots` (hashing slots, refresh turns) within `wait`, holding no thread while it
/// waits; past it the request is refused with `503` and `Retry-After` (`busy` is logged), before
/// it has done any work.
async fn wait_for(
    slots: &Arc<Semaphore>,
    wait: Duration,
    retry_after: u32,
    busy: &'static str,
) -> Result<OwnedSemaphorePermit, OAuthError> {
    match tokio::time::timeout(wait, Arc::clone(slots).acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(closed)) => {
            // Nothing closes these semaphores; reaching this is a bug, not a busy server.
            tracing::error!(error = %closed, "request slots closed");
            Err(OAuthError::ServerError)
        }
        Err(_) => {
            tracing::warn!("{busy}");
            Err(OAuthError::TemporarilyUnavailable {
                retry_after_secs: retry_after,
            })
        }
    }
}

/// Adds the current server nonce to a successful answer when nonces are required, so a client
/// has the next one before the one it holds expires (RFC 9449 §8.2). A failure to compute it
/// only costs the client a `use_dpop_nonce` round trip later, so it is logged, not returned.
fn with_nonce(mut response: HttpResponse, dpop: Option<&Dpop>) -> HttpResponse {
    match dpop.map(|d| d.check.current_nonce()) {
        Some(Ok(Some(nonce))) => match HeaderValue::from_str(&nonce) {
            Ok(value) => {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(DPOP_NONCE), value);
            }
            Err(e) => tracing::error!(error = %e, "DPoP nonce is not a header value"),
        },
        Some(Err(e)) => tracing::error!(error = %e, "no DPoP nonce for the answer"),
        _ => {}
    }
    response
}

/// The request's single `DPoP` header (RFC 9449 §4.3 point 1), when DPoP is on; a repeated or
/// non-ASCII header is refused. Without DPoP the header is ignored, as a server that does not
/// know it would.
fn dpop_header(req: &HttpRequest, grants: &Grants) -> Result<Option<String>, OAuthError> {
    if grants.dpop.is_none() {
        return Ok(None);
    }
    crate::dpop::proof_header(req).map_err(|defect| match defect {
        HeaderDefect::Repeated => {
            OAuthError::InvalidDpopProof("exactly one DPoP header is allowed")
        }
        HeaderDefect::NotAscii => OAuthError::InvalidDpopProof("the DPoP proof is invalid"),
    })
}

/// A login without a proof while `dpop.required` is on.
fn dpop_required() -> tollgate_application::Error {
    tollgate_application::Error::InvalidDpopProof(tollgate_domain::DpopRejection::Missing)
}
