//! Strict JWS verification (RFC 7515, RFC 8725), shared by every verifier in this crate.
//!
//! [`JwtCodec`](super::JwtCodec) (keys from the key directory) and
//! [`JwksVerifier`](super::JwksVerifier) (keys from a published JWKS) differ only in where a
//! `kid` is looked up; everything else is here, once, so the two cannot drift apart.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKeyRef, Public};
use openssl::rsa::Padding;
use openssl::sign::Verifier;
use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;
use tollgate_application::Error as AppError;
use tollgate_domain::{AccessClaims, RefreshClaims, TokenRejection};

use super::claims_wire::{self, Expected, ACCESS_AUDIENCE, REFRESH_AUDIENCE};

/// The one algorithm we sign with, and so the only one we accept. Kept a list so that adding an
/// algorithm later is a deliberate, visible change.
pub(super) const ALLOWED_ALGORITHMS: &[&str] = &["RS512"];
/// The algorithm of every token we sign, and of every key we publish.
pub(super) const SIGNING_ALGORITHM: &str = "RS512";
/// The longest token looked at; ours are well under 1 KiB. Bounds the work an attacker can cause
/// before the signature is checked.
pub(super) const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a verifier enforces besides the key: the issuer and the clock-skew leeway.
#[derive(Debug, Clone)]
pub(super) struct Rules {
    pub(super) issuer: String,
    /// Never negative.
    pub(super) leeway: Duration,
}

impl Rules {
    /// Rules accepting only `issuer`, with `leeway` (a negative leeway counts as zero).
    pub(super) fn new(issuer: String, leeway: Duration) -> Self {
        Self {
            issuer,
            leeway: leeway.max(Duration::zero()),
        }
    }

    /// Verifies a refresh token whose `kid` `find_key` resolves.
    pub(super) fn refresh<'k>(
        &self,
        token: &str,
        now: DateTime<Utc>,
        find_key: impl FnOnce(&str) -> Option<&'k PKeyRef<Public>>,
    ) -> Result<RefreshClaims, AppError> {
        let payload = verified_payload(token, find_key).map_err(AppError::InvalidToken)?;
        claims_wire::refresh_claims(&payload, &self.expected(REFRESH_AUDIENCE, now))
            .map_err(AppError::InvalidToken)
    }

    /// Verifies an access token whose `kid` `find_key` resolves.
    pub(super) fn access<'k>(
        &self,
        token: &str,
        now: DateTime<Utc>,
        find_key: impl FnOnce(&str) -> Option<&'k PKeyRef<Public>>,
    ) -> Result<AccessClaims, AppError> {
        let payload = verified_payload(token, find_key).map_err(AppError::InvalidToken)?;
        claims_wire::access_claims(&payload, &self.expected(ACCESS_AUDIENCE, now))
            .map_err(AppError::InvalidToken)
    }

    fn expected(&self, audience: &'static str, now: DateTime<Utc>) -> Expected<'_> {
        Expected {
            audience,
            issuer: &self.issuer,
            now,
            leeway: self.leeway,
        }
    }
}

/// Checks everything but the claims, in RFC 8725 order, and returns the payload bytes.
/// `find_key` maps the header's `kid` to a trusted key; it is asked only after the header passed.
fn verified_payload<'k>(
    token: &str,
    find_key: impl FnOnce(&str) -> Option<&'k PKeyRef<Public>>,
) -> Result<Vec<u8>, TokenRejection> {
    use TokenRejection::{Algorithm, Malformed, Signature, UnknownKey};

    if token.len() > MAX_TOKEN_BYTES {
        return Err(Malformed);
    }
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(Malformed);
    };
    // `header "." payload`, as sent: the signature covers these bytes, not a re-encoding.
    let signing_input = token
        .get(..header.len() + 1 + payload.len())
        .ok_or(Malformed)?;
    let base64url = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !(base64url(header) && base64url(payload) && base64url(signature)) {
        return Err(Malformed);
    }

    let header: Header = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(Malformed)?;
    if !ALLOWED_ALGORITHMS.contains(&header.alg.as_str()) {
        return Err(Algorithm);
    }
    // We understand no extension, so any `crit` must be refused (RFC 7515 §4.1.11).
    if header.crit.0 {
        return Err(Malformed);
    }
    if header.typ.as_deref().is_some_and(|typ| typ != "JWT") {
        return Err(Malformed);
    }
    let key = header.kid.as_deref().and_then(find_key).ok_or(UnknownKey)?;

    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| Malformed)?;
    if signature.len() != key.size() {
        return Err(Signature);
    }
    let mut verifier = Verifier::new(MessageDigest::sha512(), key)
        .and_then(|mut v| v.set_rsa_padding(Padding::PKCS1).map(|()| v))
        .map_err(|e| {
            // Not the token's fault, but we cannot vouch for it either; leave a trace.
            tracing::error!(error = %e, "cannot set up signature verification");
            Signature
        })?;
    // A signature OpenSSL cannot even process (say, not below the modulus) is simply bad;
    // attackers choose these bytes, so no error log for them.
    let verified = verifier
        .verify_oneshot(&signature, signing_input.as_bytes())
        .unwrap_or(false);
    if !verified {
        return Err(Signature);
    }
    URL_SAFE_NO_PAD.decode(payload).map_err(|_| Malformed)
}

/// The JOSE header members we look at. Unknown members are ignored (RFC 7515 §4), except
/// `crit`; a duplicated member fails to parse.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    #[serde(default)]
    crit: Present,
}

/// Whether a member is present at all, whatever its value (even `null`).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d)?;
        Ok(Present(true))
    }
}
