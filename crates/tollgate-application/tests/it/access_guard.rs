//! `AccessGuard`: bearer access tokens are verified and their session must be live.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use mockall::predicate::eq;
use tollgate_application::{AccessGuard, Error, RequestOrigin, SecurityEventKind};
use tollgate_domain::{AccessClaims, RevokeReason, TokenRejection, UserId};
use uuid::Uuid;

use crate::common::{access_claims_for, event_from, now, session, unavailable, Mocks};

const ACCESS: &str = "presented.access.jwt";

fn claims() -> AccessClaims {
    let s = session();
    access_claims_for(&s.family, &s.record)
}

/// The verifier accepts [`ACCESS`] at [`now`] as `claims`.
fn expect_verified(m: &mut Mocks, claims: AccessClaims) {
    m.verifier
        .expect_verify_access()
        .with(eq(ACCESS), eq(now()))
        .times(1)
        .returning(move |_, _| Ok(claims.clone()));
}

fn authenticate(m: Mocks) -> Result<AccessClaims, Error> {
    AccessGuard::new(m.ports().token_check()).authenticate(ACCESS)
}

#[test]
fn a_valid_token_of_a_live_session_is_accepted() {
    let mut m = Mocks::new();
    expect_verified(&mut m, claims());
    let family = session().family;
    m.sessions
        .expect_find_family()
        .with(eq(family.id))
        .times(1)
        .returning(move |_| Ok(Some(family.clone())));
    m.forbid_session_writes();
    assert_eq!(authenticate(m).unwrap(), claims());
}

#[test]
fn a_token_the_verifier_refuses_never_reaches_the_store() {
    let mut m = Mocks::new();
    m.verifier
        .expect_verify_access()
        .returning(|_, _| Err(Error::InvalidToken(TokenRejection::Audience)));
    m.sessions.expect_find_family().never();
    assert!(matches!(
        authenticate(m),
        Err(Error::InvalidToken(TokenRejection::Audience))
    ));
}

#[test]
fn a_token_of_a_revoked_session_is_refused() {
    let mut m = Mocks::new();
    expect_verified(&mut m, claims());
    let mut family = session().family;
    family.revoked_at = Some(now() - Duration::minutes(1));
    family.revoke_reason = Some(RevokeReason::Logout);
    m.sessions
        .expect_find_family()
        .returning(move |_| Ok(Some(family.clone())));
    assert!(matches!(
        authenticate(m),
        Err(Error::InvalidToken(TokenRejection::Revoked))
    ));
}

#[test]
fn a_token_of_an_unknown_session_is_refused() {
    let mut m = Mocks::new();
    expect_verified(&mut m, claims());
    m.sessions.expect_find_family().returning(|_| Ok(None));
    assert!(matches!(
        authenticate(m),
        Err(Error::InvalidToken(TokenRejection::Revoked))
    ));
}

#[test]
fn a_token_of_a_session_past_its_absolute_end_is_refused() {
    let mut m = Mocks::new();
    expect_verified(&mut m, claims());
    let mut family = session().family;
    family.expires_at = now();
    m.sessions
        .expect_find_family()
        .returning(move |_| Ok(Some(family.clone())));
    assert!(matches!(
        authenticate(m),
        Err(Error::InvalidToken(TokenRejection::Expired))
    ));
}

#[test]
fn a_token_naming_someone_elses_session_is_refused() {
    let mut m = Mocks::new();
    let mut c = claims();
    c.sub = UserId::from_uuid(Uuid::from_u128(77));
    expect_verified(&mut m, c);
    let family = session().family;
    m.sessions
        .expect_find_family()
        .returning(move |_| Ok(Some(family.clone())));
    assert!(matches!(
        authenticate(m),
        Err(Error::InvalidToken(TokenRejection::SubjectMismatch))
    ));
}

#[test]
fn a_storage_outage_during_the_session_check_propagates() {
    let mut m = Mocks::new();
    expect_verified(&mut m, claims());
    m.sessions
        .expect_find_family()
        .returning(|_| Err(unavailable()));
    assert!(matches!(authenticate(m), Err(Error::Unavailable(_))));
}

#[test]
fn logout_revokes_exactly_the_callers_session() {
    let mut m = Mocks::new();
    let c = claims();
    m.sessions
        .expect_revoke_family()
        .with(eq(c.sid), eq(now()), eq(RevokeReason::Logout))
        .times(1)
        .returning(|_, _, _| Ok(true));
    m.sessions.expect_revoke_user_families().never();
    let origin = RequestOrigin {
        client_id: None,
        address: Some("198.51.100.4".parse().unwrap()),
    };
    m.events
        .expect_record()
        .with(eq(event_from(
            origin.clone(),
            SecurityEventKind::FamilyRevoked {
                user_id: c.sub,
                family_id: Some(c.sid),
                reason: RevokeReason::Logout,
                count: 1,
            },
        )))
        .times(1)
        .return_const(());
    AccessGuard::new(m.ports().token_check())
        .logout(&c, &origin)
        .unwrap();
}

#[test]
fn a_second_logout_of_a_revoked_session_records_no_event() {
    let mut m = Mocks::new();
    let c = claims();
    m.sessions
        .expect_revoke_family()
        .times(1)
        .returning(|_, _, _| Ok(false));
    m.events.expect_record().never();
    AccessGuard::new(m.ports().token_check())
        .logout(&c, &RequestOrigin::default())
        .unwrap();
}
