//! Brute-force throttling rules for the password grant (RFC 6749 §4.3.2).

use std::net::IpAddr;

use chrono::Duration;

use crate::DomainError;

/// What failed logins are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A login name exactly as sent: the user store matches names byte for byte, so this is the
    /// normal form, and an unknown name is counted exactly like a known one.
    UserName(String),
    /// A client address (see [`ThrottleKey::address`]).
    Address(IpAddr),
}

impl ThrottleKey {
    /// The key of a client address. An IPv4-mapped IPv6 address counts as its IPv4 address, and
    /// an IPv6 address as its /64 network: one subscriber usually holds a whole /64, so counting
    /// single IPv6 addresses would let an attacker rotate through 2^64 of them.
    pub fn address(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                Self::Address(IpAddr::V6(bits.into()))
            }
            v4 => Self::Address(v4),
        }
    }
}

/// How failed logins slow further attempts: `max_failures` are free, then each further failure
/// blocks the key for `base_delay`, doubling per failure, at most `max_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before any delay.
    pub max_failures: u32,
    /// Delay after the first failure beyond `max_failures`.
    pub base_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
    /// A key whose last failure is older than this starts counting from zero again. Longer than
    /// `max_delay`, so waiting out the longest delay does not buy a fresh set of free failures.
    pub forget_after: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            base_delay: Duration::seconds(1),
            max_delay: Duration::minutes(15),
            forget_after: Duration::hours(24),
        }
    }
}

impl ThrottlePolicy {
    /// Checks the delays: base at least one second, max at least base and at most one day,
    /// `forget_after` at least `max_delay`.
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`] naming the first offending setting.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.base_delay < Duration::seconds(1) || self.base_delay > Duration::days(1) {
            return Err(DomainError::InvalidPolicy(
                "login base delay must be 1 second to 1 day",
            ));
        }
        if self.max_delay < self.base_delay || self.max_delay > Duration::days(1) {
            return Err(DomainError::InvalidPolicy(
                "login max delay must be between the base delay and 1 day",
            ));
        }
        if self.forget_after < self.max_delay {
            return Err(DomainError::InvalidPolicy(
                "login failures must be remembered at least as long as the max delay",
            ));
        }
        Ok(())
    }

    /// How long a key is blocked after its `failures`-th consecutive failure.
    pub fn delay_after(&self, failures: u64) -> Duration {
        let Some(beyond) = failures.checked_sub(u64::from(self.max_failures)) else {
            return Duration::zero();
        };
        if beyond == 0 {
            return Duration::zero();
        }
        // 2^(beyond-1) × base, computed in milliseconds; any doubling past 2^40 is far beyond
        // every allowed max_delay, so the exponent is clamped instead of overflowing.
        let doublings = u32::try_from(beyond - 1).unwrap_or(u32::MAX).min(40);
        let millis = self
            .base_delay
            .num_milliseconds()
            .saturating_mul(1i64 << doublings);
        Duration::milliseconds(millis).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_cost_nothing_then_the_delay_doubles_up_to_the_cap() {
        let p = ThrottlePolicy::default();
        let delays: Vec<i64> = (0..=16).map(|n| p.delay_after(n).num_seconds()).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]
        );
        assert_eq!(p.delay_after(u64::MAX), Duration::minutes(15));
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ThrottleKey::address(a), ThrottleKey::address(b));
        assert_ne!(ThrottleKey::address(a), ThrottleKey::address(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(ThrottleKey::address(mapped), ThrottleKey::Address(v4));
    }

    #[test]
    fn out_of_range_delays_are_refused() {
        let ok = ThrottlePolicy::default();
        assert!(ok.validate().is_ok());
        let zero = ThrottlePolicy {
            base_delay: Duration::zero(),
            ..ok
        };
        assert!(zero.validate().is_err());
        let inverted = ThrottlePolicy {
            max_delay: Duration::milliseconds(500),
            base_delay: Duration::seconds(1),
            ..ok
        };
        assert!(inverted.validate().is_err());
    }
}
