//! The rules of refresh-token rotation, free of storage and time sources.

use chrono::{DateTime, Duration, Utc};

use crate::{
    AccessTokenId, Family, RefreshClaims, RefreshTokenRecord, TokenId, TokenPolicy, TokenRejection,
};

/// What a verified refresh token, looked up in storage, means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assessment {
    /// Live and unused: it may be exchanged for a successor.
    Rotate,
    /// Already spent: a theft signal, the family must be revoked.
    Reuse,
    /// Refused for this reason; nothing needs to change.
    Reject(TokenRejection),
}

/// Decides what a presented refresh token means.
///
/// Order matters: a revoked family wins over everything (it is already dead), and reuse is
/// checked before expiry so that a stolen, spent token still trips the alarm while its family lives.
pub fn assess(
    claims: &RefreshClaims,
    record: &RefreshTokenRecord,
    family: &Family,
    now: DateTime<Utc>,
) -> Assessment {
    if family.user_id != claims.sub || record.family_id != family.id {
        return Assessment::Reject(TokenRejection::SubjectMismatch);
    }
    if family.is_revoked() {
        return Assessment::Reject(TokenRejection::Revoked);
    }
    if record.used_at.is_some() {
        return Assessment::Reuse;
    }
    if now >= family.expires_at || now >= record.expires_at {
        return Assessment::Reject(TokenRejection::Expired);
    }
    Assessment::Rotate
}

/// The record of the token that replaces `parent`, issued at `now`.
///
/// It stays in the parent's family, and its expiry follows the family's kind (the long-lived flag
/// is the family's, so a refresh can never upgrade it) capped by the family's absolute end.
pub fn successor(
    parent: &RefreshTokenRecord,
    family: &Family,
    policy: &TokenPolicy,
    now: DateTime<Utc>,
    id: TokenId,
    access_token_id: AccessTokenId,
) -> RefreshTokenRecord {
    // Issued at a whole microsecond, the precision every store keeps: the pair signed from this
    // record now and the one re-signed from its stored copy during the retry grace must agree to
    // the last digit of `accessTokenExpiresAt` (7 fractional digits would show a lost 100 ns).
    let issued_at = whole_micros(now);
    RefreshTokenRecord {
        id,
        family_id: family.id,
        parent_id: Some(parent.id),
        access_token_id,
        issued_at,
        expires_at: policy.refresh_expiry(issued_at, family.long_lived, family.expires_at),
        used_at: None,
    }
}

/// Whether a retry of the spent token `spent` comes soon enough for the retry grace to be
/// considered at all: the grace is on and at most `grace` has passed since `spent` was spent.
///
/// The cheap half of [`grace_applies`], so that callers look the successor up only when it can
/// matter. A `now` before `used_at` (clocks of two servers a little apart, or a request that read
/// the clock before the rotation it lost to) counts as inside the window.
pub fn within_grace(spent: &RefreshTokenRecord, grace: Duration, now: DateTime<Utc>) -> bool {
    match spent.used_at {
        Some(used_at) => grace > Duration::zero() && now - used_at <= grace,
        None => false,
    }
}

/// Whether presenting the spent token `spent` again is a retry answered with the pair of its
/// existing `successor` (API.md §3) rather than reuse.
///
/// Only the immediately preceding token qualifies: `successor` must be `spent`'s own child and
/// still unused (once it is spent, `spent` is two generations old). The family must be live and
/// unexpired and the successor unexpired, since re-sending a pair that cannot be used helps no one.
/// Everything else about a spent token that comes back is reuse.
pub fn grace_applies(
    spent: &RefreshTokenRecord,
    successor: &RefreshTokenRecord,
    family: &Family,
    grace: Duration,
    now: DateTime<Utc>,
) -> bool {
    within_grace(spent, grace, now)
        && successor.parent_id == Some(spent.id)
        && successor.family_id == family.id
        && spent.family_id == family.id
        && successor.used_at.is_none()
        && !family.is_revoked()
        && now < family.expires_at
        && now < successor.expires_at
}

/// `t` truncated (towards the past) to whole microseconds.
fn whole_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    // Every instant chrono can hold has a microsecond count that maps back; keep `t` rather
    // than panic should that ever change.
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FamilyId, RevokeReason, UserId};
    use chrono::{Duration, TimeZone};
    use uuid::Uuid;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn fixture() -> (RefreshClaims, RefreshTokenRecord, Family) {
        let user = UserId::from_uuid(Uuid::from_u128(1));
        let family = Family {
            id: FamilyId::from_uuid(Uuid::from_u128(2)),
            user_id: user,
            created_at: t0(),
            expires_at: t0() + Duration::days(90),
            long_lived: false,
            revoked_at: None,
            revoke_reason: None,
            client_id: None,
            jkt: None,
        };
        let record = RefreshTokenRecord {
            id: TokenId::from_uuid(Uuid::from_u128(3)),
            family_id: family.id,
            parent_id: None,
            access_token_id: AccessTokenId::from_uuid(Uuid::from_u128(4)),
            issued_at: t0(),
            expires_at: t0() + Duration::hours(24),
            used_at: None,
        };
        let claims = RefreshClaims {
            unique_name: "alice".into(),
            token_id: record.id,
            short_term: true,
            sub: user,
            issued_at: t0(),
            expires_at: record.expires_at,
            issuer: "iss".into(),
        };
        (claims, record, family)
    }

    #[test]
    fn a_live_unused_token_rotates() {
        let (c, r, f) = fixture();
        assert_eq!(assess(&c, &r, &f, t0()), Assessment::Rotate);
    }

    #[test]
    fn a_spent_token_is_reuse_even_after_it_expired() {
        let (c, mut r, f) = fixture();
        r.used_at = Some(t0());
        assert_eq!(
            assess(&c, &r, &f, t0() + Duration::days(2)),
            Assessment::Reuse
        );
    }

    #[test]
    fn a_revoked_family_rejects_before_anything_else() {
        let (c, mut r, mut f) = fixture();
        r.used_at = Some(t0());
        f.revoked_at = Some(t0());
        f.revoke_reason = Some(RevokeReason::Reuse);
        assert_eq!(
            assess(&c, &r, &f, t0()),
            Assessment::Reject(TokenRejection::Revoked)
        );
    }

    #[test]
    fn tokens_past_their_own_or_the_family_end_are_expired() {
        let (c, r, mut f) = fixture();
        assert_eq!(
            assess(&c, &r, &f, r.expires_at),
            Assessment::Reject(TokenRejection::Expired)
        );
        f.expires_at = t0() + Duration::minutes(5);
        assert_eq!(
            assess(&c, &r, &f, t0() + Duration::minutes(5)),
            Assessment::Reject(TokenRejection::Expired)
        );
    }

    #[test]
    fn a_token_whose_subject_does_not_own_the_family_is_rejected() {
        let (mut c, r, f) = fixture();
        c.sub = UserId::from_uuid(Uuid::from_u128(99));
        assert_eq!(
            assess(&c, &r, &f, t0()),
            Assessment::Reject(TokenRejection::SubjectMismatch)
        );
    }

    #[test]
    fn the_successor_stays_in_the_family_and_keeps_its_kind() {
        let (_, r, mut f) = fixture();
        f.long_lived = true;
        f.expires_at = t0() + Duration::days(3);
        let policy = TokenPolicy {
            issuer: "iss".into(),
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::hours(24),
            refresh_long_ttl: Duration::days(14),
            family_max_lifetime: Duration::days(90),
            reuse_grace: Duration::zero(),
            leeway: Duration::seconds(30),
        };
        let now = t0() + Duration::hours(1);
        let next_id = TokenId::from_uuid(Uuid::from_u128(7));
        let s = successor(&r, &f, &policy, now, next_id, r.access_token_id);
        assert_eq!(s.family_id, f.id);
        assert_eq!(s.parent_id, Some(r.id));
        // Long-lived would give 14 days; the family's end caps it at 3 days from login.
        assert_eq!(s.expires_at, f.expires_at);
        assert_eq!(s.used_at, None);
    }

    /// `fixture()`'s token, spent at `t0() + 1 h`, and the live successor that rotation stored.
    fn spent_with_successor() -> (RefreshTokenRecord, RefreshTokenRecord, Family) {
        let (_, mut spent, family) = fixture();
        let rotated_at = t0() + Duration::hours(1);
        spent.used_at = Some(rotated_at);
        let next = RefreshTokenRecord {
            id: TokenId::from_uuid(Uuid::from_u128(7)),
            family_id: family.id,
            parent_id: Some(spent.id),
            access_token_id: AccessTokenId::from_uuid(Uuid::from_u128(8)),
            issued_at: rotated_at,
            expires_at: rotated_at + Duration::hours(24),
            used_at: None,
        };
        (spent, next, family)
    }

    fn rotated_at() -> DateTime<Utc> {
        t0() + Duration::hours(1)
    }

    const GRACE: Duration = Duration::seconds(10);

    #[test]
    fn the_successor_is_issued_at_a_whole_microsecond() {
        let (_, r, f) = fixture();
        let policy = TokenPolicy {
            issuer: "iss".into(),
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::hours(24),
            refresh_long_ttl: Duration::days(14),
            family_max_lifetime: Duration::days(90),
            reuse_grace: Duration::zero(),
            leeway: Duration::seconds(30),
        };
        let now = t0() + Duration::nanoseconds(1_234_567_891);
        let id = TokenId::from_uuid(Uuid::from_u128(7));
        let s = successor(&r, &f, &policy, now, id, r.access_token_id);
        assert_eq!(s.issued_at, t0() + Duration::microseconds(1_234_567));
        assert_eq!(s.expires_at, s.issued_at + Duration::hours(24));
    }

    #[test]
    fn a_retry_of_the_preceding_token_inside_the_window_gets_the_unused_successor() {
        let (spent, next, f) = spent_with_successor();
        assert!(grace_applies(&spent, &next, &f, GRACE, rotated_at()));
        assert!(grace_applies(
            &spent,
            &next,
            &f,
            GRACE,
            rotated_at() + GRACE
        ));
    }

    #[test]
    fn the_window_closes_right_after_the_grace() {
        let (spent, next, f) = spent_with_successor();
        let late = rotated_at() + GRACE + Duration::microseconds(1);
        assert!(!within_grace(&spent, GRACE, late));
        assert!(!grace_applies(&spent, &next, &f, GRACE, late));
    }

    #[test]
    fn a_clock_slightly_behind_the_rotation_is_inside_the_window() {
        let (spent, next, f) = spent_with_successor();
        let earlier = rotated_at() - Duration::milliseconds(5);
        assert!(within_grace(&spent, GRACE, earlier));
        assert!(grace_applies(&spent, &next, &f, GRACE, earlier));
    }

    #[test]
    fn a_zero_grace_is_off() {
        let (spent, next, f) = spent_with_successor();
        assert!(!within_grace(&spent, Duration::zero(), rotated_at()));
        assert!(!grace_applies(
            &spent,
            &next,
            &f,
            Duration::zero(),
            rotated_at()
        ));
    }

    #[test]
    fn an_unused_token_is_never_a_grace_retry() {
        let (mut spent, next, f) = spent_with_successor();
        spent.used_at = None;
        assert!(!within_grace(&spent, GRACE, rotated_at()));
        assert!(!grace_applies(&spent, &next, &f, GRACE, rotated_at()));
    }

    #[test]
    fn a_token_two_generations_old_is_not_a_grace_retry() {
        // Its successor has been spent in turn.
        let (spent, mut next, f) = spent_with_successor();
        next.used_at = Some(rotated_at() + Duration::seconds(1));
        assert!(!grace_applies(
            &spent,
            &next,
            &f,
            GRACE,
            rotated_at() + Duration::seconds(2)
        ));
    }

    #[test]
    fn only_the_spent_tokens_own_child_in_its_own_family_qualifies() {
        let (spent, mut next, f) = spent_with_successor();
        next.parent_id = Some(TokenId::from_uuid(Uuid::from_u128(42)));
        assert!(!grace_applies(&spent, &next, &f, GRACE, rotated_at()));
        let (spent, mut next, f) = spent_with_successor();
        next.family_id = FamilyId::from_uuid(Uuid::from_u128(43));
        assert!(!grace_applies(&spent, &next, &f, GRACE, rotated_at()));
    }

    #[test]
    fn a_revoked_or_ended_family_or_an_expired_successor_gets_no_grace() {
        let (spent, next, mut f) = spent_with_successor();
        f.revoked_at = Some(rotated_at());
        f.revoke_reason = Some(RevokeReason::Logout);
        assert!(!grace_applies(&spent, &next, &f, GRACE, rotated_at()));

        let (spent, next, mut f) = spent_with_successor();
        f.expires_at = rotated_at() + Duration::seconds(1);
        assert!(!grace_applies(
            &spent,
            &next,
            &f,
            GRACE,
            rotated_at() + Duration::seconds(1)
        ));

        let (spent, mut next, f) = spent_with_successor();
        next.expires_at = rotated_at() + Duration::seconds(1);
        assert!(!grace_applies(
            &spent,
            &next,
            &f,
            GRACE,
            rotated_at() + Duration::seconds(1)
        ));
    }
}
