//! A [`TokenVerifier`] for other services: Tollgate's keys taken from its published JWKS.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use openssl::bn::BigNum;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Rsa;
use serde_json::{Map, Value};
use tollgate_application::{Error as AppError, TokenVerifier};
use tollgate_domain::{AccessClaims, RefreshClaims};

use super::keys::MIN_RSA_BITS;
use super::verify::{Rules, ALLOWED_ALGORITHMS};
use crate::InfraError;

/// The largest JWKS document read. Tollgate's holds a few keys of about 700 bytes each; the cap
/// bounds what a misconfigured or hostile URL can make a service parse.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Larger moduli are no RSA key anyone deploys, and make each verification slow.
const MAX_RSA_BITS: u32 = 16_384;
/// RFC 7517 §9.1 / RFC 7518 §6.3.2: members only a private key has.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Verifies Tollgate's tokens offline, with the keys of its JWKS
/// (`GET /.well-known/jwks.json`), as strictly as the server itself does: the same algorithm
/// allow-list, `kid` lookup only among these keys, signature, `aud`, `iss` and times with
/// leeway (the checks are literally shared with [`JwtCodec`](super::JwtCodec)).
///
/// It cannot see revocation (API.md §4): a revoked session's access tokens verify until they
/// expire. Refetch the JWKS now and then (it is served with `Cache-Control: max-age`), and when
/// a token names a `kid` this set does not know, since the server publishes a new key only once
/// it starts signing with it.
///
/// ```no_run
/// use chrono::Duration;
/// use tollgate_application::{Clock as _, TokenVerifier as _};
/// use tollgate_infrastructure::jwt::JwksVerifier;
/// use tollgate_infrastructure::SystemClock;
///
/// # fn example(jwks_json: &str, bearer: &str) -> Result<(), Box<dyn std::error::Error>> {
/// // `jwks_json` is the body of https://auth.example/.well-known/jwks.json, fetched with the
/// // service's own HTTP client.
/// let verifier = JwksVerifier::from_jwks_json(jwks_json, "https://auth.example", Duration::seconds(30))?;
/// let claims = verifier.verify_access(bearer, SystemClock.now())?;
/// println!("request by {} ({})", claims.unique_name, claims.sub);
/// # Ok(())
/// # }
/// ```
pub struct JwksVerifier {
    keys: Vec<(String, PKey<Public>)>,
    rules: Rules,
}

impl JwksVerifier {
    /// A verifier accepting tokens of `issuer` signed by a key of the JWKS document `json`, with
    /// `leeway` of clock skew on `exp` and `nbf` (a negative leeway counts as zero).
    ///
    /// Keys that cannot verify our tokens are skipped: another `kty` than `RSA`, a `use` other
    /// than `sig`, `key_ops` without `verify`, an `alg` other than `RS512`, or no `kid`.
    ///
    /// # Errors
    /// [`InfraError::Jwks`], saying what is wrong, when `json` is over 256 KiB or not a JWKS
    /// (an object with a `keys` array of objects), when a usable key has a missing or malformed
    /// `n` or `e`, a modulus under 2048 bits, an even or tiny exponent, or private members (such
    /// a key is compromised), when two keys share a `kid`, or when no key is usable at all.
    pub fn from_jwks_json(
        json: &str,
        issuer: impl Into<String>,
        leeway: Duration,
    ) -> Result<Self, InfraError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(bad(format!(
                "document is over {} KiB",
                MAX_JWKS_BYTES / 1024
            )));
        }
        let document: Value =
            serde_json::from_str(json).map_err(|e| bad(format!("not JSON ({e})")))?;
        let entries = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no `keys` array".into()))?;
        let mut keys: Vec<(String, PKey<Public>)> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let jwk = entry
                .as_object()
                .ok_or_else(|| bad(format!("keys[{index}] is not an object")))?;
            let Some(kid) = usable_kid(jwk) else {
                continue;
            };
            let key = rsa_public_key(jwk)
                .map_err(|why| bad(format!("key {kid:?} (keys[{index}]): {why}")))?;
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(bad(format!("two keys share the kid {kid:?}")));
            }
            keys.push((kid.to_owned(), key));
        }
        if keys.is_empty() {
            return Err(bad(
                "no key usable for RS512 signatures (kty RSA, use sig, with a kid)".into(),
            ));
        }
        Ok(Self {
            keys,
            rules: Rules::new(issuer.into(), leeway),
        })
    }

    /// The `kid`s of the keys in use, in document order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(kid, _)| kid.as_str())
    }

    fn key(&self, kid: &str) -> Option<&openssl::pkey::PKeyRef<Public>> {
        self.keys
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, key)| key.as_ref())
    }
}

impl fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("issuer", &self.rules.issuer)
            .field("leeway", &self.rules.leeway)
            .field("kids", &self.kids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl TokenVerifier for JwksVerifier {
    fn verify_refresh(&self, token: &str, now: DateTime<Utc>) -> Result<RefreshClaims, AppError> {
        self.rules.refresh(token, now, |kid| self.key(kid))
    }

    fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, AppError> {
        self.rules.access(token, now, |kid| self.key(kid))
    }
}

fn bad(why: String) -> InfraError {
    InfraError::Jwks(why)
}

/// The `kid` of a key that could verify an RS512 token of ours; `None` for any other key.
fn usable_kid(jwk: &Map<String, Value>) -> Option<&str> {
    let member = |name: &str| jwk.get(name);
    if member("kty").and_then(Value::as_str) != Some("RSA") {
        return None;
    }
    // Absent `use`, `key_ops` and `alg` put no restriction on the key (RFC 7517 §4.2-4.4).
    if member("use").is_some_and(|u| u.as_str() != Some("sig")) {
        return None;
    }
    if let Some(ops) = member("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return None;
        }
    }
    if member("alg").is_some_and(|alg| {
        !alg.as_str()
            .is_some_and(|alg| ALLOWED_ALGORITHMS.contains(&alg))
    }) {
        return None;
    }
    member("kid")
        .and_then(Value::as_str)
        .filter(|kid| !kid.is_empty())
}

/// The RSA public key of a usable JWK, or why it is unfit.
fn rsa_public_key(jwk: &Map<String, Value>) -> Result<PKey<Public>, String> {
    if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(format!(
            "has the private member {private:?}; the key is exposed and must not be trusted"
        ));
    }
    let n = big_number(jwk, "n")?;
    let e = big_number(jwk, "e")?;
    let bits = n.num_bits();
    if bits < i32::try_from(MIN_RSA_BITS).unwrap_or(i32::MAX)
        || bits > i32::try_from(MAX_RSA_BITS).unwrap_or(i32::MAX)
    {
        return Err(format!(
            "modulus of {bits} bits (must be {MIN_RSA_BITS} to {MAX_RSA_BITS})"
        ));
    }
    // An even or tiny exponent is no RSA key anyone issues; e = 1 would make every "signature"
    // its own message.
    if !e.is_bit_set(0) || e.num_bits() < 2 || e.num_bits() > 64 {
        return Err("public exponent must be odd, at least 3 and at most 64 bits".into());
    }
    let rsa = Rsa::from_public_components(n, e).map_err(|e| format!("not an RSA key ({e})"))?;
    PKey::from_rsa(rsa).map_err(|e| format!("not an RSA key ({e})"))
}

/// A base64url (unpadded) big-endian unsigned integer member.
fn big_number(jwk: &Map<String, Value>, name: &str) -> Result<BigNum, String> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{name}` is missing or not a string"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| format!("`{name}` is not unpadded base64url"))?;
    BigNum::from_slice(&bytes).map_err(|e| format!("`{name}` is not a number ({e})"))
}
