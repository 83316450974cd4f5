//! Key rotation: when a key stops signing, how long it keeps verifying, and retirement.
//!
//! A key stops signing when it is retired or when a newer key that is not retired appears
//! (see [`KeyInfo::signing_ended_at`]). Every token it can have signed expires at most the
//! longest token lifetime after that, and verifiers accept a token up to the leeway past its
//! `exp`; so the key must keep verifying, and stay in the JWKS, for exactly that trust window
//! ([`TokenPolicy::key_trust_window`](tollgate_domain::TokenPolicy::key_trust_window); the
//! arithmetic is the domain's) after it stopped signing, and no longer.
//!
//! Pure: no file system and no clock (the instant is always given). Retirement markers are
//! [`key_dir`](super::key_dir)'s.

use chrono::{DateTime, Duration, Utc};

use super::keys::KeyInfo;

/// Where a key stands at some instant, for a given trust window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// The key new tokens are signed with; it verifies and is published.
    Signing,
    /// Newer than the signing key: published (and verifying) ahead of signing, which it starts
    /// at `signs_from` (the first load at or after that instant makes it the signing key).
    Published {
        /// When it may start signing.
        signs_from: DateTime<Utc>,
    },
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
    /// is the signing key or published ahead of signing (or the end is beyond the calendar).
    pub fn trusted_until(&self, window: Duration) -> Option<DateTime<Utc>> {
        tollgate_domain::key_trusted_until(self.signing_ended_at()?, window)
    }

    /// Whether this key verifies tokens (and is published) at `now`, with trust window `window`.
    pub fn is_trusted_at(&self, now: DateTime<Utc>, window: Duration) -> bool {
        self.trusted_until(window).is_none_or(|until| now < until)
    }

    /// Where this key stands at `now`, with trust window `window`.
    pub fn status(&self, now: DateTime<Utc>, window: Duration) -> KeyStatus {
        match self.trusted_until(window) {
            None if self.signing_ended_at().is_none() => match self.signs_from() {
                Some(signs_from) if now < signs_from => KeyStatus::Published { signs_from },
                _ => KeyStatus::Signing,
            },
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
