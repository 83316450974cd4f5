//! A [`TokenVerifier`] for other services: Tollgate's keys taken from its published JWKS.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use openssl::bn::BigNum;
use serde_json::Value;
use tollgate_application::{Error as AppError, TokenVerifier};
use tollgate_domain::{AccessClaims, RefreshClaims};

use super::provider;
use super::verify::{Rules, VerifyingKey};
use super::x509::MIN_RSA_BITS;
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
/// Keys come as `jsonwebtoken`'s [`JwkSet`] ([`JwksVerifier::from_jwk_set`]) or as the JSON
/// text of one ([`JwksVerifier::from_jwks_json`]). Usable keys: `RSA` (at least 2048 bits) for
/// `RS512`, `EC` `P-256` for `ES256`, `OKP` `Ed25519` for `EdDSA`; each verifies only tokens of
/// its own algorithm.
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
    keys: Vec<(String, VerifyingKey)>,
    rules: Rules,
}

impl JwksVerifier {
    /// A verifier accepting tokens of `issuer` signed by a key of the JWKS document `json`, with
    /// `leeway` of clock skew on `exp` and `nbf` (a negative leeway counts as zero).
    ///
    /// Reads the text itself before handing it to `jsonwebtoken`, for what a [`JwkSet`] no
    /// longer shows: its size, and private members (the library's `Jwk` drops them).
    ///
    /// # Errors
    /// [`InfraError::Jwks`], saying what is wrong, when `json` is over 256 KiB or not a JWKS
    /// (an object with a `keys` array of objects), when a key has private members (such a key
    /// is compromised), and as [`JwksVerifier::from_jwk_set`].
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
        for (index, entry) in entries.iter().enumerate() {
            let jwk = entry
                .as_object()
                .ok_or_else(|| bad(format!("keys[{index}] is not an object")))?;
            if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
                return Err(bad(format!(
                    "keys[{index}] has the private member {private:?}; the key is exposed and \
                     must not be trusted"
                )));
            }
        }
        let set: JwkSet =
            serde_json::from_value(document).map_err(|e| bad(format!("not a JWKS ({e})")))?;
        Self::from_jwk_set(&set, issuer, leeway)
    }

    /// A verifier accepting tokens of `issuer` signed by a key of `set`, with `leeway` of clock
    /// skew on `exp` and `nbf` (a negative leeway counts as zero).
    ///
    /// Keys that cannot verify our tokens are skipped: another `kty` or curve, a `use` other
    /// than `sig`, `key_ops` without `verify`, an `alg` other than the key type's, or no `kid`.
    ///
    /// # Errors
    /// [`InfraError::Jwks`], saying what is wrong, when a usable key has missing or malformed
    /// members (`n`, `e`, `x`, `y`), a modulus under 2048 bits, an even or tiny exponent, or a
    /// point not on its curve, when two keys share a `kid`, or when no key is usable at all.
    pub fn from_jwk_set(
        set: &JwkSet,
        issuer: impl Into<String>,
        leeway: Duration,
    ) -> Result<Self, InfraError> {
        let rules = Rules::new(issuer.into(), leeway);
        let mut keys: Vec<(String, VerifyingKey)> = Vec::with_capacity(set.keys.len());
        for (index, jwk) in set.keys.iter().enumerate() {
            let Some((kid, algorithm)) = usable(jwk) else {
                continue;
            };
            let key = algorithm
                .and_then(|algorithm| verifying_key(jwk, algorithm))
                .map_err(|why| bad(format!("key {kid:?} (keys[{index}]): {why}")))?;
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(bad(format!("two keys share the kid {kid:?}")));
            }
            keys.push((kid.to_owned(), key));
        }
        if keys.is_empty() {
            return Err(bad(
                "no key usable for our tokens (kty RSA, EC P-256 or OKP Ed25519, use sig, with \
                 a kid)"
                    .into(),
            ));
        }
        Ok(Self { keys, rules })
    }

    /// The `kid`s of the keys in use, in document order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(kid, _)| kid.as_str())
    }

    fn key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
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

/// The `kid` and algorithm of a key that could verify a token of ours; `None` for any other key.
/// A key of our types whose members did not parse (the library then files it under
/// [`AlgorithmParameters::Other`]) comes back with `Err`, so that the caller says what is wrong
/// rather than skip it silently.
fn usable(jwk: &Jwk) -> Option<(&str, Result<Algorithm, String>)> {
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Ok(Algorithm::RS512),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Ok(Algorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Ok(Algorithm::EdDSA)
        }
        AlgorithmParameters::Other(other) => Err(broken_member(&other.fields)?),
        _ => return None,
    };
    let common = &jwk.common;
    // Absent `use`, `key_ops` and `alg` put no restriction on the key (RFC 7517 §4.2-4.4).
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    if let (Some(alg), Ok(ours)) = (&common.key_algorithm, &algorithm) {
        if *alg != KeyAlgorithm::from(*ours) {
            return None;
        }
    }
    let kid = common.key_id.as_deref().filter(|kid| !kid.is_empty())?;
    Some((kid, algorithm))
}

/// Why a JWK of one of our key types (`RSA`, `EC` P-256, `OKP` Ed25519) did not parse as one;
/// `None` when it is of another type, which is skipped.
fn broken_member(fields: &std::collections::BTreeMap<String, Value>) -> Option<String> {
    let text = |name: &str| fields.get(name).and_then(Value::as_str);
    let needed: &[&str] = match text("kty")? {
        "RSA" => &["n", "e"],
        "EC" if text("crv").is_none_or(|c| c == "P-256") => &["crv", "x", "y"],
        "OKP" if text("crv").is_none_or(|c| c == "Ed25519") => &["crv", "x"],
        _ => return None,
    };
    let missing = needed.iter().find(|m| text(m).is_none()).unwrap_or(&"kty");
    Some(format!("`{missing}` is missing or not a string"))
}

/// The verification key of a usable JWK, or why it is unfit.
fn verifying_key(jwk: &Jwk, algorithm: Algorithm) -> Result<VerifyingKey, String> {
    let key = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = big_number(&rsa.n, "n")?;
            let e = big_number(&rsa.e, "e")?;
            let bits = n.num_bits();
            if bits < i32::try_from(MIN_RSA_BITS).unwrap_or(i32::MAX)
                || bits > i32::try_from(MAX_RSA_BITS).unwrap_or(i32::MAX)
            {
                return Err(format!(
                    "modulus of {bits} bits (must be {MIN_RSA_BITS} to {MAX_RSA_BITS})"
                ));
            }
            // An even or tiny exponent is no RSA key anyone issues; e = 1 would make every
            // "signature" its own message.
            if !e.is_bit_set(0) || e.num_bits() < 2 || e.num_bits() > 64 {
                return Err("public exponent must be odd, at least 3 and at most 64 bits".into());
            }
            DecodingKey::from_rsa_raw_components(&n.to_vec(), &e.to_vec())
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let x = fixed(&ec.x, "x", 32)?;
            let y = fixed(&ec.y, "y", 32)?;
            let point = [&[4u8][..], &x, &y].concat();
            // Refuse a point off the curve here, once, rather than at every verification.
            provider::ec_public(algorithm, &point)
                .map_err(|_| "`x`, `y` are not a point of P-256".to_owned())?;
            DecodingKey::from_ec_der(&point)
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            DecodingKey::from_ed_der(&fixed(&okp.x, "x", 32)?)
        }
        _ => return Err("not a key type we verify with".into()),
    };
    Ok(VerifyingKey { algorithm, key })
}

/// A base64url (unpadded) big-endian unsigned integer member.
fn big_number(text: &str, name: &str) -> Result<BigNum, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| format!("`{name}` is not unpadded base64url"))?;
    BigNum::from_slice(&bytes).map_err(|e| format!("`{name}` is not a number ({e})"))
}

/// A base64url (unpadded) member of exactly `len` bytes (RFC 7518 §6.2.1.2, RFC 8037 §2).
fn fixed(text: &str, name: &str, len: usize) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .filter(|bytes| bytes.len() == len)
        .ok_or_else(|| format!("`{name}` is not {len} bytes of unpadded base64url"))
}
