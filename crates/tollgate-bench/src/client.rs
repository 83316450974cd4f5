//! One keep-alive HTTP connection to the token endpoint, speaking either dialect.

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use uuid::Uuid;

use crate::dpop::DpopOptions;

/// Which parameter names the requests use (API.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// `grantType=RefreshToken&refreshToken=…`
    Product,
    /// `grant_type=refresh_token&refresh_token=…`
    Rfc,
}

/// Where and as whom the tool talks to the server.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL of the server, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// Parameter names to use.
    pub dialect: Dialect,
    /// Login name every virtual user logs in with (each login starts its own family).
    pub user: String,
    /// That user's password.
    pub password: String,
    /// Client id and secret, sent with HTTP Basic, when the server wants a client.
    pub client: Option<(String, String)>,
    /// Ask for long-lived refresh tokens at login.
    pub long_lived: bool,
    /// Sign a DPoP proof for every request (RFC 9449); every answer must then say
    /// `token_type: DPoP`.
    pub dpop: Option<DpopOptions>,
}

/// The answer to one token request, reduced to what the checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `200` with a pair.
    Pair(Pair),
    /// An error answer: status and the `error` code (empty when the body had none).
    Refused {
        /// HTTP status.
        status: u16,
        /// RFC 6749 `error` value.
        error: String,
    },
    /// No HTTP answer (connection refused or reset, timeout) or an unreadable `200` body.
    Transport(String),
    /// A `200` whose `token_type` is not the one asked for (`Bearer` to a request with a DPoP
    /// proof): the pair is not bound to the key, a failed check.
    WrongTokenType(String),
}

impl Outcome {
    /// The key under which a failure is counted: the status, or `transport`.
    #[must_use]
    pub fn error_key(&self) -> Option<String> {
        match self {
            Self::Pair(_) => None,
            Self::Refused { status, error } if error.is_empty() => Some(status.to_string()),
            Self::Refused { status, error } => Some(format!("{status} {error}")),
            // The first words of the cause: enough to tell a reset from a timeout.
            Self::Transport(cause) => Some(format!(
                "transport: {}",
                cause.chars().take(60).collect::<String>()
            )),
            Self::WrongTokenType(token_type) => Some(format!("200 token_type {token_type:?}")),
        }
    }
}

/// A token pair and the ids that must never repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The refresh token to present next.
    pub refresh_token: String,
    /// Its `token_id` claim.
    pub token_id: u128,
    /// The access token's `jti` claim.
    pub jti: u128,
    /// `Bearer` or `DPoP` (RFC 9449 §5).
    pub token_type: String,
}

#[derive(Deserialize)]
struct PairBody {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    token_type: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

#[derive(Deserialize)]
struct RefreshPayload {
    token_id: Uuid,
}

#[derive(Deserialize)]
struct AccessPayload {
    jti: Uuid,
}

/// One thread's client: a ureq agent keeps one connection to the server alive.
pub struct Client {
    agent: ureq::Agent,
    token_url: String,
    login_body: String,
    basic: Option<String>,
    dialect: Dialect,
    /// With DPoP, a `200` must say `token_type: DPoP`.
    dpop: bool,
}

impl Client {
    /// A client for `target`; connects lazily on the first request.
    #[must_use]
    pub fn new(target: &Target) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .max_idle_connections_per_host(4)
            .build();
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut login_body = match target.dialect {
            Dialect::Product => format!(
                "grantType=Password&userName={}&password={}",
                enc(&target.user),
                enc(&target.password)
            ),
            Dialect::Rfc => format!(
                "grant_type=password&username={}&password={}",
                enc(&target.user),
                enc(&target.password)
            ),
        };
        if target.long_lived {
            login_body.push_str("&longLivedRefreshToken=true");
        }
        // RFC 6749 §2.3.1: id and secret are form-encoded before the Basic encoding.
        let basic = target.client.as_ref().map(|(id, secret)| {
            format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
            )
        });
        Self {
            agent,
            token_url: format!("{}/api/oauth2/token", target.base_url.trim_end_matches('/')),
            login_body,
            basic,
            dialect: target.dialect,
            dpop: target.dpop.is_some(),
        }
    }

    /// A password login: starts a new family, bound to the key of `proof` when there is one.
    pub fn login(&self, proof: Option<&str>) -> Outcome {
        self.post(&self.login_body, proof)
    }

    /// Presents `refresh_token` (JWTs are URL-safe, so they need no encoding), with a DPoP
    /// proof when given.
    pub fn refresh(&self, refresh_token: &str, proof: Option<&str>) -> Outcome {
        let body = match self.dialect {
            Dialect::Product => format!("grantType=RefreshToken&refreshToken={refresh_token}"),
            Dialect::Rfc => format!("grant_type=refresh_token&refresh_token={refresh_token}"),
        };
        self.post(&body, proof)
    }

    fn post(&self, body: &str, proof: Option<&str>) -> Outcome {
        let mut request = self
            .agent
            .post(&self.token_url)
            .set("Content-Type", "application/x-www-form-urlencoded");
        if let Some(basic) = &self.basic {
            request = request.set("Authorization", basic);
        }
        if let Some(proof) = proof {
            request = request.set("DPoP", proof);
        }
        match request.send_string(body) {
            Ok(response) => match response.into_string() {
                Ok(text) => match parse_pair(&text) {
                    Ok(pair) => self.check_type(pair),
                    Err(e) => Outcome::Transport(e),
                },
                Err(e) => Outcome::Transport(e.to_string()),
            },
            Err(ureq::Error::Status(status, response)) => {
                // Reading the body to its end keeps the connection reusable.
                let error = response
                    .into_string()
                    .ok()
                    .and_then(|t| serde_json::from_str::<ErrorBody>(&t).ok())
                    .map(|b| b.error)
                    .unwrap_or_default();
                Outcome::Refused { status, error }
            }
            Err(e) => Outcome::Transport(e.to_string()),
        }
    }

    /// With DPoP every pair must be bound (RFC 9449 §5: `token_type` is `DPoP`, compared
    /// without regard to case as RFC 6749 §5.1 says).
    fn check_type(&self, pair: Pair) -> Outcome {
        if self.dpop && !pair.token_type.eq_ignore_ascii_case("DPoP") {
            Outcome::WrongTokenType(pair.token_type)
        } else {
            Outcome::Pair(pair)
        }
    }
}

fn parse_pair(text: &str) -> Result<Pair, String> {
    let body: PairBody = serde_json::from_str(text).map_err(|e| format!("200 body: {e}"))?;
    let refresh: RefreshPayload = payload(&body.refresh_token)?;
    let access: AccessPayload = payload(&body.access_token)?;
    Ok(Pair {
        refresh_token: body.refresh_token,
        token_id: refresh.token_id.as_u128(),
        jti: access.jti.as_u128(),
        token_type: body.token_type,
    })
}

/// The tool only reads the claims it checks for repeats; the server verified the signature.
fn payload<T: for<'de> Deserialize<'de>>(jwt: &str) -> Result<T, String> {
    let part = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| "token is not a JWS".to_owned())?;
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| format!("token payload: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("token payload: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn a_pair_answer_yields_both_token_ids() {
        let id = Uuid::new_v4();
        let jti = Uuid::new_v4();
        let body = serde_json::json!({
            "access_token": jwt(&format!(r#"{{"jti":"{jti}"}}"#)),
            "refresh_token": jwt(&format!(r#"{{"token_id":"{id}"}}"#)),
        });
        let pair = parse_pair(&body.to_string()).unwrap();
        assert_eq!(pair.token_id, id.as_u128());
        assert_eq!(pair.jti, jti.as_u128());
    }

    #[test]
    fn a_pair_without_token_id_is_a_transport_failure() {
        let body = serde_json::json!({ "access_token": jwt("{}"), "refresh_token": jwt("{}") });
        assert!(parse_pair(&body.to_string()).is_err());
    }

    #[test]
    fn with_dpop_a_bearer_pair_is_a_failed_check() {
        let pair = Pair {
            refresh_token: String::new(),
            token_id: 1,
            jti: 2,
            token_type: "Bearer".into(),
        };
        let mut target = Target {
            base_url: "http://127.0.0.1:1".into(),
            dialect: Dialect::Product,
            user: String::new(),
            password: String::new(),
            client: None,
            long_lived: false,
            dpop: None,
        };
        assert_eq!(
            Client::new(&target).check_type(pair.clone()),
            Outcome::Pair(pair.clone())
        );
        target.dpop = Some(DpopOptions {
            alg: crate::dpop::ProofAlg::Es256,
            issuer: None,
        });
        let dpop = Client::new(&target);
        assert_eq!(
            dpop.check_type(pair.clone()).error_key().as_deref(),
            Some("200 token_type \"Bearer\"")
        );
        let bound = Pair {
            token_type: "DPoP".into(),
            ..pair
        };
        assert_eq!(dpop.check_type(bound.clone()), Outcome::Pair(bound));
    }

    #[test]
    fn error_keys_name_status_and_code() {
        let refused = Outcome::Refused {
            status: 400,
            error: "invalid_grant".into(),
        };
        assert_eq!(refused.error_key().as_deref(), Some("400 invalid_grant"));
        assert_eq!(
            Outcome::Transport("reset".into()).error_key().as_deref(),
            Some("transport: reset")
        );
    }
}
