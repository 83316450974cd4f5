//! RS512 JWS compact signing and strict verification (RFC 7515, RFC 8725).

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use openssl::hash::MessageDigest;
use openssl::rsa::Padding;
use openssl::sign::{Signer, Verifier};
use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;
use tollgate_application::{Error as AppError, TokenSigner, TokenVerifier};
use tollgate_domain::{AccessClaims, RefreshClaims, TokenRejection};

use super::claims_wire::{self, Expected, ACCESS_AUDIENCE, REFRESH_AUDIENCE};
use super::KeySet;
use crate::InfraError;

/// The one algorithm we sign with, and so the only one we accept. Kept a list so that adding an
/// algorithm later is a deliberate, visible change.
const ALLOWED_ALGORITHMS: &[&str] = &["RS512"];
const SIGNING_ALGORITHM: &str = "RS512";

/// Signs and verifies Tollgate's JWTs with the keys of a [`KeySet`].
///
/// Implements [`TokenSigner`] and [`TokenVerifier`]. Signing uses the set's newest key, parsed
/// once at load; verification accepts any key of the set. Reads no clock: verification uses
/// the instant it is given.
pub struct JwtCodec {
    keys: Arc<KeySet>,
    issuer: String,
    leeway: Duration,
    /// `base64url(header) "."`: the same for every token of the signing key, so made once.
    signing_prefix: String,
}

impl JwtCodec {
    /// The longest token looked at; ours are well under 1 KiB. Bounds the work an attacker can
    /// cause before the signature is checked.
    pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

    /// A codec issuing tokens with `iss = issuer` and accepting only that issuer, with `leeway`
    /// of clock skew on `exp` and `nbf` (a negative leeway counts as zero).
    pub fn new(keys: Arc<KeySet>, issuer: impl Into<String>, leeway: Duration) -> Self {
        // The kid is 40 hex digits, so formatting needs no JSON escaping; the bytes are exactly
        // those of API.md §2.
        let header = format!(
            r#"{{"alg":"{SIGNING_ALGORITHM}","kid":"{}","typ":"JWT"}}"#,
            keys.signing_kid()
        );
        let mut signing_prefix = URL_SAFE_NO_PAD.encode(header);
        signing_prefix.push('.');
        Self {
            keys,
            issuer: issuer.into(),
            leeway: leeway.max(Duration::zero()),
            signing_prefix,
        }
    }

    /// The key set this codec signs and verifies with.
    pub fn key_set(&self) -> &Arc<KeySet> {
        &self.keys
    }

    /// Signs `payload` (JSON) with the signing key: `prefix || b64(payload) || "." || b64(sig)`.
    fn sign_payload(&self, payload: &[u8]) -> Result<String, InfraError> {
        // 4/3 for base64 of the payload, plus a 2048-bit (256-byte) signature's 342 characters.
        let mut token =
            String::with_capacity(self.signing_prefix.len() + payload.len() * 4 / 3 + 4 + 350);
        token.push_str(&self.signing_prefix);
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let mut signer = Signer::new(MessageDigest::sha512(), self.keys.signing_key())?;
        // PKCS#1 v1.5 is OpenSSL's default for RSA; said explicitly because RS512 requires it
        // and it is what makes signatures deterministic.
        signer.set_rsa_padding(Padding::PKCS1)?;
        let signature = signer.sign_oneshot_to_vec(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// Checks everything but the claims, in RFC 8725 order, and returns the payload bytes.
    fn verified_payload(&self, token: &str) -> Result<Vec<u8>, TokenRejection> {
        use TokenRejection::{Algorithm, Malformed, Signature, UnknownKey};

        if token.len() > Self::MAX_TOKEN_BYTES {
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
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.find(kid))
            .ok_or(UnknownKey)?;

        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| Malformed)?;
        if signature.len() != key.public_key().size() {
            return Err(Signature);
        }
        let mut verifier = Verifier::new(MessageDigest::sha512(), key.public_key())
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

    fn expected(&self, audience: &'static str, now: DateTime<Utc>) -> Expected<'_> {
        Expected {
            audience,
            issuer: &self.issuer,
            now,
            leeway: self.leeway,
        }
    }
}

impl fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtCodec")
            .field("issuer", &self.issuer)
            .field("leeway", &self.leeway)
            .field("signing_kid", &self.keys.signing_kid())
            .finish_non_exhaustive()
    }
}

impl TokenSigner for JwtCodec {
    fn sign_access(&self, claims: &AccessClaims) -> Result<String, AppError> {
        let payload = claims_wire::access_payload(claims).map_err(AppError::unexpected)?;
        Ok(self.sign_payload(&payload)?)
    }

    fn sign_refresh(&self, claims: &RefreshClaims) -> Result<String, AppError> {
        let payload = claims_wire::refresh_payload(claims).map_err(AppError::unexpected)?;
        Ok(self.sign_payload(&payload)?)
    }
}

impl TokenVerifier for JwtCodec {
    fn verify_refresh(&self, token: &str, now: DateTime<Utc>) -> Result<RefreshClaims, AppError> {
        let payload = self
            .verified_payload(token)
            .map_err(AppError::InvalidToken)?;
        claims_wire::refresh_claims(&payload, &self.expected(REFRESH_AUDIENCE, now))
            .map_err(AppError::InvalidToken)
    }

    fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, AppError> {
        let payload = self
            .verified_payload(token)
            .map_err(AppError::InvalidToken)?;
        claims_wire::access_claims(&payload, &self.expected(ACCESS_AUDIENCE, now))
            .map_err(AppError::InvalidToken)
    }
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
