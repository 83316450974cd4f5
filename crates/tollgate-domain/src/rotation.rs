//! The rules of refresh-token rotation, free of storage and time sources.

use chrono::{DateTime, Utc};

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
    RefreshTokenRecord {
        id,
        family_id: family.id,
        parent_id: Some(parent.id),
        access_token_id,
        issued_at: now,
        expires_at: policy.refresh_expiry(now, family.long_lived, family.expires_at),
        used_at: None,
    }
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
}
