use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::IgnoredAny;

use crate::jwt::Present;
use serde::Deserialize;
use serde_json::{Map, Value};
use tollgate_application::{DpopProof, DpopVerifier, Error as AppError};
use tollgate_domain::{DpopRejection, Jkt};
use url::Url;

use crate::InfraError;

/// The default of `dpop.max_age`: how old (by its `iat`) a proof may be, in seconds.
pub const DEFAULT_MAX_AGE_SECS: i64 = 60;
/// The longest proof looked at. A proof with a 4096-bit RSA key is about 2.5 KiB; the cap
/// bounds the work done before the signature is checked (`jsonwebtoken` has no limit).
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// The longest `jti` (and `nonce`) accepted: the `jti` is stored (digested) in the replay cache;
/// RFC 9449 asks for 96 random bits, which any sane encoding fits in far less.
const MAX_JTI_BYTES: usize = 256;
/// The smallest RSA modulus accepted, in bytes (2048 bits, RFC 7518 §3.3).
const MIN_RSA_MODULUS_BYTES: usize = 256;
/// The algorithms a proof may be signed with: asymmetric only, never `none` or HMAC.
const ALLOWED: [(Algorithm, &str); 4] = [
    (Algorithm::ES256, "ES256"),
    (Algorithm::EdDSA, "EdDSA"),
    (Algorithm::RS256, "RS256"),
    (Algorithm::PS256, "PS256"),
];
/// JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The [`DpopVerifier`] adapter (RFC 9449 §4.3), configured with the server's public base URL
/// (`tokens.issuer`), the proof window (`dpop.max_age`) and the clock-skew leeway.
#[derive(Clone)]
pub struct ProofVerifier {
    /// The issuer, normalised; request paths are appended to its path.
    base: Url,
    max_age: Duration,
    leeway: Duration,
    /// One `Validation` per allowed algorithm, made once.
    validations: Vec<(Algorithm, Validation)>,
}

impl std::fmt::Debug for ProofVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofVerifier")
            .field("base", &self.base.as_str())
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl ProofVerifier {
    /// A verifier for requests below `issuer` (an absolute `http` or `https` URL without query
    /// or fragment), accepting proofs made at most `max_age` ago, with `leeway` either way
    /// (negative values count as zero).
    ///
    /// # Errors
    /// [`InfraError::Dpop`] when `issuer` is not such a URL.
    pub fn new(issuer: &str, max_age: Duration, leeway: Duration) -> Result<Self, InfraError> {
        crate::jwt::ensure_provider_installed();
        let base = Url::parse(issuer)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .filter(|u| u.query().is_none() && u.fragment().is_none())
            .ok_or_else(|| {
                InfraError::Dpop(format!(
                    "the issuer {issuer:?} is not an absolute http(s) URL without query or \
                     fragment"
                ))
            })?;
        let validations = ALLOWED
            .iter()
            .map(|(alg, _)| {
                let mut v = Validation::new(*alg);
                // Times are checked by hand against the injected clock; a proof has no `exp`,
                // `nbf`, `aud` or `iss`. The claims the proof needs are required by `Claims`.
                v.validate_exp = false;
                v.validate_nbf = false;
                v.validate_aud = false;
                v.leeway = 0;
                v.set_required_spec_claims::<&str>(&[]);
                (*alg, v)
            })
            .collect();
        Ok(Self {
            base,
            max_age: max_age.max(Duration::zero()),
            leeway: leeway.max(Duration::zero()),
            validations,
        })
    }

    /// The `htu` a request to `path` must carry, normalised as [`normalise`] does.
    fn expected_url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!(
            "{}/{}",
            self.base.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
        url
    }

    /// Everything but the replay check, in RFC 9449 §4.3's order (cheap checks first).
    fn check(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        access_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<DpopProof, DpopRejection> {
        if proof.len() > MAX_PROOF_BYTES {
            return Err(DpopRejection::Malformed);
        }
        screen_header(proof)?;
        let header = jsonwebtoken::decode_header(proof).map_err(|_| DpopRejection::Malformed)?;
        let jwk = header.jwk.as_ref().ok_or(DpopRejection::Key)?;
        if !key_fits(header.alg, jwk) {
            return Err(DpopRejection::Key);
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| DpopRejection::Key)?;
        let validation = self
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .map(|(_, v)| v)
            .ok_or(DpopRejection::Algorithm)?;
        let claims = jsonwebtoken::decode::<Claims>(proof, &key, validation)
            .map_err(|e| rejection(e.kind()))?
            .claims;

        if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_BYTES {
            return Err(DpopRejection::Malformed);
        }
        if claims
            .nonce
            .as_ref()
            .is_some_and(|n| n.len() > MAX_JTI_BYTES)
        {
            return Err(DpopRejection::Malformed);
        }
        if claims.htm != method {
            return Err(DpopRejection::Method);
        }
        let htu = normalise(&claims.htu).ok_or(DpopRejection::Url)?;
        if htu != self.expected_url(path) {
            return Err(DpopRejection::Url);
        }
        let iat = DateTime::from_timestamp(claims.iat, 0).ok_or(DpopRejection::Malformed)?;
        let expires_at = iat + self.max_age + self.leeway;
        if iat > now + self.leeway || now > expires_at {
            return Err(DpopRejection::Stale);
        }
        if let Some(token) = access_token {
            let expected = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(token.as_bytes()));
            if claims.ath.as_deref() != Some(expected.as_str()) {
                return Err(DpopRejection::AccessTokenHash);
            }
        }
        let jkt = thumbprint(jwk).ok_or(DpopRejection::Key)?;
        Ok(DpopProof {
            jkt,
            jti: claims.jti,
            iat,
            expires_at,
            nonce: claims.nonce,
        })
    }
}

impl DpopVerifier for ProofVerifier {
    fn verify(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        access_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<DpopProof, AppError> {
        self.check(proof, method, path, access_token, now)
            .map_err(AppError::InvalidDpopProof)
    }

    fn algorithms(&self) -> Vec<String> {
        ALLOWED.iter().map(|(_, name)| (*name).to_owned()).collect()
    }
}

/// The proof's claims; the RFC 9449 §4.2 ones a proof must have are required by the type.
#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    /// Whole seconds (a fractional NumericDate is refused as malformed).
    iat: i64,
    ath: Option<String>,
    /// A server nonce (RFC 9449 §8); whether it is current is the use case's business.
    nonce: Option<String>,
}

/// RFC 9449 §4.3 point 9: the URL without query and fragment, normalised as RFC 3986 §6.2.2
/// and §6.2.3 say (scheme and host lower case, default port dropped, dot segments removed,
/// empty path as `/`), all of which `url`'s parser does. `None` for anything but absolute
/// http(s) URLs.
fn normalise(htu: &str) -> Option<Url> {
    let mut url = Url::parse(htu).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url)
}

/// Whether the `jwk` is the kind of key `alg` signs with (and big enough): a P-256 key for
/// ES256, an Ed25519 key for EdDSA, an RSA key of at least 2048 bits for RS256 and PS256.
fn key_fits(alg: Algorithm, jwk: &Jwk) -> bool {
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
            okp.curve == EllipticCurve::Ed25519
        }
        (AlgorithmParameters::RSA(rsa), Algorithm::RS256 | Algorithm::PS256) => URL_SAFE_NO_PAD
            .decode(&rsa.n)
            .is_ok_and(|n| n.len() >= MIN_RSA_MODULUS_BYTES),
        _ => false,
    }
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, through `jsonwebtoken`, which writes the
/// required members in lexicographic order (EC: `crv`, `kty`, `x`, `y`; RSA: `e`, `kty`, `n`;
/// OKP: `crv`, `kty`, `x`) and digests with the installed provider.
pub(super) fn thumbprint(jwk: &Jwk) -> Option<Jkt> {
    let digest = jwk.thumbprint(ThumbprintHash::SHA256).ok()?;
    Jkt::parse(&digest).ok()
}

/// What `jsonwebtoken`'s error means for the client.
fn rejection(kind: &ErrorKind) -> DpopRejection {
    match kind {
        ErrorKind::InvalidSignature => DpopRejection::Signature,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => DpopRejection::Algorithm,
        ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey => DpopRejection::Key,
        _ => DpopRejection::Malformed,
    }
}

/// By hand, what `jsonwebtoken`'s `Header` cannot tell, read from the header as sent:
/// - `typ` must be `dpop+jwt` (RFC 9449 §4.2);
/// - `alg` must be on the allow-list (the library would call `none` malformed JSON);
/// - any `crit`, even `null`: we understand no extension (RFC 7515 §4.1.11);
/// - the `jwk` must exist and hold no private member: the library's `Jwk` ignores unknown
///   members, so a private key sent by mistake would otherwise pass unnoticed;
/// - a header member given twice (serde refuses duplicates of the members named here).
fn screen_header(proof: &str) -> Result<(), DpopRejection> {
    let header = proof
        .split('.')
        .next()
        .filter(|_| proof.split('.').count() == 3)
        .ok_or(DpopRejection::Malformed)?;
    let header: Screened = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(DpopRejection::Malformed)?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(DpopRejection::Type);
    }
    if !ALLOWED.iter().any(|(_, name)| *name == header.alg) {
        return Err(DpopRejection::Algorithm);
    }
    if header.crit.0 {
        return Err(DpopRejection::Malformed);
    }
    let jwk = header.jwk.ok_or(DpopRejection::Key)?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(DpopRejection::Key);
    }
    Ok(())
}

/// The header members [`screen_header`] looks at; others are ignored (RFC 7515 §4).
#[derive(Deserialize)]
struct Screened {
    alg: String,
    typ: Option<String>,
    jwk: Option<Map<String, Value>>,
    #[serde(default)]
    crit: Present,
    // Named so that a duplicated `kid` fails to parse too.
    #[serde(default, rename = "kid")]
    _kid: IgnoredAny,
}
