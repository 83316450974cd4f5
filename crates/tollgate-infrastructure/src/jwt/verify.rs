//! Strict JWS verification (RFC 7515, RFC 8725) through `jsonwebtoken`, shared by every
//! verifier in this crate.
//!
//! [`JwtCodec`](super::JwtCodec) (keys from the key directory) and
//! [`JwksVerifier`](super::JwksVerifier) (keys from a published JWKS) differ only in where a
//! `kid` is looked up; everything else is here, once, so the two cannot drift apart.
//!
//! The order: the size cap and a look at the header for what the library lets through (both by
//! hand, see [`screen_header`]); `decode_header` for the `kid`; the key looked up in our own set;
//! then `decode` with a `Validation` pinned to that key's algorithm only, `aud` for the use, our
//! `iss`, and the registered claims required; finally [`claims_wire`]'s hand checks (times
//! against the injected clock, `iat == nbf`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny};
use serde::Deserialize;
use tollgate_application::Error as AppError;
use tollgate_domain::{AccessClaims, RefreshClaims, TokenRejection};

use super::claims_wire::{self, Expected, ACCESS_AUDIENCE, REFRESH_AUDIENCE};

/// The algorithms our keys sign with, and so the only ones a token may name. Each key accepts
/// only its own one of them.
pub(super) const ALLOWED_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::RS512, Algorithm::ES256, Algorithm::EdDSA];
/// The longest token looked at; ours are well under 1 KiB. Bounds the work an attacker can cause
/// before the signature is checked (`jsonwebtoken` has no such limit).
pub(super) const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The claims `decode` must find (besides the contract's own, which the claim structs require).
const REQUIRED_CLAIMS: [&str; 4] = ["exp", "nbf", "aud", "iss"];

/// A key that verifies tokens: the algorithm it accepts (only that one) and the key itself.
#[derive(Clone)]
pub(super) struct VerifyingKey {
    pub(super) algorithm: Algorithm,
    pub(super) key: DecodingKey,
}

/// What a verifier enforces besides the key: the issuer and the clock-skew leeway.
#[derive(Clone)]
pub(super) struct Rules {
    pub(super) issuer: String,
    /// Never negative.
    pub(super) leeway: Duration,
    /// One `Validation` per allowed algorithm and audience, made once.
    validations: Vec<(Algorithm, &'static str, Validation)>,
}

impl Rules {
    /// Rules accepting only `issuer`, with `leeway` (a negative leeway counts as zero).
    pub(super) fn new(issuer: String, leeway: Duration) -> Self {
        // Every verifier builds its `Rules` first, so no `decode` can run without a provider.
        super::provider::ensure_installed();
        let mut validations = Vec::new();
        for algorithm in ALLOWED_ALGORITHMS {
            for audience in [ACCESS_AUDIENCE, REFRESH_AUDIENCE] {
                let mut v = Validation::new(algorithm);
                // The library compares with the wall clock; we compare with the injected
                // `Clock`'s instant in `claims_wire`.
                v.validate_exp = false;
                v.validate_nbf = false;
                v.leeway = 0;
                v.set_audience(&[audience]);
                v.set_issuer(&[&issuer]);
                v.set_required_spec_claims(&REQUIRED_CLAIMS);
                validations.push((algorithm, audience, v));
            }
        }
        Self {
            issuer,
            leeway: leeway.max(Duration::zero()),
            validations,
        }
    }

    /// Verifies a refresh token whose `kid` `find_key` resolves.
    pub(super) fn refresh<'k>(
        &self,
        token: &str,
        now: DateTime<Utc>,
        find_key: impl FnOnce(&str) -> Option<&'k VerifyingKey>,
    ) -> Result<RefreshClaims, AppError> {
        let expected = self.expected(now);
        self.decode(token, REFRESH_AUDIENCE, find_key)
            .and_then(|wire| claims_wire::refresh_claims(wire, &expected))
            .map_err(AppError::InvalidToken)
    }

    /// Verifies an access token whose `kid` `find_key` resolves.
    pub(super) fn access<'k>(
        &self,
        token: &str,
        now: DateTime<Utc>,
        find_key: impl FnOnce(&str) -> Option<&'k VerifyingKey>,
    ) -> Result<AccessClaims, AppError> {
        let expected = self.expected(now);
        self.decode(token, ACCESS_AUDIENCE, find_key)
            .and_then(|wire| claims_wire::access_claims(wire, &expected))
            .map_err(AppError::InvalidToken)
    }

    fn expected(&self, now: DateTime<Utc>) -> Expected<'_> {
        Expected {
            issuer: &self.issuer,
            now,
            leeway: self.leeway,
        }
    }

    /// Everything up to the claims `jsonwebtoken` checks; `find_key` maps the header's `kid` to
    /// a trusted key and is asked only after the header passed.
    fn decode<'k, C: DeserializeOwned>(
        &self,
        token: &str,
        audience: &'static str,
        find_key: impl FnOnce(&str) -> Option<&'k VerifyingKey>,
    ) -> Result<C, TokenRejection> {
        // By hand: `jsonwebtoken` reads tokens of any size.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenRejection::Malformed);
        }
        screen_header(token)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        let key = header
            .kid
            .as_deref()
            .and_then(find_key)
            .ok_or(TokenRejection::UnknownKey)?;
        let validation = self
            .validations
            .iter()
            .find(|(alg, aud, _)| *alg == key.algorithm && *aud == audience)
            .map(|(_, _, v)| v)
            .ok_or(TokenRejection::Algorithm)?;
        match jsonwebtoken::decode::<Payload<C>>(token, &key.key, validation) {
            Ok(data) => match data.claims {
                Payload::Ours(claims) => Ok(claims),
                Payload::Other(IgnoredAny) => Err(TokenRejection::Malformed),
            },
            Err(e) => Err(rejection(e.kind())),
        }
    }
}

/// The payload as the claim struct `C`, or anything else. `decode` reads the claims before it
/// checks `aud` and `iss`; reading them this way lets those checks run on any JSON object, so
/// that a well-formed token for the other use is reported as a wrong audience, not as a
/// malformed payload. (Untagged: serde buffers the object, so `C` still refuses duplicates.)
#[derive(Deserialize)]
#[serde(untagged)]
enum Payload<C> {
    Ours(C),
    Other(IgnoredAny),
}

/// What `jsonwebtoken`'s error means for the client.
fn rejection(kind: &ErrorKind) -> TokenRejection {
    match kind {
        ErrorKind::InvalidSignature => TokenRejection::Signature,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => TokenRejection::Algorithm,
        ErrorKind::InvalidAudience => TokenRejection::Audience,
        ErrorKind::InvalidIssuer => TokenRejection::Issuer,
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
            match claim.as_str() {
                "aud" => TokenRejection::Audience,
                "iss" => TokenRejection::Issuer,
                _ => TokenRejection::Malformed,
            }
        }
        ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey => {
            // Our keys are checked when loaded, so this is not the token's fault; but we cannot
            // vouch for it either. Leave a trace.
            tracing::error!(error = ?kind, "cannot set up signature verification");
            TokenRejection::Signature
        }
        _ => TokenRejection::Malformed,
    }
}

/// By hand, what `jsonwebtoken` lets through but RFC 8725 and our contract refuse, read from the
/// header as sent:
/// - an `alg` outside [`ALLOWED_ALGORITHMS`] is a wrong algorithm (the library would call
///   `none` or an unknown name malformed JSON, and the contract reports it as the algorithm);
/// - any `crit`, even `"crit": null` (the library reads `null` as absent, and accepts
///   `["b64"]`): we understand no extension (RFC 7515 §4.1.11);
/// - a `typ` other than `JWT`;
/// - a header member given twice (serde refuses duplicates of the members named here).
fn screen_header(token: &str) -> Result<(), TokenRejection> {
    // The header segment as `jsonwebtoken` splits it: everything before the last two dots.
    let header = token
        .rsplit_once('.')
        .and_then(|(message, _)| message.rsplit_once('.'))
        .map(|(header, _)| header)
        .ok_or(TokenRejection::Malformed)?;
    let header: Screened = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(TokenRejection::Malformed)?;
    if !ALLOWED_ALGORITHMS
        .iter()
        .any(|alg| algorithm_name(*alg) == header.alg)
    {
        return Err(TokenRejection::Algorithm);
    }
    if header.crit.0 {
        return Err(TokenRejection::Malformed);
    }
    if header.typ.as_deref().is_some_and(|typ| typ != "JWT") {
        return Err(TokenRejection::Malformed);
    }
    Ok(())
}

/// The JOSE name of an algorithm (`RS512`, `ES256`, `EdDSA`).
pub(super) fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        _ => "",
    }
}

/// The header members [`screen_header`] looks at. Unknown members are ignored (RFC 7515 §4).
#[derive(Deserialize)]
struct Screened {
    alg: String,
    typ: Option<String>,
    #[serde(default)]
    crit: Present,
    // Named so that a duplicated `kid` fails to parse too.
    #[serde(default, rename = "kid")]
    _kid: IgnoredAny,
}

/// Whether a member is present at all, whatever its value (even `null`); the DPoP proof
/// screening uses it too.
#[derive(Default)]
pub(crate) struct Present(pub(crate) bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d)?;
        Ok(Present(true))
    }
}
