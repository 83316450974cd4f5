use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::DomainError;

/// Token lifetimes and the issuer name: the rules every issued pair follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// `iss` of every token, and the only issuer accepted.
    pub issuer: String,
    /// Access token lifetime.
    pub access_ttl: Duration,
    /// Refresh token lifetime for an ordinary login (`short_term_expiration: "True"`).
    pub refresh_ttl: Duration,
    /// Refresh token lifetime when the login asked `longLivedRefreshToken=true`.
    pub refresh_long_ttl: Duration,
    /// Absolute lifetime of a family, counted from the login; caps every refresh token's `exp`.
    pub family_max_lifetime: Duration,
    /// Retry grace: within this long after a rotation, the immediately preceding token returns
    /// the same successor pair instead of counting as reuse. Zero turns it off.
    pub reuse_grace: Duration,
    /// Clock skew tolerated when verifying `exp` and `nbf`, here and by other verifiers of our
    /// tokens; it also lengthens how long a key that stopped signing must keep verifying.
    pub leeway: Duration,
}

impl TokenPolicy {
    /// Checks that every lifetime is at least one second and the issuer is set.
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`] naming the first offending setting.
    pub fn validate(&self) -> Result<(), DomainError> {
        let one = Duration::seconds(1);
        // Ten years: far beyond any sensible lifetime, and far from chrono's overflow range.
        let max = Duration::days(3650);
        let ok = |d: Duration| d >= one && d <= max;
        if self.issuer.is_empty() {
            return Err(DomainError::InvalidPolicy("issuer must not be empty"));
        }
        if !ok(self.access_ttl) {
            return Err(DomainError::InvalidPolicy("access lifetime out of range"));
        }
        if !ok(self.refresh_ttl) || !ok(self.refresh_long_ttl) {
            return Err(DomainError::InvalidPolicy("refresh lifetime out of range"));
        }
        if !ok(self.family_max_lifetime) {
            return Err(DomainError::InvalidPolicy("family lifetime out of range"));
        }
        // A long grace would turn a stolen, spent token back into a working one; a minute is
        // plenty for a client retrying a lost response.
        if self.reuse_grace < Duration::zero() || self.reuse_grace > Duration::seconds(60) {
            return Err(DomainError::InvalidPolicy(
                "reuse grace must be 0 to 60 seconds",
            ));
        }
        if self.leeway < Duration::zero() || self.leeway > Duration::hours(1) {
            return Err(DomainError::InvalidPolicy(
                "leeway must be 0 to 3600 seconds",
            ));
        }
        Ok(())
    }

    /// How long after a signing key stopped signing it must keep verifying (and stay published):
    /// the longest lifetime a token can have under this policy, plus the verification
    /// [`leeway`](Self::leeway) (a negative leeway counts as zero). Every token the key can have signed has expired, even
    /// for a verifier allowing that leeway, by then; and no earlier.
    ///
    /// The longest lifetime is the access lifetime or the longer refresh lifetime capped by the
    /// family's absolute lifetime, whichever is longer (access tokens are not capped by the
    /// family).
    pub fn key_trust_window(&self) -> Duration {
        let refresh = self
            .refresh_ttl
            .max(self.refresh_long_ttl)
            .min(self.family_max_lifetime);
        self.access_ttl.max(refresh) + self.leeway.max(Duration::zero())
    }

    /// The first instant a key that stopped signing at `stopped_signing_at` no longer verifies:
    /// that instant plus the [`key_trust_window`](Self::key_trust_window). `None` when that is
    /// beyond the calendar (the key then verifies for good).
    pub fn key_trusted_until(&self, stopped_signing_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        key_trusted_until(stopped_signing_at, self.key_trust_window())
    }

    /// The refresh lifetime for a family of this kind.
    pub fn refresh_lifetime(&self, long_lived: bool) -> Duration {
        if long_lived {
            self.refresh_long_ttl
        } else {
            self.refresh_ttl
        }
    }

    /// When a refresh token issued at `now` expires: its lifetime, capped by the family's end.
    pub fn refresh_expiry(
        &self,
        now: DateTime<Utc>,
        long_lived: bool,
        family_expires_at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        (now + self.refresh_lifetime(long_lived)).min(family_expires_at)
    }
}

/// The end of a key's trust `window` that opened when it stopped signing at
/// `stopped_signing_at` (a negative window counts as zero); `None` beyond the calendar. The one
/// place this arithmetic is done, for [`TokenPolicy::key_trusted_until`] and for verifiers given
/// a window of their own.
pub fn key_trusted_until(
    stopped_signing_at: DateTime<Utc>,
    window: Duration,
) -> Option<DateTime<Utc>> {
    stopped_signing_at.checked_add_signed(window.max(Duration::zero()))
}

/// `t` truncated to whole seconds, as JWT times are.
pub fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    // Truncation of an in-range instant to seconds cannot fail; fall back to `t` rather than panic.
    t.duration_trunc(Duration::seconds(1)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn policy() -> TokenPolicy {
        TokenPolicy {
            issuer: "https://auth.example".into(),
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::hours(24),
            refresh_long_ttl: Duration::days(14),
            family_max_lifetime: Duration::days(90),
            reuse_grace: Duration::zero(),
            leeway: Duration::seconds(30),
        }
    }

    #[test]
    fn a_key_is_trusted_for_the_longest_lifetime_plus_the_leeway_after_it_stopped_signing() {
        let stopped = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        // The long refresh lifetime (14 days) is the longest; plus 30 s of leeway.
        let until = stopped + Duration::days(14) + Duration::seconds(30);
        assert_eq!(policy().key_trusted_until(stopped), Some(until));
        // Capped by the family's absolute lifetime.
        let mut capped = policy();
        capped.family_max_lifetime = Duration::days(2);
        assert_eq!(
            capped.key_trusted_until(stopped),
            Some(stopped + Duration::days(2) + Duration::seconds(30))
        );
        // ...but access tokens are not capped by the family.
        capped.access_ttl = Duration::days(3);
        assert_eq!(
            capped.key_trust_window(),
            Duration::days(3) + Duration::seconds(30)
        );
        let mut negative = policy();
        negative.leeway = Duration::seconds(-5);
        assert_eq!(
            negative.key_trust_window(),
            Duration::days(14),
            "a negative leeway counts as zero"
        );
        assert_eq!(
            key_trusted_until(DateTime::<Utc>::MAX_UTC, Duration::seconds(1)),
            None
        );
    }

    #[test]
    fn a_negative_or_huge_leeway_is_refused() {
        let mut p = policy();
        p.leeway = Duration::seconds(-1);
        assert!(p.validate().is_err());
        p.leeway = Duration::seconds(3601);
        assert!(p.validate().is_err());
    }

    #[test]
    fn refresh_expiry_is_capped_by_the_family_end() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let family_end = now + Duration::hours(2);
        assert_eq!(policy().refresh_expiry(now, false, family_end), family_end);
        assert_eq!(
            policy().refresh_expiry(now, false, now + Duration::days(30)),
            now + Duration::hours(24)
        );
        assert_eq!(
            policy().refresh_expiry(now, true, now + Duration::days(30)),
            now + Duration::days(14)
        );
    }

    #[test]
    fn zero_lifetimes_and_empty_issuer_are_rejected() {
        let mut p = policy();
        p.access_ttl = Duration::zero();
        assert!(p.validate().is_err());
        let mut p = policy();
        p.issuer.clear();
        assert!(p.validate().is_err());
        assert!(policy().validate().is_ok());
    }

    #[test]
    fn whole_seconds_drops_the_fraction() {
        let t = Utc.timestamp_opt(1_700_000_000, 987_654_321).unwrap();
        assert_eq!(
            whole_seconds(t),
            Utc.timestamp_opt(1_700_000_000, 0).unwrap()
        );
    }
}
