//! Key rotation: when a key stops signing, how long it keeps verifying, and retirement.
//!
//! A key stops signing when it is retired or when a newer key that is not retired appears
//! (see [`KeyInfo::signing_ended_at`]). Every token it can have signed expires at most the
//! longest token lifetime after that, and verifiers accept a token up to the leeway past its
//! `exp`; so the key must keep verifying, and stay in the JWKS, for exactly that trust window
//! ([`TokenPolicy::key_trust_window`](tollgate_domain::TokenPolicy::key_trust_window), domain
//! arithmetic) after it stopped signing, and no longer.
//!
//! Retirement is a marker file next to the pair, `<stamp>-<kid8>.retired`, holding the instant
//! of retirement in the file-name stamp format. A marker rather than a rename, so the pair's own
//! files never move and a crash half-way leaves at worst a hidden temporary file.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use tollgate_application::Clock as _;

use super::keys::{check_dir, io, sync_dir, write_atomically, STAMP_FORMAT};
use super::{KeyInfo, KeySet};
use crate::{InfraError, SystemClock};

const RETIRED_SUFFIX: &str = ".retired";
/// A marker holds one stamp; anything longer is not ours, and is not read whole.
const MAX_MARKER_BYTES: u64 = 64;

/// Where a key stands at some instant, for a given trust window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// The key new tokens are signed with; it verifies and is published.
    Signing,
    /// Superseded by a newer key: it only verifies, and is published, until `until`.
    Verifying {
        /// The end of its trust window.
        until: DateTime<Utc>,
    },
    /// Retired: it only verifies, and is published, until `until`.
    Retired {
        /// The end of its trust window.
        until: DateTime<Utc>,
    },
    /// Past its trust window: it neither verifies nor is published; its files may be deleted.
    Expired {
        /// When its trust window ended.
        since: DateTime<Utc>,
    },
}

impl KeyInfo {
    /// The first instant this key no longer verifies, with trust window `window`; `None` while it
    /// is the signing key (or the end is beyond the calendar).
    pub fn trusted_until(&self, window: Duration) -> Option<DateTime<Utc>> {
        self.signing_ended_at()?.checked_add_signed(window)
    }

    /// Whether this key verifies tokens (and is published) at `now`, with trust window `window`.
    pub fn is_trusted_at(&self, now: DateTime<Utc>, window: Duration) -> bool {
        self.trusted_until(window).is_none_or(|until| now < until)
    }

    /// Where this key stands at `now`, with trust window `window`.
    pub fn status(&self, now: DateTime<Utc>, window: Duration) -> KeyStatus {
        match self.trusted_until(window) {
            None if self.signing_ended_at().is_none() => KeyStatus::Signing,
            // Stopped signing, but the window ends past the calendar: trusted for good.
            None => self.not_expired(DateTime::<Utc>::MAX_UTC),
            Some(until) if now >= until => KeyStatus::Expired { since: until },
            Some(until) => self.not_expired(until),
        }
    }

    fn not_expired(&self, until: DateTime<Utc>) -> KeyStatus {
        if self.retired_at().is_some() {
            KeyStatus::Retired { until }
        } else {
            KeyStatus::Verifying { until }
        }
    }
}

/// What [`KeySet::retire_at`] did.
#[derive(Debug, Clone)]
pub struct Retirement {
    /// The key, as loaded after the retirement.
    pub key: KeyInfo,
    /// The key had been retired before; nothing was written.
    pub already_retired: bool,
}

impl KeySet {
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

/// The marker's path for the pair named `stem`.
pub(super) fn retirement_marker(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}{RETIRED_SUFFIX}"))
}

/// The retirement instant of the pair named `stem`; `None` when it has no marker.
pub(super) fn read_retirement(dir: &Path, stem: &str) -> Result<Option<DateTime<Utc>>, InfraError> {
    let path = retirement_marker(dir, stem);
    let file = match fs::File::open(&path) {
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
