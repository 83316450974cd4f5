//! The on-disk key set: one RSA key and its self-signed certificate per pair of files.
//!
//! Layout of the key directory (mode 0700):
//!
//! ```text
//! 20261130T101500.123456Z-1A2B3C4D.key.pem   PKCS#8 private key, mode 0600
//! 20261130T101500.123456Z-1A2B3C4D.crt.pem   self-signed X.509 certificate
//!
//! 20261130T101500.123456Z-1A2B3C4D.retired   retirement marker (see `lifecycle`), optional
//! ```
//!
//! The UTC creation stamp makes the names sort by age; the 8 hex digits are the start of the
//! key's `kid`. The newest pair without a retirement marker signs. Files of any other name are
//! ignored.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use jsonwebtoken::DecodingKey;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, PKeyRef, Private, Public};
use openssl::x509::X509;
use tollgate_application::{Clock as _, JwkParams};

use super::lifecycle::{read_retirement, retirement_marker};
use super::verify::VerifyingKey;
use super::x509::{self, asn1_to_utc, upper_hex};
use super::SigningAlgorithm;
use crate::{InfraError, SystemClock};

const KEY_SUFFIX: &str = ".key.pem";
const CERT_SUFFIX: &str = ".crt.pem";
pub(super) const STAMP_FORMAT: &str = "%Y%m%dT%H%M%S%.6fZ";

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
    /// Set by the key set: `None` for the signing key.
    signing_ended_at: Option<DateTime<Utc>>,
}

impl KeyInfo {
    fn from_certificate(created_at: DateTime<Utc>, cert: &X509) -> Result<Self, InfraError> {
        let digest = cert.digest(MessageDigest::sha1())?;
        let thumbprint: [u8; 20] = digest[..]
            .try_into()
            .map_err(|_| InfraError::Key("SHA-1 digest is not 20 bytes".into()))?;
        let kid = upper_hex(&thumbprint);
        let public_key = cert.public_key()?;
        let (algorithm, jwk, decoding) = public_parts(&public_key)?;
        Ok(Self {
            stem: format!(
                "{}-{}",
                created_at.format(STAMP_FORMAT),
                kid.get(..8).unwrap_or(&kid)
            ),
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
        })
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
            .finish_non_exhaustive()
    }
}

/// Every key in the key directory: the newest key that is not retired signs; the others may
/// still verify, for as long as [`JwtCodec`](super::JwtCodec)'s trust window says.
///
/// Immutable once loaded: a running server keeps signing with the key it loaded until it is
/// restarted, so the set's signing key never stops verifying in this process.
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
    /// Loads every key pair in `dir`; when none of them can sign (there is none, or every one is
    /// retired), generates one first.
    ///
    /// Creates `dir` (mode 0700) when it does not exist.
    ///
    /// # Errors
    /// As [`KeySet::load`] and [`KeySet::generate`].
    pub fn load_or_generate(dir: &Path) -> Result<KeySet, InfraError> {
        Self::load_or_generate_with(dir, SigningAlgorithm::default())
    }

    /// [`KeySet::load_or_generate`], generating a key of `algorithm` when one is needed
    /// (setting `tokens.algorithm`). Existing keys keep their own algorithms.
    ///
    /// # Errors
    /// As [`KeySet::load`] and [`KeySet::generate`].
    pub fn load_or_generate_with(
        dir: &Path,
        algorithm: SigningAlgorithm,
    ) -> Result<KeySet, InfraError> {
        Self::ensure_signing_key(dir, SystemClock.now(), algorithm)?;
        Self::load(dir)
    }

    /// Generates a key of `algorithm`, created at `now`, when no key in `dir` can sign (there
    /// is none, or every one is retired); returns it, so the caller can report it. Creates `dir`
    /// (mode 0700) when it does not exist.
    ///
    /// # Errors
    /// As [`KeySet::generate`].
    pub fn ensure_signing_key(
        dir: &Path,
        now: DateTime<Utc>,
        algorithm: SigningAlgorithm,
    ) -> Result<Option<KeyInfo>, InfraError> {
        ensure_dir(dir)?;
        let can_sign = key_files(dir)?
            .iter()
            .any(|f| !retirement_marker(dir, &f.stem).exists());
        if can_sign {
            return Ok(None);
        }
        let info = Self::generate_with(dir, now, algorithm)?;
        tracing::info!(kid = info.kid(), algorithm = %algorithm, dir = %dir.display(), "generated a token signing key");
        Ok(Some(info))
    }

    /// Loads every key pair in `dir`, with their retirement markers; the newest pair (by the
    /// stamp in its file name) that is not retired signs.
    ///
    /// # Errors
    /// - [`InfraError::Io`] when `dir` or a file cannot be read;
    /// - [`InfraError::Key`] when `dir` is writable by group or others, holds no key pair, a
    ///   private key file is accessible by group or others, a file does not parse, a key is not
    ///   RSA of at least 2048 bits, P-256 or Ed25519, a certificate does not match its key or its file name, two
    ///   pairs hold the same key, a retirement marker does not parse, or every key is retired;
    /// - [`InfraError::Crypto`] when OpenSSL fails otherwise.
    pub fn load(dir: &Path) -> Result<KeySet, InfraError> {
        check_dir(dir)?;
        let files = key_files(dir)?;
        let mut keys = Vec::with_capacity(files.len());
        for file in &files {
            let pair = load_pair(dir, file)?;
            if keys.iter().any(|(k, _): &(KeyInfo, _)| k.kid == pair.0.kid) {
                return Err(InfraError::Key(format!(
                    "{}: the same key is stored twice (kid {})",
                    dir.display(),
                    pair.0.kid
                )));
            }
            keys.push(pair);
        }
        if keys.is_empty() {
            return Err(InfraError::Key(format!(
                "{}: no key pair (*{KEY_SUFFIX} with its *{CERT_SUFFIX})",
                dir.display()
            )));
        }
        Self::from_pairs(keys).ok_or_else(|| {
            InfraError::Key(format!(
                "{}: every key is retired; run `tollgate keys generate`",
                dir.display()
            ))
        })
    }

    /// Generates an RS512 key pair and stores it in `dir` (created with mode 0700 when missing);
    /// it becomes the signing key at the next load (running servers keep their key until they
    /// restart). Stamped with the system time.
    ///
    /// # Errors
    /// As [`KeySet::generate_at`].
    pub fn generate(dir: &Path) -> Result<KeyInfo, InfraError> {
        Self::generate_at(dir, SystemClock.now())
    }

    /// Generates a key pair created at `now` (certificate `notBefore` and file name) and stores
    /// it in `dir`, for tools and tests that control the clock.
    ///
    /// # Errors
    /// [`InfraError::Io`] when the files cannot be written, [`InfraError::Key`] when `dir` is
    /// writable by group or others, [`InfraError::Crypto`] when OpenSSL fails.
    pub fn generate_at(dir: &Path, now: DateTime<Utc>) -> Result<KeyInfo, InfraError> {
        Self::generate_with(dir, now, SigningAlgorithm::default())
    }

    /// [`KeySet::generate_at`] for a key of `algorithm`.
    ///
    /// # Errors
    /// As [`KeySet::generate_at`].
    pub fn generate_with(
        dir: &Path,
        now: DateTime<Utc>,
        algorithm: SigningAlgorithm,
    ) -> Result<KeyInfo, InfraError> {
        ensure_dir(dir)?;
        let (key, cert) = x509::new_pair(now, algorithm)?;
        store_pair(dir, now, &key, &cert)
    }

    /// The signing key: the newest one that is not retired.
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
    /// signing key and when every other key stopped signing; `None` when none can sign.
    fn from_pairs(pairs: Vec<(KeyInfo, PKey<Private>)>) -> Option<KeySet> {
        let signing = pairs.iter().rposition(|(k, _)| k.retired_at.is_none())?;
        let mut keys = Vec::with_capacity(pairs.len());
        let mut signing_key = None;
        for (i, (info, key)) in pairs.into_iter().enumerate() {
            if i == signing {
                signing_key = Some(key);
            }
            keys.push(info);
        }
        // A key stopped signing when it was retired or when the first newer key that is not
        // retired appeared, whichever came first. Newer keys that were retired since may have
        // signed meanwhile, but after their retirement this key was the newest usable one again,
        // so only a newer key that is still usable ends its signing for good.
        for i in 0..keys.len() {
            if i == signing {
                continue;
            }
            let superseded_at = keys[i + 1..]
                .iter()
                .find(|k| k.retired_at.is_none())
                .map(|k| k.created_at);
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
        let infos = pairs
            .iter()
            .map(|(created, key, cert, retired_at)| {
                let mut info = KeyInfo::from_certificate(*created, cert)?;
                info.retired_at = *retired_at;
                Ok((info, key.clone()))
            })
            .collect::<Result<Vec<_>, InfraError>>()?;
        Self::from_pairs(infos).ok_or_else(|| InfraError::Key("no usable key".into()))
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

/// A private key file found in the directory, by name.
pub(super) struct KeyFile {
    created_at: DateTime<Utc>,
    /// The name without [`KEY_SUFFIX`].
    pub(super) stem: String,
    kid8: String,
}

/// The key files of `dir`, oldest first.
pub(super) fn key_files(dir: &Path) -> Result<Vec<KeyFile>, InfraError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(KEY_SUFFIX) else {
            continue;
        };
        match parse_stem(stem) {
            Some((created_at, kid8)) => files.push(KeyFile {
                created_at,
                stem: stem.to_owned(),
                kid8: kid8.to_owned(),
            }),
            None => tracing::warn!(
                file = %dir.join(name).display(),
                "ignoring a key file not named <YYYYMMDDTHHMMSS.ffffffZ>-<8 hex digits>{KEY_SUFFIX}"
            ),
        }
    }
    // The stem breaks ties so the order never depends on the directory listing.
    files.sort_by(|a, b| (a.created_at, &a.stem).cmp(&(b.created_at, &b.stem)));
    Ok(files)
}

fn parse_stem(stem: &str) -> Option<(DateTime<Utc>, &str)> {
    let (stamp, kid8) = stem.rsplit_once('-')?;
    let hex = |c: char| c.is_ascii_digit() || ('A'..='F').contains(&c);
    if kid8.len() != 8 || !kid8.chars().all(hex) {
        return None;
    }
    let created = NaiveDateTime::parse_from_str(stamp, STAMP_FORMAT).ok()?;
    Some((created.and_utc(), kid8))
}

fn load_pair(dir: &Path, file: &KeyFile) -> Result<(KeyInfo, PKey<Private>), InfraError> {
    let key_path = dir.join(format!("{}{KEY_SUFFIX}", file.stem));
    let cert_path = dir.join(format!("{}{CERT_SUFFIX}", file.stem));
    let bad = |path: &Path, what: String| InfraError::Key(format!("{}: {what}", path.display()));

    let meta = fs::metadata(&key_path).map_err(io(&key_path))?;
    if !meta.is_file() {
        return Err(bad(&key_path, "not a regular file".into()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        // Refused rather than warned about: a key others could read may already be someone
        // else's, and a warning in a start-up log is easily missed.
        return Err(bad(
            &key_path,
            format!("private key is accessible by group or others (mode {mode:03o}); chmod 600 it"),
        ));
    }
    let key = PKey::private_key_from_pem(&fs::read(&key_path).map_err(io(&key_path))?)
        .map_err(|e| bad(&key_path, format!("not a PEM private key ({e})")))?;
    if let Err(why) = x509::algorithm_of(&key) {
        return Err(bad(&key_path, why));
    }
    let cert = X509::from_pem(&fs::read(&cert_path).map_err(io(&cert_path))?)
        .map_err(|e| bad(&cert_path, format!("not a PEM certificate ({e})")))?;
    if !cert.public_key()?.public_eq(&key) {
        return Err(bad(
            &cert_path,
            "certificate is not for its private key".into(),
        ));
    }
    let mut info = KeyInfo::from_certificate(file.created_at, &cert)?;
    // The name as found, not as we would format it, so a marker always sits next to its pair.
    info.stem.clone_from(&file.stem);
    info.retired_at = read_retirement(dir, &file.stem)?;
    if !info.kid.starts_with(&file.kid8) {
        return Err(bad(
            &cert_path,
            format!(
                "file name says kid {}…, the certificate says {}",
                file.kid8, info.kid
            ),
        ));
    }
    Ok((info, key))
}

/// Writes a pair under its final names, certificate first and key last, each through a temporary
/// file and a rename: a crash leaves at worst an orphan certificate or a hidden `.tmp` file,
/// which loading ignores, never a key without its certificate.
pub(crate) fn store_pair(
    dir: &Path,
    created_at: DateTime<Utc>,
    key: &PKey<Private>,
    cert: &X509,
) -> Result<KeyInfo, InfraError> {
    let info = KeyInfo::from_certificate(created_at, cert)?;
    let stem = info.stem.clone();
    let cert_pem = cert.to_pem()?;
    let key_pem = key.private_key_to_pem_pkcs8()?;
    let files = [
        (CERT_SUFFIX, cert_pem.as_slice(), 0o644),
        (KEY_SUFFIX, key_pem.as_slice(), 0o600),
    ];
    for (suffix, bytes, mode) in files {
        write_atomically(dir, &format!("{stem}{suffix}"), bytes, mode)?;
    }
    // Make the renames durable before anyone is handed tokens signed with this key.
    sync_dir(dir)?;
    Ok(info)
}

/// Writes `dir/name` through a hidden temporary file and a rename, so the file is either wholly
/// there or not at all (loading ignores `.tmp` files). The caller syncs the directory once its
/// renames are done ([`sync_dir`]).
pub(super) fn write_atomically(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<(), InfraError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let written =
        write_new(&tmp, bytes, mode).and_then(|()| fs::rename(&tmp, &path).map_err(io(&path)));
    if let Err(e) = written {
        // Best effort: the error that matters is the one being returned.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Makes the renames in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), InfraError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), InfraError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io(path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io(path))
}

/// Creates `dir` with mode 0700 when missing, then checks it.
fn ensure_dir(dir: &Path) -> Result<(), InfraError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    check_dir(dir)
}

pub(super) fn check_dir(dir: &Path) -> Result<(), InfraError> {
    let meta = fs::metadata(dir).map_err(io(dir))?;
    if !meta.is_dir() {
        return Err(InfraError::Key(format!(
            "{}: not a directory",
            dir.display()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        // Whoever can add a pair here can make it the signing key, or make us accept their tokens.
        return Err(InfraError::Key(format!(
            "{}: key directory is writable by group or others (mode {mode:03o}); chmod 700 it",
            dir.display()
        )));
    }
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{mode:03o}"), "key directory is readable by group or others; chmod 700 it");
    }
    Ok(())
}

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InfraError {
    let path: PathBuf = path.to_owned();
    move |source| InfraError::Io {
        path: path.display().to_string(),
        source,
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
