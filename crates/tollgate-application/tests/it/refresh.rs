//! The refresh grant against mocked ports: rotation, reuse detection and every refusal.

// Fixture helpers are not #[test] fns, but may panic like them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use mockall::predicate::eq;
use mockall::Sequence;
use tollgate_application::{
    Error, Refresh, RequestOrigin, RotateOutcome, SecurityEventKind, TokenPair,
};
use tollgate_domain::{
    AccessClaims, AccessTokenId, RefreshClaims, RefreshTokenRecord, RevokeReason, TokenId,
    TokenRejection, User, UserId,
};

use crate::common::{
    access_claims_for, alice, bound_to, client_id, event, family_id, new_id, now, policy,
    presented_id, refresh_claims_for, session, unavailable, user_id, Mocks, Session, TOKEN,
};

fn refresh(mocks: Mocks) -> Refresh {
    Refresh::new(mocks.ports().refresh(), Arc::new(policy()))
}

/// The verifier accepts [`TOKEN`], checked at the clock's instant, and yields `s.claims`.
fn expect_verified(m: &mut Mocks, s: &Session) {
    let claims = s.claims.clone();
    m.verifier
        .expect_verify_refresh()
        .withf(|token, at| token == TOKEN && *at == now())
        .times(1)
        .return_once(move |_, _| Ok(claims));
}

/// The verifier refuses [`TOKEN`] for `reason`.
fn expect_verifier_rejects(m: &mut Mocks, reason: TokenRejection) {
    m.verifier
        .expect_verify_refresh()
        .withf(|token, at| token == TOKEN && *at == now())
        .times(1)
        .return_once(move |_, _| Err(Error::InvalidToken(reason)));
}

/// The store finds the presented record and its family, and leaves the owner to the user store.
fn expect_found(m: &mut Mocks, s: &Session) {
    let found = (s.record.clone(), s.family.clone(), None);
    m.sessions
        .expect_find_token_with_owner()
        .with(eq(s.claims.token_id))
        .times(1)
        .return_once(move |_| Ok(Some(found)));
}

/// The store finds the presented record and its family, and reads their owner with them.
fn expect_found_with_owner(m: &mut Mocks, s: &Session, owner: User) {
    let found = (s.record.clone(), s.family.clone(), Some(owner));
    m.sessions
        .expect_find_token_with_owner()
        .with(eq(s.claims.token_id))
        .times(1)
        .return_once(move |_| Ok(Some(found)));
}

/// The user store answers the lookup of the family's owner.
fn expect_owner(m: &mut Mocks, user: Option<User>) {
    m.users
        .expect_find_by_id()
        .with(eq(user_id()))
        .times(1)
        .return_once(move |_| Ok(user));
}

/// Verified, found, owner enabled: everything up to signing succeeds.
fn expect_rotatable(m: &mut Mocks, s: &Session) {
    expect_verified(m, s);
    expect_found(m, s);
    expect_owner(m, Some(alice()));
}

/// The successor's issue instant: [`now`] truncated to whole microseconds, the precision stores
/// keep, so that re-signing the stored record gives the same pair (the retry grace).
fn issued() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(now().timestamp_micros()).unwrap()
}

/// The record that must replace the presented one: issued now, in the same family, child of the
/// presented token, with the generator's first two ids.
fn successor(s: &Session, expires_at: DateTime<Utc>) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: TokenId::from_uuid(new_id(0)),
        family_id: s.family.id,
        parent_id: Some(s.record.id),
        access_token_id: AccessTokenId::from_uuid(new_id(1)),
        issued_at: issued(),
        expires_at,
        used_at: None,
    }
}

/// Signing of exactly the pair that goes with `next`.
fn expect_signing_of(m: &mut Mocks, s: &Session, next: &RefreshTokenRecord) {
    m.expect_signing(
        access_claims_for(&s.family, next),
        refresh_claims_for(&s.family, next),
    );
}

/// One `rotate(presented, now, next)` call answering `outcome`.
fn expect_rotate(m: &mut Mocks, next: RefreshTokenRecord, outcome: Result<RotateOutcome, Error>) {
    m.sessions
        .expect_rotate()
        .withf(move |presented, at, s| *presented == presented_id() && *at == now() && *s == next)
        .times(1)
        .return_once(move |_, _, _| outcome);
}

/// Exactly one revocation of the family for reuse, at the clock's instant; when it finds the
/// family live, one `family_revoked` event.
fn expect_reuse_revocation(m: &mut Mocks, result: Result<bool, Error>) {
    if matches!(result, Ok(true)) {
        expect_reuse_family_revoked_event(m);
    }
    m.sessions
        .expect_revoke_family()
        .with(eq(family_id()), eq(now()), eq(RevokeReason::Reuse))
        .times(1)
        .return_once(move |_, _, _| result);
}

/// The `family_revoked` event a reuse leaves when its revocation found the family live.
fn expect_reuse_family_revoked_event(m: &mut Mocks) {
    m.events
        .expect_record()
        .with(eq(event(SecurityEventKind::FamilyRevoked {
            user_id: user_id(),
            family_id: Some(family_id()),
            reason: RevokeReason::Reuse,
            count: 1,
        })))
        .times(1)
        .return_const(());
}

/// Exactly one reuse event naming the presented token.
fn expect_reuse_event(m: &mut Mocks) {
    m.events
        .expect_record()
        .with(eq(event(SecurityEventKind::RefreshTokenReused {
            user_id: user_id(),
            family_id: family_id(),
            token_id: presented_id(),
        })))
        .times(1)
        .return_const(());
}

/// The rejection reason of a refused refresh; panics on success or on any other error.
fn rejection(result: Result<TokenPair, Error>) -> TokenRejection {
    match result {
        Err(Error::InvalidToken(reason)) => reason,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

#[test]
fn refreshing_a_live_token_spends_it_and_returns_the_successor_pair() {
    let s = session();
    let mut m = Mocks::new();
    let mut order = Sequence::new();
    let claims = s.claims.clone();
    m.verifier
        .expect_verify_refresh()
        .withf(|token, at| token == TOKEN && *at == now())
        .times(1)
        .in_sequence(&mut order)
        .return_once(move |_, _| Ok(claims));
    let found = (s.record.clone(), s.family.clone(), None);
    m.sessions
        .expect_find_token_with_owner()
        .with(eq(presented_id()))
        .times(1)
        .in_sequence(&mut order)
        .return_once(move |_| Ok(Some(found)));
    expect_owner(&mut m, Some(alice()));
    let next = successor(&s, issued() + Duration::hours(24));
    // JWT times are the issue instant truncated to whole seconds.
    let iat = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    m.expect_signing(
        AccessClaims {
            cnf_jkt: None,
            unique_name: "alice".to_owned(),
            sub: user_id(),
            sid: family_id(),
            jti: next.access_token_id,
            issued_at: iat,
            expires_at: iat + Duration::minutes(15),
            issuer: "https://tollgate.test".to_owned(),
        },
        RefreshClaims {
            unique_name: "alice".to_owned(),
            token_id: next.id,
            short_term: true,
            sub: user_id(),
            issued_at: iat,
            expires_at: iat + Duration::hours(24),
            issuer: "https://tollgate.test".to_owned(),
        },
    );
    let expected = next.clone();
    m.sessions
        .expect_rotate()
        .withf(move |presented, at, s| {
            *presented == presented_id() && *at == now() && *s == expected
        })
        .times(1)
        .in_sequence(&mut order)
        .return_once(|_, _, _| Ok(RotateOutcome::Rotated));
    m.forbid_events();
    m.sessions.expect_revoke_family().never();

    let pair = refresh(m).execute(TOKEN, None).unwrap();

    assert_eq!(
        pair.access_token,
        format!("access:{}", next.access_token_id)
    );
    assert_eq!(pair.refresh_token, format!("refresh:{}", next.id));
    assert_eq!(pair.access_expires_at, issued() + Duration::minutes(15));
    assert_eq!(pair.refresh_expires_at, next.expires_at);
    assert_eq!(pair.expires_in, 900);
}

#[test]
fn an_owner_read_with_the_token_is_not_looked_up_again() {
    let s = session();
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found_with_owner(&mut m, &s, alice());
    m.users.expect_find_by_id().never();
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    expect_rotate(&mut m, next.clone(), Ok(RotateOutcome::Rotated));
    m.forbid_events();

    let pair = refresh(m).execute(TOKEN, None).unwrap();

    assert_eq!(pair.refresh_token, format!("refresh:{}", next.id));
}

#[test]
fn the_successor_pair_is_signed_before_the_presented_token_is_spent() {
    let s = session();
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    let signatures = Arc::clone(&m.signatures);
    m.sessions
        .expect_rotate()
        .times(1)
        .returning(move |_, _, _| {
            assert_eq!(
                signatures.load(Ordering::SeqCst),
                2,
                "both tokens must be signed before the presented one is spent"
            );
            Ok(RotateOutcome::Rotated)
        });

    refresh(m).execute(TOKEN, None).unwrap();
}

/// Where a refused refresh stops: each stage reaches one port further than the one before.
enum Stage {
    /// The verifier refuses the JWT; the store is never asked.
    VerifierRejects(TokenRejection),
    /// The JWT verifies but names no stored token.
    UnknownTokenId,
    /// The token and its family are found; the domain's assessment refuses them.
    Stored,
    /// The token is found and rotatable, but its owner is looked up and refused.
    Owner(fn() -> Option<User>),
    /// The store reads the owner with the token, and the owner is refused; the user store is
    /// not asked.
    OwnerWithToken(fn() -> User),
}

/// One refusal: how the presented session differs from a live one, how far the refresh gets,
/// and the reason it must report. Every row also requires that nothing is written, signed or
/// reported as an event.
struct Refusal {
    case: &'static str,
    alter: fn(&mut Session),
    /// The client the request authenticated as (`None`: no client authentication).
    client: Option<&'static str>,
    stage: Stage,
    expected: TokenRejection,
}

/// Binds the presented session to client `"client-a"`.
fn bind_to_a(s: &mut Session) {
    s.family.client_id = Some(client_id("client-a"));
}

fn unchanged(_: &mut Session) {}

const REFUSALS: &[Refusal] = &[
    Refusal {
        case: "the verifier finds the token expired",
        alter: unchanged,
        client: None,
        stage: Stage::VerifierRejects(TokenRejection::Expired),
        expected: TokenRejection::Expired,
    },
    Refusal {
        case: "the token is for the wrong audience",
        alter: unchanged,
        client: None,
        stage: Stage::VerifierRejects(TokenRejection::Audience),
        expected: TokenRejection::Audience,
    },
    Refusal {
        // The verifier's leeway let the JWT through, but the record's own instant has passed.
        case: "the stored token is past its expiry",
        alter: |s| s.record.expires_at = now(),
        client: None,
        stage: Stage::Stored,
        expected: TokenRejection::Expired,
    },
    Refusal {
        case: "the family is past its absolute end",
        alter: |s| s.family.expires_at = now() - Duration::seconds(1),
        client: None,
        stage: Stage::Stored,
        expected: TokenRejection::Expired,
    },
    Refusal {
        case: "the token id is unknown",
        alter: unchanged,
        client: None,
        stage: Stage::UnknownTokenId,
        expected: TokenRejection::UnknownTokenId,
    },
    Refusal {
        case: "the family was revoked (no rotation, no second revocation)",
        alter: |s| {
            s.family.revoked_at = Some(now() - Duration::minutes(5));
            s.family.revoke_reason = Some(RevokeReason::Logout);
        },
        client: None,
        stage: Stage::Stored,
        expected: TokenRejection::Revoked,
    },
    Refusal {
        case: "a spent token of an already revoked family (not revoked again)",
        alter: |s| {
            s.record.used_at = Some(now() - Duration::minutes(30));
            s.family.revoked_at = Some(now() - Duration::minutes(10));
            s.family.revoke_reason = Some(RevokeReason::Reuse);
        },
        client: None,
        stage: Stage::Stored,
        expected: TokenRejection::Revoked,
    },
    Refusal {
        case: "the user is disabled",
        alter: unchanged,
        client: None,
        stage: Stage::Owner(|| {
            let mut disabled = alice();
            disabled.disabled = true;
            Some(disabled)
        }),
        expected: TokenRejection::UserDisabled,
    },
    Refusal {
        case: "the user is disabled (read with the token)",
        alter: unchanged,
        client: None,
        stage: Stage::OwnerWithToken(|| {
            let mut disabled = alice();
            disabled.disabled = true;
            disabled
        }),
        expected: TokenRejection::UserDisabled,
    },
    Refusal {
        case: "the user was deleted",
        alter: unchanged,
        client: None,
        stage: Stage::Owner(|| None),
        expected: TokenRejection::UserDisabled,
    },
    Refusal {
        case: "the token's subject does not own the family",
        alter: |s| s.claims.sub = UserId::from_uuid(crate::common::uuid(99)),
        client: None,
        stage: Stage::Stored,
        expected: TokenRejection::SubjectMismatch,
    },
    Refusal {
        case: "the token is bound to another client",
        alter: bind_to_a,
        client: Some("client-b"),
        stage: Stage::Stored,
        expected: TokenRejection::ClientMismatch,
    },
    Refusal {
        case: "a token bound to a client is presented without client authentication",
        alter: bind_to_a,
        client: None,
        stage: Stage::Stored,
        expected: TokenRejection::ClientMismatch,
    },
    Refusal {
        // Another client cannot revoke the family by presenting one of its spent tokens.
        case: "a spent token bound to another client (no reuse alarm, nothing revoked)",
        alter: |s| {
            bind_to_a(s);
            s.record.used_at = Some(now() - Duration::minutes(30));
        },
        client: Some("client-b"),
        stage: Stage::Stored,
        expected: TokenRejection::ClientMismatch,
    },
];

#[test]
fn refused_tokens_report_their_reason_and_change_nothing() {
    for refusal in REFUSALS {
        // Printed first so that a mock's own panic (an unexpected call) still names the row.
        println!("case: {}", refusal.case);
        let mut s = session();
        (refusal.alter)(&mut s);
        let mut m = Mocks::new();
        match &refusal.stage {
            Stage::VerifierRejects(reason) => {
                expect_verifier_rejects(&mut m, *reason);
                m.sessions.expect_find_token_with_owner().never();
                m.users.expect_find_by_id().never();
            }
            Stage::UnknownTokenId => {
                expect_verified(&mut m, &s);
                m.sessions
                    .expect_find_token_with_owner()
                    .with(eq(presented_id()))
                    .times(1)
                    .return_once(|_| Ok(None));
                m.users.expect_find_by_id().never();
            }
            Stage::Stored => {
                expect_verified(&mut m, &s);
                expect_found(&mut m, &s);
            }
            Stage::Owner(owner) => {
                expect_verified(&mut m, &s);
                expect_found(&mut m, &s);
                expect_owner(&mut m, owner());
            }
            Stage::OwnerWithToken(owner) => {
                expect_verified(&mut m, &s);
                expect_found_with_owner(&mut m, &s, owner());
                m.users.expect_find_by_id().never();
            }
        }
        m.forbid_session_writes();
        m.forbid_signing();
        m.forbid_events();

        let client = refusal.client.map(client_id);
        assert_eq!(
            rejection(refresh(m).execute(TOKEN, client.as_ref())),
            refusal.expected,
            "{}",
            refusal.case
        );
    }
}

#[test]
fn reused_refresh_token_revokes_the_family() {
    let mut s = session();
    s.record.used_at = Some(now() - Duration::minutes(30));
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s);
    expect_reuse_revocation(&mut m, Ok(true));
    expect_reuse_event(&mut m);
    m.sessions.expect_rotate().never();
    m.forbid_signing();

    assert_eq!(
        rejection(refresh(m).execute(TOKEN, None)),
        TokenRejection::Reused
    );
}

#[test]
fn a_spent_token_that_has_also_expired_still_revokes_the_family() {
    let mut s = session();
    s.record.used_at = Some(now() - Duration::days(2));
    s.record.expires_at = now() - Duration::days(1);
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s);
    expect_reuse_revocation(&mut m, Ok(true));
    expect_reuse_event(&mut m);
    m.sessions.expect_rotate().never();
    m.forbid_signing();

    assert_eq!(
        rejection(refresh(m).execute(TOKEN, None)),
        TokenRejection::Reused
    );
}

#[test]
fn losing_the_rotation_race_is_treated_as_reuse_and_revokes_the_family() {
    let s = session();
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    expect_rotate(&mut m, next, Ok(RotateOutcome::AlreadyUsed));
    expect_reuse_revocation(&mut m, Ok(true));
    expect_reuse_event(&mut m);

    assert_eq!(
        rejection(refresh(m).execute(TOKEN, None)),
        TokenRejection::Reused
    );
}

#[test]
fn a_family_revoked_during_the_rotation_is_rejected_without_another_revocation() {
    let s = session();
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    expect_rotate(&mut m, next, Ok(RotateOutcome::FamilyRevoked));
    m.sessions.expect_revoke_family().never();
    m.forbid_events();

    assert_eq!(
        rejection(refresh(m).execute(TOKEN, None)),
        TokenRejection::Revoked
    );
}

#[test]
fn a_token_that_vanishes_during_the_rotation_is_rejected_as_unknown() {
    let s = session();
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    expect_rotate(&mut m, next, Ok(RotateOutcome::NotFound));
    m.sessions.expect_revoke_family().never();
    m.forbid_events();

    assert_eq!(
        rejection(refresh(m).execute(TOKEN, None)),
        TokenRejection::UnknownTokenId
    );
}

#[test]
fn the_successor_never_outlives_its_family() {
    let mut s = session();
    // The family ends in 2 hours, 22 hours before an ordinary refresh lifetime would.
    let family_end = now() + Duration::hours(2);
    s.family.created_at = family_end - Duration::days(90);
    s.family.expires_at = family_end;
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, family_end);
    let mut refresh_claims = refresh_claims_for(&s.family, &next);
    // The JWT's `exp` is the family end truncated to whole seconds.
    refresh_claims.expires_at = Utc.with_ymd_and_hms(2026, 3, 1, 14, 0, 0).unwrap();
    m.expect_signing(access_claims_for(&s.family, &next), refresh_claims);
    expect_rotate(&mut m, next, Ok(RotateOutcome::Rotated));

    let pair = refresh(m).execute(TOKEN, None).unwrap();

    assert_eq!(pair.refresh_expires_at, family_end);
    assert_eq!(pair.access_expires_at, issued() + Duration::minutes(15));
}

#[test]
fn a_long_lived_family_keeps_issuing_long_lived_tokens() {
    let mut s = session();
    s.family.long_lived = true;
    s.claims.short_term = false;
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::days(14));
    let mut refresh_claims = refresh_claims_for(&s.family, &next);
    refresh_claims.short_term = false;
    m.expect_signing(access_claims_for(&s.family, &next), refresh_claims);
    expect_rotate(&mut m, next, Ok(RotateOutcome::Rotated));

    let pair = refresh(m).execute(TOKEN, None).unwrap();

    assert_eq!(pair.refresh_expires_at, issued() + Duration::days(14));
}

#[test]
fn a_refresh_never_upgrades_an_ordinary_family_to_long_lived() {
    let mut s = session();
    // Even if the presented claims said otherwise, the family's kind decides.
    s.claims.short_term = false;
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    let mut refresh_claims = refresh_claims_for(&s.family, &next);
    refresh_claims.short_term = true;
    m.expect_signing(access_claims_for(&s.family, &next), refresh_claims);
    expect_rotate(&mut m, next, Ok(RotateOutcome::Rotated));

    let pair = refresh(m).execute(TOKEN, None).unwrap();

    assert_eq!(pair.refresh_expires_at, issued() + Duration::hours(24));
}

#[test]
fn a_signing_failure_fails_the_refresh_without_spending_the_token() {
    let s = session();
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    m.signer
        .expect_sign_access()
        .times(..=1)
        .returning(|c| Ok(crate::common::signed_access(c)));
    m.signer
        .expect_sign_refresh()
        .times(..=1)
        .returning(|_| Err(Error::unexpected("signing key unreadable")));
    m.forbid_session_writes();
    m.forbid_events();

    let result = refresh(m).execute(TOKEN, None);

    assert!(
        matches!(result, Err(Error::Unexpected(_))),
        "got {result:?}"
    );
}

#[test]
fn a_storage_outage_during_the_rotation_propagates_as_unavailable() {
    let s = session();
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    expect_rotate(&mut m, next, Err(unavailable()));
    m.sessions.expect_revoke_family().never();
    m.forbid_events();

    let result = refresh(m).execute(TOKEN, None);

    assert!(
        matches!(result, Err(Error::Unavailable(_))),
        "got {result:?}"
    );
}

#[test]
fn a_failed_revocation_during_reuse_surfaces_the_storage_error() {
    let mut s = session();
    s.record.used_at = Some(now() - Duration::minutes(30));
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s);
    expect_reuse_revocation(&mut m, Err(unavailable()));
    m.sessions.expect_rotate().never();
    m.forbid_signing();
    // The theft signal is reported even though the revocation failed.
    m.events
        .expect_record()
        .withf(|e| matches!(e.kind, SecurityEventKind::RefreshTokenReused { .. }))
        .times(1)
        .return_const(());

    let result = refresh(m).execute(TOKEN, None);

    assert!(
        matches!(result, Err(Error::Unavailable(_))),
        "got {result:?}"
    );
}

#[test]
fn a_bound_token_rotates_for_its_own_client_and_its_successor_stays_in_the_bound_family() {
    let s = bound_to(session(), "client-a");
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    // The binding is the family's: the successor joins the same family, so it inherits it.
    expect_rotate(&mut m, next.clone(), Ok(RotateOutcome::Rotated));
    m.forbid_events();
    m.sessions.expect_revoke_family().never();

    let pair = refresh(m)
        .execute(TOKEN, Some(&client_id("client-a")))
        .unwrap();
    assert_eq!(pair.refresh_token, format!("refresh:{}", next.id));
}

#[test]
fn an_unbound_token_rotates_for_an_authenticated_client_too() {
    let s = session();
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    expect_rotate(&mut m, next, Ok(RotateOutcome::Rotated));
    m.forbid_events();

    refresh(m)
        .execute(TOKEN, Some(&client_id("client-b")))
        .unwrap();
}

fn dpop_key(c: char) -> tollgate_domain::Jkt {
    tollgate_domain::Jkt::parse(&c.to_string().repeat(43)).unwrap()
}

#[test]
fn a_bound_family_without_a_proof_of_its_key_is_refused_and_nothing_is_spent() {
    for presented in [None, Some(dpop_key('b'))] {
        let mut s = session();
        s.family.jkt = Some(dpop_key('a'));
        let mut m = Mocks::new();
        expect_verified(&mut m, &s);
        expect_found(&mut m, &s);
        m.users.expect_find_by_id().never();
        m.sessions.expect_find_successor().never();
        m.forbid_session_writes();
        m.forbid_signing();
        m.forbid_events();

        let result =
            refresh(m).execute_with_key(TOKEN, &RequestOrigin::default(), presented.as_ref());

        assert!(
            matches!(
                result,
                Err(Error::InvalidDpopProof(
                    tollgate_domain::DpopRejection::KeyMismatch
                ))
            ),
            "{presented:?}: {result:?}"
        );
    }
}

#[test]
fn a_bound_family_is_refreshed_with_a_proof_of_its_key_and_stays_bound() {
    let mut s = session();
    s.family.jkt = Some(dpop_key('a'));
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    expect_rotate(&mut m, next, Ok(RotateOutcome::Rotated));
    m.forbid_events();

    let pair = refresh(m)
        .execute_with_key(TOKEN, &RequestOrigin::default(), Some(&dpop_key('a')))
        .unwrap();

    assert_eq!(pair.dpop_jkt, Some(dpop_key('a')));
}

#[test]
fn a_spent_bound_token_with_a_proof_of_its_key_is_still_reuse() {
    let mut s = session();
    s.family.jkt = Some(dpop_key('a'));
    s.record.used_at = Some(now() - Duration::minutes(30));
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s);
    expect_reuse_revocation(&mut m, Ok(true));
    expect_reuse_event(&mut m);
    m.sessions.expect_rotate().never();
    m.forbid_signing();

    let result =
        refresh(m).execute_with_key(TOKEN, &RequestOrigin::default(), Some(&dpop_key('a')));

    assert_eq!(rejection(result), TokenRejection::Reused);
}

#[test]
fn an_unbound_family_stays_a_bearer_family_whatever_key_comes_along() {
    let s = session();
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    expect_rotate(&mut m, next, Ok(RotateOutcome::Rotated));
    m.forbid_events();

    let pair = refresh(m)
        .execute_with_key(TOKEN, &RequestOrigin::default(), Some(&dpop_key('a')))
        .unwrap();

    assert_eq!(pair.dpop_jkt, None);
}

fn origin_of(client: &str) -> RequestOrigin {
    RequestOrigin {
        client_id: Some(client_id(client)),
        address: None,
    }
}

#[test]
fn a_family_bound_to_a_client_and_a_key_needs_both_and_spends_nothing_without_either() {
    // (caller, key presented, expected refusal)
    let cases = [
        (
            "client-b",
            Some(dpop_key('a')),
            Err(TokenRejection::ClientMismatch),
        ),
        (
            "client-a",
            None,
            Ok(tollgate_domain::DpopRejection::KeyMismatch),
        ),
        (
            "client-a",
            Some(dpop_key('b')),
            Ok(tollgate_domain::DpopRejection::KeyMismatch),
        ),
    ];
    for (caller, presented, expected) in cases {
        let mut s = bound_to(session(), "client-a");
        s.family.jkt = Some(dpop_key('a'));
        let mut m = Mocks::new();
        expect_verified(&mut m, &s);
        expect_found(&mut m, &s);
        m.users.expect_find_by_id().never();
        m.sessions.expect_find_successor().never();
        m.forbid_session_writes();
        m.forbid_signing();
        m.forbid_events();

        let result = refresh(m).execute_with_key(TOKEN, &origin_of(caller), presented.as_ref());

        match (expected, result) {
            (Err(token), Err(Error::InvalidToken(got))) => assert_eq!(got, token, "{caller}"),
            (Ok(dpop), Err(Error::InvalidDpopProof(got))) => assert_eq!(got, dpop, "{caller}"),
            (_, other) => panic!("{caller} {presented:?}: {other:?}"),
        }
    }
}

#[test]
fn a_family_bound_to_a_client_and_a_key_rotates_with_both() {
    let mut s = bound_to(session(), "client-a");
    s.family.jkt = Some(dpop_key('a'));
    let mut m = Mocks::new();
    expect_rotatable(&mut m, &s);
    let next = successor(&s, issued() + Duration::hours(24));
    expect_signing_of(&mut m, &s, &next);
    expect_rotate(&mut m, next, Ok(RotateOutcome::Rotated));
    m.forbid_events();

    let pair = refresh(m)
        .execute_with_key(TOKEN, &origin_of("client-a"), Some(&dpop_key('a')))
        .unwrap();

    assert_eq!(pair.dpop_jkt, Some(dpop_key('a')));
}
