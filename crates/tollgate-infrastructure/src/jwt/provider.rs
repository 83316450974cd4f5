//! `jsonwebtoken`'s cryptography, done by OpenSSL: the one crypto library of the build.
//!
//! `jsonwebtoken` 12 leaves the signature algorithms to a process-wide [`CryptoProvider`]. Its
//! two built-in providers (`aws_lc_rs`, `rust_crypto`) would each bring a second crypto stack
//! next to the OpenSSL that keys, certificates and TLS already need, so Tollgate enables neither
//! and installs [`OPENSSL_PROVIDER`] instead.
//!
//! **The rule when a host process has a provider of its own** (docs/ARCHITECTURE.md): a process
//! has exactly one default provider, and the first one installed wins. Tollgate installs
//! [`OPENSSL_PROVIDER`] when the first [`JwtCodec`](super::JwtCodec) or
//! [`JwksVerifier`](super::JwksVerifier) is built, unless the process already has one (the host
//! installed its own, or used `jsonwebtoken` with exactly one built-in backend enabled); then
//! Tollgate verifies through the host's provider, which implements the same algorithms, and says
//! so once in the log. Either way no `jsonwebtoken` call of Tollgate's can reach the library's
//! "no provider" panic. And because [`OPENSSL_PROVIDER`] implements every algorithm
//! `jsonwebtoken` knows, a host whose own `decode` calls end up on it keeps working too.
//!
//! Signing does not go through the provider: [`sign`] is called with the private key the key set
//! parsed once at load (the provider's signer factory would re-parse DER for every token).

use std::collections::HashMap;
use std::sync::{Mutex, Once, PoisonError};

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::memcmp;
use openssl::nid::Nid;
use openssl::pkey::{HasPrivate, HasPublic, Id, PKey, PKeyRef, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer as OsslSigner, Verifier as OsslVerifier};

/// A [`CryptoProvider`] whose signers and verifiers are OpenSSL's, for every algorithm of
/// `jsonwebtoken` (HS*, RS*, PS*, ES256, ES384, EdDSA with Ed25519).
pub static OPENSSL_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key,
        rsa_pub_components_from_public_key,
        ec_pub_components_from_private_key,
        ed_pub_components_from_private_key,
        compute_digest,
    },
};

/// Makes sure `jsonwebtoken` has a process-wide provider: [`OPENSSL_PROVIDER`] unless one was
/// installed first (see the module docs for the rule). Cheap after the first call.
pub(crate) fn ensure_installed() {
    static REPORTED: Once = Once::new();
    if let Err(other) = OPENSSL_PROVIDER.install_default() {
        if !std::ptr::eq(other, &OPENSSL_PROVIDER) {
            REPORTED.call_once(|| {
                tracing::info!(
                    "jsonwebtoken already has a process-wide crypto provider; Tollgate verifies \
                     tokens through it"
                );
            });
        }
    }
}

/// Signs `message` for `alg` with `key` (JWS signature bytes: raw `r || s` for ECDSA).
pub(super) fn sign<T: HasPrivate>(
    alg: Algorithm,
    key: &PKeyRef<T>,
    message: &[u8],
) -> Result<Vec<u8>, ErrorStack> {
    match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
            let mut signer = OsslSigner::new(digest(alg), key)?;
            // PKCS#1 v1.5 is what RS* means (and what makes RSA signatures deterministic).
            signer.set_rsa_padding(Padding::PKCS1)?;
            signer.sign_oneshot_to_vec(message)
        }
        Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => {
            let mut signer = OsslSigner::new(digest(alg), key)?;
            signer.set_rsa_padding(Padding::PKCS1_PSS)?;
            signer.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
            signer.sign_oneshot_to_vec(message)
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            let der = OsslSigner::new(digest(alg), key)?.sign_oneshot_to_vec(message)?;
            // RFC 7518 §3.4: the JWS form is r || s, each left-padded to the curve size.
            let sig = EcdsaSig::from_der(&der)?;
            let half = if alg == Algorithm::ES384 { 48 } else { 32 };
            let mut raw = sig.r().to_vec_padded(half)?;
            raw.extend(sig.s().to_vec_padded(half)?);
            Ok(raw)
        }
        Algorithm::EdDSA => OsslSigner::new_without_digest(key)?.sign_oneshot_to_vec(message),
        // HS*, and whatever a later `jsonwebtoken` adds (it then errors rather than guesses).
        _ if alg.family() == AlgorithmFamily::Hmac => {
            OsslSigner::new(digest(alg), key)?.sign_oneshot_to_vec(message)
        }
        _ => Err(ErrorStack::get()),
    }
}

/// Whether `signature` is `alg`'s signature of `message` by `key`. Anything OpenSSL cannot
/// even process (a wrong length, a value over the modulus) is simply not a signature: those
/// bytes come from whoever sent the token.
pub(super) fn verify<T: HasPublic>(
    alg: Algorithm,
    key: &PKeyRef<T>,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let checked = || -> Result<bool, ErrorStack> {
        match alg {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
                let mut verifier = OsslVerifier::new(digest(alg), key)?;
                verifier.set_rsa_padding(Padding::PKCS1)?;
                verifier.verify_oneshot(signature, message)
            }
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => {
                let mut verifier = OsslVerifier::new(digest(alg), key)?;
                verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
                verifier.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
                verifier.verify_oneshot(signature, message)
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                let half = ecdsa_half(alg);
                if signature.len() != 2 * half {
                    return Ok(false);
                }
                let (r, s) = signature.split_at(half);
                let der = EcdsaSig::from_private_components(
                    BigNum::from_slice(r)?,
                    BigNum::from_slice(s)?,
                )?
                .to_der()?;
                OsslVerifier::new(digest(alg), key)?.verify_oneshot(&der, message)
            }
            Algorithm::EdDSA => {
                OsslVerifier::new_without_digest(key)?.verify_oneshot(signature, message)
            }
            // HMAC keys have no public half (see `KeyKind::Hmac`); and an algorithm a later
            // `jsonwebtoken` adds verifies nothing here.
            _ => Ok(false),
        }
    };
    checked().unwrap_or(false)
}

/// The digest of `alg` (SHA-256 for EdDSA, where it is unused).
fn digest(alg: Algorithm) -> MessageDigest {
    match alg {
        Algorithm::HS384 | Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => {
            MessageDigest::sha384()
        }
        Algorithm::HS512 | Algorithm::RS512 | Algorithm::PS512 => MessageDigest::sha512(),
        _ => MessageDigest::sha256(),
    }
}

/// Bytes of `r` (and of `s`) in an `alg` signature.
fn ecdsa_half(alg: Algorithm) -> usize {
    if alg == Algorithm::ES384 {
        48
    } else {
        32
    }
}

/// The curve of an ECDSA algorithm.
fn curve(alg: Algorithm) -> Nid {
    if alg == Algorithm::ES384 {
        Nid::SECP384R1
    } else {
        Nid::X9_62_PRIME256V1
    }
}

/// The key of a signer or verifier made by the factories.
enum KeyKind<T> {
    Asymmetric(PKey<T>),
    /// HMAC secret: signing and verifying are the same computation.
    Hmac(PKey<Private>),
}

struct OpenSslSigner {
    alg: Algorithm,
    key: KeyKind<Private>,
}

impl Signer<Vec<u8>> for OpenSslSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let key = match &self.key {
            KeyKind::Asymmetric(key) | KeyKind::Hmac(key) => key,
        };
        sign(self.alg, key, message).map_err(|_| SignatureError::new())
    }
}

impl JwtSigner for OpenSslSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

struct OpenSslVerifier {
    alg: Algorithm,
    key: KeyKind<Public>,
}

impl Verifier<Vec<u8>> for OpenSslVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), SignatureError> {
        let valid = match &self.key {
            KeyKind::Asymmetric(key) => verify(self.alg, key, message, signature),
            KeyKind::Hmac(key) => sign(self.alg, key, message)
                .is_ok_and(|mac| mac.len() == signature.len() && memcmp::eq(&mac, signature)),
        };
        if valid {
            Ok(())
        } else {
            Err(SignatureError::new())
        }
    }
}

impl JwtVerifier for OpenSslVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn new_signer(alg: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    let alg = *alg;
    if key.family() != alg.family() {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let bytes = key.as_bytes();
    let key = match alg.family() {
        AlgorithmFamily::Hmac => {
            KeyKind::Hmac(PKey::hmac(bytes).map_err(|_| jwt_error(ErrorKind::InvalidKeyFormat))?)
        }
        // `EncodingKey::from_rsa_pem`/`_der` hold PKCS#1; the EC and Ed forms PKCS#8.
        AlgorithmFamily::Rsa => KeyKind::Asymmetric(
            Rsa::private_key_from_der(bytes)
                .and_then(PKey::from_rsa)
                .or_else(|_| PKey::private_key_from_der(bytes))
                .map_err(|e| jwt_error(ErrorKind::InvalidRsaKey(e.to_string())))?,
        ),
        AlgorithmFamily::Ec => KeyKind::Asymmetric(
            PKey::private_key_from_der(bytes)
                .ok()
                .filter(|k| ec_curve_is(k, alg))
                .ok_or_else(|| jwt_error(ErrorKind::InvalidEcdsaKey))?,
        ),
        AlgorithmFamily::Ed => KeyKind::Asymmetric(
            PKey::private_key_from_der(bytes)
                .ok()
                .filter(|k| k.id() == Id::ED25519)
                .ok_or_else(|| jwt_error(ErrorKind::InvalidEddsaKey))?,
        ),
    };
    Ok(Box::new(OpenSslSigner { alg, key }))
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    let alg = *alg;
    if key.family() != alg.family() {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    if let (AlgorithmFamily::Hmac, DecodingKeyKind::SecretOrDer(secret)) =
        (alg.family(), key.kind())
    {
        let key = PKey::hmac(secret).map_err(|_| jwt_error(ErrorKind::InvalidKeyFormat))?;
        return Ok(Box::new(OpenSslVerifier {
            alg,
            key: KeyKind::Hmac(key),
        }));
    }
    let key = PUBLIC_KEYS.get_or_parse(alg, key)?;
    Ok(Box::new(OpenSslVerifier {
        alg,
        key: KeyKind::Asymmetric(key),
    }))
}

/// Parses the public key `key` holds for `alg` (every family but HMAC).
fn parse_public(alg: Algorithm, key: &DecodingKey) -> JwtResult<PKey<Public>> {
    match (alg.family(), key.kind()) {
        (AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            rsa_public(n, e).map_err(invalid_rsa)
        }
        // `DecodingKey::from_rsa_pem`/`_der` hold PKCS#1.
        (AlgorithmFamily::Rsa, DecodingKeyKind::SecretOrDer(der)) => {
            Rsa::public_key_from_der_pkcs1(der)
                .and_then(PKey::from_rsa)
                .map_err(invalid_rsa)
        }
        // `DecodingKey::from_ec_components`/`_der`: the SEC1 point.
        (AlgorithmFamily::Ec, DecodingKeyKind::SecretOrDer(point)) => {
            ec_point_key(alg, point).map_err(|_| jwt_error(ErrorKind::InvalidEcdsaKey))
        }
        // `DecodingKey::from_ed_components`/`_der`: the 32 raw bytes.
        (AlgorithmFamily::Ed, DecodingKeyKind::SecretOrDer(raw)) => {
            PKey::public_key_from_raw_bytes(raw, Id::ED25519)
                .map_err(|_| jwt_error(ErrorKind::InvalidEddsaKey))
        }
        _ => Err(ErrorKind::InvalidKeyFormat.into()),
    }
}

/// Public keys already parsed for verification, by algorithm and complete key bytes.
///
/// `jsonwebtoken` calls the verifier factory with key bytes for every token. A key object made
/// afresh each time is costly: OpenSSL works out an RSA key's Montgomery constants on the key's
/// first use and keeps them in the key object, so a new object per token redid that every time
/// (checking an RS512 refresh token fell from about 7.5% to 5.5% of a refresh's CPU with the
/// key kept). A hit is the same key, since the lookup compares all of its bytes. Bounded: a
/// DPoP proof brings a key of the client's choosing, and a flood of new keys must not grow
/// memory; a full cache is emptied, which costs each key one parse again.
static PUBLIC_KEYS: PublicKeyCache = PublicKeyCache::new();

/// Most keys [`PUBLIC_KEYS`] holds before it starts over.
pub(super) const PUBLIC_KEY_CACHE_SIZE: usize = 64;

/// Parsed public keys by algorithm and key bytes (see [`PUBLIC_KEYS`]).
pub(super) struct PublicKeyCache {
    keys: Mutex<Option<ParsedKeys>>,
}

/// Parsed keys by algorithm and [`key_bytes`].
type ParsedKeys = HashMap<(Algorithm, Vec<u8>), PKey<Public>>;

impl PublicKeyCache {
    pub(super) const fn new() -> Self {
        Self {
            keys: Mutex::new(None),
        }
    }

    /// The key `key` holds for `alg`, parsed now or earlier.
    pub(super) fn get_or_parse(
        &self,
        alg: Algorithm,
        key: &DecodingKey,
    ) -> JwtResult<PKey<Public>> {
        let id = (alg, key_bytes(key));
        // A panic elsewhere while holding the lock leaves a map of whole entries: keep using it.
        let lock = || self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = lock().as_ref().and_then(|keys| keys.get(&id)) {
            return Ok(found.clone());
        }
        // Parsed outside the lock; two threads parsing the same new key both store an equal one.
        let parsed = parse_public(alg, key)?;
        let mut keys = lock();
        let keys = keys.get_or_insert_with(HashMap::new);
        if keys.len() >= PUBLIC_KEY_CACHE_SIZE {
            keys.clear();
        }
        keys.insert(id, parsed.clone());
        Ok(parsed)
    }

    /// Keys held now.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, HashMap::len)
    }
}

/// All of a public key's bytes, unambiguously (RSA's modulus is length-prefixed).
fn key_bytes(key: &DecodingKey) -> Vec<u8> {
    match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            let mut bytes = Vec::with_capacity(9 + n.len() + e.len());
            bytes.push(1);
            bytes.extend_from_slice(&(n.len() as u64).to_be_bytes());
            bytes.extend_from_slice(n);
            bytes.extend_from_slice(e);
            bytes
        }
        DecodingKeyKind::SecretOrDer(der) => {
            let mut bytes = Vec::with_capacity(1 + der.len());
            bytes.push(0);
            bytes.extend_from_slice(der);
            bytes
        }
    }
}

/// An RSA public key from its big-endian modulus and exponent.
pub(super) fn rsa_public(n: &[u8], e: &[u8]) -> Result<PKey<Public>, ErrorStack> {
    let rsa = Rsa::from_public_components(BigNum::from_slice(n)?, BigNum::from_slice(e)?)?;
    PKey::from_rsa(rsa)
}

/// An EC public key of `alg`'s curve from its SEC1 point, fully checked (on the curve, of the
/// group's order): for keys accepted once, from a JWKS.
pub(super) fn ec_public(alg: Algorithm, point: &[u8]) -> Result<PKey<Public>, ErrorStack> {
    let group = EcGroup::from_curve_name(curve(alg))?;
    let mut ctx = BigNumContext::new()?;
    let point = EcPoint::from_bytes(&group, point, &mut ctx)?;
    let key = EcKey::from_public_key(&group, &point)?;
    key.check_key()?;
    PKey::from_ec_key(key)
}

/// The same without the order check (a scalar multiplication, as costly as half a
/// verification), for every verification: OpenSSL still refuses a point off the curve, and
/// keys reach verification only after [`ec_public`] or from our own key files.
fn ec_point_key(alg: Algorithm, point: &[u8]) -> Result<PKey<Public>, ErrorStack> {
    let group = EcGroup::from_curve_name(curve(alg))?;
    let mut ctx = BigNumContext::new()?;
    let point = EcPoint::from_bytes(&group, point, &mut ctx)?;
    PKey::from_ec_key(EcKey::from_public_key(&group, &point)?)
}

fn ec_curve_is<T: HasPublic>(key: &PKeyRef<T>, alg: Algorithm) -> bool {
    key.ec_key()
        .ok()
        .and_then(|k| k.group().curve_name())
        .is_some_and(|nid| nid == curve(alg))
}

fn jwt_error(kind: ErrorKind) -> jsonwebtoken::errors::Error {
    kind.into()
}

fn invalid_rsa(e: ErrorStack) -> jsonwebtoken::errors::Error {
    jwt_error(ErrorKind::InvalidRsaKey(e.to_string()))
}

fn rsa_pub_components_from_private_key(der: &[u8]) -> JwtResult<(Vec<u8>, Vec<u8>)> {
    let rsa = Rsa::private_key_from_der(der).map_err(invalid_rsa)?;
    Ok((rsa.n().to_vec(), rsa.e().to_vec()))
}

fn rsa_pub_components_from_public_key(der: &[u8]) -> JwtResult<(Vec<u8>, Vec<u8>)> {
    let rsa = Rsa::public_key_from_der_pkcs1(der).map_err(invalid_rsa)?;
    Ok((rsa.n().to_vec(), rsa.e().to_vec()))
}

fn ec_pub_components_from_private_key(
    der: &[u8],
    alg: Algorithm,
) -> JwtResult<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    let invalid = |_| jwt_error(ErrorKind::InvalidEcdsaKey);
    let curve_name = match alg {
        Algorithm::ES256 => EllipticCurve::P256,
        Algorithm::ES384 => EllipticCurve::P384,
        _ => return Err(ErrorKind::InvalidEcdsaKey.into()),
    };
    let key = PKey::private_key_from_der(der).map_err(invalid)?;
    if !ec_curve_is(&key, alg) {
        return Err(ErrorKind::InvalidEcdsaKey.into());
    }
    let ec = key.ec_key().map_err(invalid)?;
    let mut ctx = BigNumContext::new().map_err(invalid)?;
    let point = ec
        .public_key()
        .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
        .map_err(invalid)?;
    let half = ecdsa_half(alg);
    match point.split_first() {
        Some((4, xy)) if xy.len() == 2 * half => {
            let (x, y) = xy.split_at(half);
            Ok((curve_name, x.to_vec(), y.to_vec()))
        }
        _ => Err(ErrorKind::InvalidEcdsaKey.into()),
    }
}

fn ed_pub_components_from_private_key(der: &[u8], curve: &EllipticCurve) -> JwtResult<Vec<u8>> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    PKey::private_key_from_der(der)
        .ok()
        .filter(|k| k.id() == Id::ED25519)
        .and_then(|k| k.raw_public_key().ok())
        .ok_or_else(|| jwt_error(ErrorKind::InvalidEddsaKey))
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> JwtResult<Vec<u8>> {
    let md = match hash {
        ThumbprintHash::SHA256 => MessageDigest::sha256(),
        ThumbprintHash::SHA384 => MessageDigest::sha384(),
        ThumbprintHash::SHA512 => MessageDigest::sha512(),
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    openssl::hash::hash(md, data)
        .map(|d| d.to_vec())
        .map_err(|e| jwt_error(ErrorKind::Signing(e.to_string())))
}
