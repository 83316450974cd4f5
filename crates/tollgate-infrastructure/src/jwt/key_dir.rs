//! The key directory: file names, scanning, permissions, retirement markers, and the
//! [`KeySet`] operations that read or write it (load, generate, retire).
//!
//! Layout (mode 0700):
//!
//! ```text
//! 20261130T101500.123456Z-1A2B3C4D.key.pem   PKCS#8 private key, mode 0600
//! 20261130T101500.123456Z-1A2B3C4D.crt.pem   self-signed X.509 certificate
//!
//! 20261130T101500.123456Z-1A2B3C4D.retired   retirement marker, optional
//! ```
//!
//! The UTC creation stamp makes the names sort by age; the 8 hex digits are the start of the
//! key's `kid`. Files of any other name are ignored by the scan, among them `.lock`, which
//! processes sharing the directory lock while they scan it and generate a key (see
//! [`KeySet::open`]), and `dpop-nonce.secret` (mode 0600), the secret DPoP nonces are derived
//! from ([`shared_secret`]).
//!
//! Retirement is a marker file next to the pair holding the instant of retirement in the
//! file-name stamp format. A marker rather than a rename, so the pair's own files never move and
//! a crash half-way leaves at worst a hidden temporary file.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use tollgate_application::Clock as _;

use super::keys::{KeyInfo, KeySet, SigningSchedule};
use super::{x509, SigningAlgorithm};
use crate::{InfraError, SystemClock};

const KEY_SUFFIX: &str = ".key.pem";
const CERT_SUFFIX: &str = ".crt.pem";
const RETIRED_SUFFIX: &str = ".retired";
/// Locked while a process scans the directory or generates a key in it.
const LOCK_FILE: &str = ".lock";
const STAMP_FORMAT: &str = "%Y%m%dT%H%M%S%.6fZ";
/// A marker holds one stamp; anything longer is not ours, and is not read whole.
const MAX_MARKER_BYTES: u64 = 64;
/// Bytes of a [`shared_secret`].
pub const SHARED_SECRET_BYTES: usize = 32;

/// What [`KeySet::retire_at`] did.
#[derive(Debug, Clone)]
pub struct Retirement {
    /// The key, as loaded after the retirement.
    pub key: KeyInfo,
    /// The key had been retired before; nothing was written.
    pub already_retired: bool,
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
        Self::open(dir, algorithm, None)
    }

    /// What a server does at start-up and at every rescan: under an exclusive lock on the
    /// directory's `.lock` file, generates a key of `algorithm` when none can sign (creating
    /// `dir`, mode 0700, when missing), then loads the set with `schedule` (see [`KeySet`]).
    ///
    /// The lock makes processes sharing the directory take turns, so two servers starting at
    /// once on an empty directory end up with one key: the second finds the first one's.
    ///
    /// # Errors
    /// As [`KeySet::load`] and [`KeySet::generate`]; [`InfraError::Io`] when the lock file
    /// cannot be opened or locked.
    pub fn open(
        dir: &Path,
        algorithm: SigningAlgorithm,
        schedule: Option<SigningSchedule>,
    ) -> Result<KeySet, InfraError> {
        Self::open_reporting(dir, algorithm, schedule).map(|(set, _)| set)
    }

    /// [`KeySet::open`], also returning the key it generated, if it had to (so that the caller
    /// can record a security event).
    ///
    /// # Errors
    /// As [`KeySet::open`].
    pub fn open_reporting(
        dir: &Path,
        algorithm: SigningAlgorithm,
        schedule: Option<SigningSchedule>,
    ) -> Result<(KeySet, Option<KeyInfo>), InfraError> {
        ensure_dir(dir)?;
        let _lock = lock(dir)?;
        let can_sign = key_files(dir)?
            .iter()
            .any(|f| !retirement_marker(dir, &f.stem).exists());
        let mut generated = None;
        if !can_sign {
            let now = schedule.map_or_else(|| SystemClock.now(), |s| s.now);
            let info = Self::generate_with(dir, now, algorithm)?;
            tracing::info!(kid = info.kid(), algorithm = %algorithm, dir = %dir.display(), "generated a token signing key");
            generated = Some(info);
        }
        Ok((Self::load_scheduled(dir, schedule)?, generated))
    }

    /// Loads every key pair in `dir`, with their retirement markers; the newest pair (by the
    /// stamp in its file name) that is not retired signs.
    ///
    /// # Errors
    /// - [`InfraError::Io`] when `dir` or a file cannot be read;
    /// - [`InfraError::Key`] when `dir` is writable by group or others, holds no key pair, a
    ///   private key file is accessible by group or others, a file does not parse, a key is not
    ///   RSA of at least 2048 bits, P-256 or Ed25519, a certificate does not match its key or its
    ///   file name, two pairs hold the same key, a retirement marker does not parse, or every key
    ///   is retired;
    /// - [`InfraError::Crypto`] when OpenSSL fails otherwise.
    pub fn load(dir: &Path) -> Result<KeySet, InfraError> {
        Self::load_scheduled(dir, None)
    }

    /// [`KeySet::load`], choosing the signing key with `schedule` (see [`KeySet`]).
    ///
    /// # Errors
    /// As [`KeySet::load`].
    pub fn load_scheduled(
        dir: &Path,
        schedule: Option<SigningSchedule>,
    ) -> Result<KeySet, InfraError> {
        check_dir(dir)?;
        let files = key_files(dir)?;
        let mut keys: Vec<(KeyInfo, PKey<Private>)> = Vec::with_capacity(files.len());
        for file in &files {
            let pair = load_pair(dir, file)?;
            if keys.iter().any(|(k, _)| k.kid() == pair.0.kid()) {
                return Err(InfraError::Key(format!(
                    "{}: the same key is stored twice (kid {})",
                    dir.display(),
                    pair.0.kid()
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
        Self::from_pairs(keys, schedule).ok_or_else(|| {
            InfraError::Key(format!(
                "{}: every key is retired; run `tollgate keys generate`",
                dir.display()
            ))
        })
    }

    /// Generates an RS512 key pair and stores it in `dir` (created with mode 0700 when missing);
    /// it becomes the signing key at the next load. Stamped with the system time.
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

    /// Retires the key whose `kid` is `kid` (or starts with it: at least 8 hex digits, any
    /// case), stamped with the system time. See [`KeySet::retire_at`].
    ///
    /// # Errors
    /// As [`KeySet::retire_at`].
    pub fn retire(dir: &Path, kid: &str) -> Result<Retirement, InfraError> {
        Self::retire_at(dir, kid, SystemClock.now())
    }

    /// Retires a key at `now`: it stops signing at the next load and keeps verifying for its
    /// trust window. Retiring a retired key changes nothing (the first instant stands, so a retry
    /// cannot stretch the window).
    ///
    /// # Errors
    /// - [`InfraError::Key`] when the directory does not load, `kid` names no key or several, or
    ///   the key is the only one that is not retired (run `tollgate keys generate` first, so
    ///   something is left to sign);
    /// - [`InfraError::Io`] when the marker cannot be written.
    pub fn retire_at(dir: &Path, kid: &str, now: DateTime<Utc>) -> Result<Retirement, InfraError> {
        let set = Self::load(dir)?;
        let wanted = kid.to_ascii_uppercase();
        if wanted.len() < 8 {
            return Err(InfraError::Key(format!(
                "give at least 8 hex digits of the kid, not {kid:?}"
            )));
        }
        let mut matching = set.keys().filter(|k| k.kid().starts_with(&wanted));
        let (Some(key), None) = (matching.next(), matching.next()) else {
            return Err(InfraError::Key(format!(
                "{}: {kid:?} names no key, or more than one",
                dir.display()
            )));
        };
        if key.retired_at().is_some() {
            return Ok(Retirement {
                key: key.clone(),
                already_retired: true,
            });
        }
        let another_can_sign = set
            .keys()
            .any(|k| k.kid() != key.kid() && k.retired_at().is_none());
        if !another_can_sign {
            return Err(InfraError::Key(format!(
                "{} is the only key that can sign; run `tollgate keys generate` first",
                key.kid()
            )));
        }
        write_marker(dir, key.stem(), now)?;
        // Read back through the loader, so what we return is what every later load will see.
        let key = Self::load(dir)?
            .find(key.kid())
            .cloned()
            .ok_or_else(|| InfraError::Key(format!("{} vanished while retiring", key.kid())))?;
        Ok(Retirement {
            key,
            already_retired: false,
        })
    }
}

/// The secret `dir/name` that every process sharing the key directory reads alike: created
/// (random, mode 0600, written atomically) by the first process under the directory lock,
/// read by the others. The directory is made as for keys (0700) when missing. Servers that
/// share signing keys share the directory already, so what they derive from the secret (DPoP
/// nonces) agrees across them without storing anything per value.
///
/// # Errors
/// [`InfraError::Io`] when the directory or file cannot be made or read;
/// [`InfraError::InsecureFile`] when group or others can read it; [`InfraError::Key`] when it
/// does not hold exactly [`SHARED_SECRET_BYTES`] bytes.
pub fn shared_secret(dir: &Path, name: &str) -> Result<[u8; SHARED_SECRET_BYTES], InfraError> {
    ensure_dir(dir)?;
    let _lock = lock(dir)?;
    let path = dir.join(name);
    if !path.exists() {
        let mut fresh = [0u8; SHARED_SECRET_BYTES];
        openssl::rand::rand_bytes(&mut fresh).map_err(|e| InfraError::Key(e.to_string()))?;
        write_atomically(dir, name, &fresh, 0o600)?;
        sync_dir(dir)?;
    }
    crate::files::ensure_private(&path)?;
    let mut bytes = Vec::with_capacity(SHARED_SECRET_BYTES);
    File::open(&path)
        .and_then(|f| {
            f.take(SHARED_SECRET_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(io(&path))?;
    <[u8; SHARED_SECRET_BYTES]>::try_from(bytes.as_slice()).map_err(|_| {
        InfraError::Key(format!(
            "{}: expected {SHARED_SECRET_BYTES} bytes; delete it to have a new one made",
            path.display()
        ))
    })
}

/// Holds an exclusive lock on `dir/.lock` until dropped (closing the file releases it).
fn lock(dir: &Path) -> Result<File, InfraError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path))?;
    // `File::lock` (Rust 1.89, hence the workspace's `rust-version`) is `flock` on Unix: it is
    // held by the open file, so it ends with the process whatever way it ends.
    file.lock().map_err(io(&path))?;
    Ok(file)
}

/// The `<stamp>-<kid8>` file name stem of a pair created at `created_at` with this `kid`.
fn stem_of(created_at: DateTime<Utc>, kid: &str) -> String {
    format!(
        "{}-{}",
        created_at.format(STAMP_FORMAT),
        kid.get(..8).unwrap_or(kid)
    )
}

/// A private key file found in the directory, by name.
struct KeyFile {
    created_at: DateTime<Utc>,
    /// The name without [`KEY_SUFFIX`].
    stem: String,
    kid8: String,
}

/// The key files of `dir`, oldest first.
fn key_files(dir: &Path) -> Result<Vec<KeyFile>, InfraError> {
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
    // The name as found, not as we would format it, so a marker always sits next to its pair.
    let info = KeyInfo::from_certificate(file.created_at, &cert)?
        .stored_as(file.stem.clone(), read_retirement(dir, &file.stem)?);
    if !info.kid().starts_with(&file.kid8) {
        return Err(bad(
            &cert_path,
            format!(
                "file name says kid {}…, the certificate says {}",
                file.kid8,
                info.kid()
            ),
        ));
    }
    Ok((info, key))
}

/// Writes a pair under its final names, certificate first and key last, each through
/// [`write_atomically`]: a crash leaves at worst an orphan certificate or a hidden `.tmp` file,
/// which loading ignores, never a key without its certificate.
pub(crate) fn store_pair(
    dir: &Path,
    created_at: DateTime<Utc>,
    key: &PKey<Private>,
    cert: &X509,
) -> Result<KeyInfo, InfraError> {
    let info = KeyInfo::from_certificate(created_at, cert)?;
    let stem = stem_of(created_at, info.kid());
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
    Ok(info.stored_as(stem, None))
}

/// The marker's path for the pair named `stem`.
fn retirement_marker(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}{RETIRED_SUFFIX}"))
}

/// The retirement instant of the pair named `stem`; `None` when it has no marker.
fn read_retirement(dir: &Path, stem: &str) -> Result<Option<DateTime<Utc>>, InfraError> {
    let path = retirement_marker(dir, stem);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    let mut text = String::new();
    file.take(MAX_MARKER_BYTES)
        .read_to_string(&mut text)
        .map_err(io(&path))?;
    // Refusing to load rather than guessing: a marker we cannot read could stand for any
    // instant, and treating the key as unretired would let it sign again.
    NaiveDateTime::parse_from_str(text.trim(), STAMP_FORMAT)
        .map(|t| Some(t.and_utc()))
        .map_err(|_| {
            InfraError::Key(format!(
                "{}: not a retirement stamp (YYYYMMDDTHHMMSS.ffffffZ)",
                path.display()
            ))
        })
}

/// Writes the marker atomically, then syncs the directory, so the retirement is either wholly
/// there or not at all.
fn write_marker(dir: &Path, stem: &str, now: DateTime<Utc>) -> Result<(), InfraError> {
    check_dir(dir)?;
    let text = format!("{}\n", now.format(STAMP_FORMAT));
    write_atomically(
        dir,
        &format!("{stem}{RETIRED_SUFFIX}"),
        text.as_bytes(),
        0o644,
    )?;
    sync_dir(dir)
}

/// Writes `dir/name` (mode `mode`) through a hidden temporary file, synced, and a rename, so the
/// file is either wholly there or not at all (loading ignores `.tmp` files). The caller syncs
/// the directory once its renames are done ([`sync_dir`]).
fn write_atomically(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<(), InfraError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .map_err(io(&tmp))
        .and_then(|()| fs::rename(&tmp, &path).map_err(io(&path)));
    if let Err(e) = written {
        // Best effort: the error that matters is the one being returned.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Makes the renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), InfraError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
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

fn check_dir(dir: &Path) -> Result<(), InfraError> {
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

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InfraError {
    let path: PathBuf = path.to_owned();
    move |source| InfraError::Io {
        path: path.display().to_string(),
        source,
    }
}
