//! Keys in memory: [`KeyInfo`] (the public half of one key and where it stands in its set's
//! rotation) and [`KeySet`] (every key of the directory, and the choice of the signing key).
//!
//! Reading and writing the key directory is [`key_dir`](super::key_dir)'s business; the trust
//! window arithmetic is [`lifecycle`](super::lifecycle)'s.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::DecodingKey;
use openssl::pkey::{PKey, PKeyRef, Private, Public};
use openssl::x509::X509;
use tollgate_application::JwkParams;

use super::verify::VerifyingKey;
use super::x509::{self, asn1_to_utc};
use super::SigningAlgorithm;
use crate::InfraError;

/// The public half of one key: what verifying and publishing (JWKS) need, and where the key
/// stands in its set's rotation.
#[derive(Clone)]
pub struct KeyInfo {
    kid: String,
    thumbprint: [u8; 20],
    created_at: DateTime<Utc>,
    not_after: DateTime<Utc>,
    certificate_der: Vec<u8>,
    public_key: PKey<Public>,
    /// The one algorithm this key signs and verifies with.
    algorithm: SigningAlgorithm,
    /// The key as `jsonwebtoken` verifies with it, with that algorithm.
    verifying: VerifyingKey,
    /// The JWK's key members, made once at load so publishing cannot fail later.
    jwk: JwkParams,
    /// The file name without its suffix (`<stamp>-<kid8>`), shared by the pair's files.
    stem: String,
    /// From the key's retirement marker.
    retired_at: Option<DateTime<Utc>>,
    /// Set by the key set: `None` for the signing key and for keys published ahead.
    signing_ended_at: Option<DateTime<Utc>>,
    /// Set by the key set for a key published ahead of signing: when it may start.
    signs_from: Option<DateTime<Utc>>,
}

impl KeyInfo {
    /// The key of `cert`, created at `created_at`; not stored anywhere yet (no file stem), not
    /// retired.
    pub(super) fn from_certificate(
        created_at: DateTime<Utc>,
        cert: &X509,
    ) -> Result<Self, InfraError> {
        let (thumbprint, kid) = x509::thumbprint(cert)?;
        let public_key = cert.public_key()?;
        let (algorithm, jwk, decoding) = public_parts(&public_key)?;
        Ok(Self {
            stem: String::new(),
            kid,
            thumbprint,
            created_at,
            not_after: asn1_to_utc(cert.not_after())?,
            certificate_der: cert.to_der()?,
            public_key,
            algorithm,
            verifying: VerifyingKey {
                algorithm: algorithm.jws(),
                key: decoding,
            },
            jwk,
            retired_at: None,
            signing_ended_at: None,
            signs_from: None,
        })
    }

    /// This key as stored in the key directory: its files' name stem and its retirement.
    #[must_use]
    pub(super) fn stored_as(mut self, stem: String, retired_at: Option<DateTime<Utc>>) -> Self {
        self.stem = stem;
        self.retired_at = retired_at;
        self
    }

    /// The JWS `kid`: uppercase hex SHA-1 of the certificate's DER (40 characters).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The SHA-1 thumbprint of the certificate's DER (the JWK `x5t`, base64url-encoded).
    pub fn thumbprint_sha1(&self) -> [u8; 20] {
        self.thumbprint
    }

    /// When the pair was made, from its file name.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// The certificate's `notAfter` (informational; not enforced).
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// The certificate, DER-encoded (the JWK `x5c` member, base64-encoded).
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The public key.
    pub fn public_key(&self) -> &PKeyRef<Public> {
        &self.public_key
    }

    /// The algorithm this key signs with, and the only one it verifies.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The key as verification uses it.
    pub(super) fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// The JWK members of the public key (`n`, `e`; or `crv`, `x`, `y`; or `crv`, `x`).
    pub fn jwk_params(&self) -> &JwkParams {
        &self.jwk
    }

    /// When the key was retired (`tollgate keys retire`), if it was.
    pub fn retired_at(&self) -> Option<DateTime<Utc>> {
        self.retired_at
    }

    /// When the key stopped signing, as far as the key directory tells: its retirement, or the
    /// creation of the first newer key that is not retired, whichever came first. `None` for the
    /// signing key of its set.
    pub fn signing_ended_at(&self) -> Option<DateTime<Utc>> {
        self.signing_ended_at
    }

    /// For a key newer than its set's signing key and published ahead of signing
    /// ([`SigningSchedule::publish_ahead`]): the instant it may start signing. `None` otherwise.
    pub fn signs_from(&self) -> Option<DateTime<Utc>> {
        self.signs_from
    }

    /// The `<stamp>-<kid8>` file name stem of the pair.
    pub(super) fn stem(&self) -> &str {
        &self.stem
    }
}

impl fmt::Debug for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyInfo")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("not_after", &self.not_after)
            .field("retired_at", &self.retired_at)
            .field("signing_ended_at", &self.signing_ended_at)
            .field("signs_from", &self.signs_from)
            .finish_non_exhaustive()
    }
}

/// When a key set is looked at, and how long a new key is published before it may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningSchedule {
    /// The instant the set is loaded for.
    pub now: DateTime<Utc>,
    /// How long a key is in the JWKS before any server signs with it (setting
    /// `keys.publish_ahead`), so that a verifier holding a cached JWKS never meets its `kid`
    /// unannounced.
    pub publish_ahead: Duration,
}

/// Every key in the key directory and which one signs; the others may still verify, for as
/// long as [`JwtCodec`](super::JwtCodec)'s trust window says.
///
/// Without a [`SigningSchedule`] the newest key that is not retired signs. With one, the newest
/// key that is not retired and was created at least `publish_ahead` before `now` signs; newer
/// ones are only published (see [`KeyInfo::signs_from`]). When no key is that old (a fresh
/// install, or every older key retired), the oldest key that is not retired signs at once, so
/// there is always a signing key.
///
/// Immutable once loaded; a running server swaps in a freshly loaded set
/// ([`JwtCodec::replace_keys`](super::JwtCodec::replace_keys)).
pub struct KeySet {
    /// Every key, oldest first.
    keys: Vec<KeyInfo>,
    /// Index of the signing key in `keys`.
    signing: usize,
    /// Parsed once at load so signing never touches PEM again. Only the signing key's private
    /// half is kept in memory.
    signing_key: PKey<Private>,
}

impl KeySet {
    /// The signing key (see [`KeySet`] for which one that is).
    pub fn signing(&self) -> &KeyInfo {
        // `from_pairs` only makes sets whose index points into `keys`.
        &self.keys[self.signing]
    }

    /// The `kid` of the signing key.
    pub fn signing_kid(&self) -> &str {
        &self.signing().kid
    }

    /// Every key, oldest first, whether or not it still verifies.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &KeyInfo> {
        self.keys.iter()
    }

    /// The key with this `kid`, if it is in the set (still trusted or not).
    pub fn find(&self, kid: &str) -> Option<&KeyInfo> {
        self.keys().find(|k| k.kid == kid)
    }

    /// The signing key's private half, for the codec only.
    pub(crate) fn signing_key(&self) -> &PKeyRef<Private> {
        &self.signing_key
    }

    /// Builds a set from pairs sorted oldest first (each with its retirement read), deciding the
    /// signing key (per `schedule`, see [`KeySet`]) and when every other key stopped signing;
    /// `None` when none can sign.
    pub(super) fn from_pairs(
        pairs: Vec<(KeyInfo, PKey<Private>)>,
        schedule: Option<SigningSchedule>,
    ) -> Option<KeySet> {
        let usable = |k: &KeyInfo| k.retired_at.is_none();
        // When a key starts (or started) signing if nothing retires it first.
        let starts = |k: &KeyInfo| match schedule {
            None => Some(k.created_at),
            Some(s) => k.created_at.checked_add_signed(s.publish_ahead),
        };
        let signing = match schedule {
            None => pairs.iter().rposition(|(k, _)| usable(k))?,
            Some(s) => pairs
                .iter()
                .rposition(|(k, _)| usable(k) && starts(k).is_some_and(|t| t <= s.now))
                // Nothing published long enough: the key published longest signs at once
                // rather than none (a fresh install must work).
                .or_else(|| pairs.iter().position(|(k, _)| usable(k)))?,
        };
        let mut keys = Vec::with_capacity(pairs.len());
        let mut signing_key = None;
        for (i, (info, key)) in pairs.into_iter().enumerate() {
            if i == signing {
                signing_key = Some(key);
            }
            keys.push(info);
        }
        // A key stopped signing when it was retired or when the first newer key that is not
        // retired started signing, whichever came first. Newer keys that were retired since may
        // have signed meanwhile, but after their retirement this key was the newest usable one
        // again, so only a newer key that is still usable ends its signing for good.
        for i in 0..keys.len() {
            if i == signing {
                continue;
            }
            if i > signing && usable(&keys[i]) {
                // Published ahead: it has not signed yet, so its trust window has not begun.
                keys[i].signs_from = starts(&keys[i]);
                continue;
            }
            let superseded_at = keys[i + 1..].iter().find(|k| usable(k)).and_then(&starts);
            keys[i].signing_ended_at = match (keys[i].retired_at, superseded_at) {
                (Some(r), Some(s)) => Some(r.min(s)),
                (r, s) => r.or(s),
            };
        }
        Some(KeySet {
            keys,
            signing,
            signing_key: signing_key?,
        })
    }

    /// A set held in memory only (tests share one generated key this way); each pair may carry
    /// a retirement instant.
    #[cfg(test)]
    pub(crate) fn in_memory(pairs: &[MemoryPair]) -> Result<KeySet, InfraError> {
        Self::in_memory_with(pairs, None)
    }

    /// [`KeySet::in_memory`] with a [`SigningSchedule`].
    #[cfg(test)]
    pub(crate) fn in_memory_scheduled(
        pairs: &[MemoryPair],
        schedule: SigningSchedule,
    ) -> Result<KeySet, InfraError> {
        Self::in_memory_with(pairs, Some(schedule))
    }

    #[cfg(test)]
    fn in_memory_with(
        pairs: &[MemoryPair],
        schedule: Option<SigningSchedule>,
    ) -> Result<KeySet, InfraError> {
        let infos = pairs
            .iter()
            .map(|(created, key, cert, retired_at)| {
                let info = KeyInfo::from_certificate(*created, cert)?;
                Ok((info.stored_as(String::new(), *retired_at), key.clone()))
            })
            .collect::<Result<Vec<_>, InfraError>>()?;
        Self::from_pairs(infos, schedule).ok_or_else(|| InfraError::Key("no usable key".into()))
    }
}

/// A pair for [`KeySet::in_memory`]: created at, private key, certificate, retired at.
#[cfg(test)]
pub(crate) type MemoryPair = (DateTime<Utc>, PKey<Private>, X509, Option<DateTime<Utc>>);

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("signing_kid", &self.signing_kid())
            .field("keys", &self.keys().map(KeyInfo::kid).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What verification and the JWKS need of a public key: its algorithm, its JWK members and the
/// key as `jsonwebtoken` takes it.
fn public_parts(
    key: &PKeyRef<Public>,
) -> Result<(SigningAlgorithm, JwkParams, DecodingKey), InfraError> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let algorithm = x509::algorithm_of(key).map_err(InfraError::Key)?;
    Ok(match algorithm {
        SigningAlgorithm::Rs512 => {
            let rsa = key.rsa()?;
            // `BigNum::to_vec` is already minimal (no leading zero bytes), as RFC 7518 §6.3.1
            // asks.
            let (n, e) = (rsa.n().to_vec(), rsa.e().to_vec());
            (
                algorithm,
                JwkParams::Rsa {
                    n: b64(&n),
                    e: b64(&e),
                },
                DecodingKey::from_rsa_raw_components(&n, &e),
            )
        }
        SigningAlgorithm::Es256 => {
            let (x, y) = x509::ec_coordinates(key)?;
            let point = [&[4u8][..], &x, &y].concat();
            (
                algorithm,
                JwkParams::Ec {
                    crv: "P-256".into(),
                    x: b64(&x),
                    y: b64(&y),
                },
                DecodingKey::from_ec_der(&point),
            )
        }
        SigningAlgorithm::EdDsa => {
            let x = key.raw_public_key()?;
            (
                algorithm,
                JwkParams::Okp {
                    crv: "Ed25519".into(),
                    x: b64(&x),
                },
                DecodingKey::from_ed_der(&x),
            )
        }
    })
}
