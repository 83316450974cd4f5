//! The retry grace (API.md §3) against mocked ports: the immediately preceding token, presented
//! again shortly after its rotation while its successor is unused, gets that successor's pair
//! again (re-signed, never re-minted); everything else about a spent token is reuse.

// Fixture helpers are not #[test] fns, but may panic like them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mockall::predicate::eq;
use tollgate_application::{Error, Refresh, RotateOutcome, SecurityEventKind, TokenPair};
use tollgate_domain::{
    AccessTokenId, RefreshTokenRecord, RevokeReason, TokenId, TokenPolicy, TokenRejection,
};

use crate::common::{
    access_claims_for, alice, event, family_id, new_id, now, policy, presented_id,
    refresh_claims_for, session, signed_access, signed_refresh, unavailable, user_id, uuid, Mocks,
    Session, TOKEN,
};

const GRACE: Duration = Duration::seconds(10);

fn with_grace(grace: Duration) -> TokenPolicy {
    TokenPolicy {
        reuse_grace: grace,
        leeway: Duration::seconds(30),
        ..policy()
    }
}

fn refresh(mocks: Mocks, policy: TokenPolicy) -> Refresh {
    Refresh::new(mocks.ports().refresh(), Arc::new(policy))
}

/// When the presented token was rotated: a few seconds ago, at a whole microsecond as stored.
fn rotated_at() -> DateTime<Utc> {
    DateTime::from_timestamp_micros((now() - Duration::seconds(3)).timestamp_micros()).unwrap()
}

/// Alice's session whose presented token was spent at `used_at`.
fn spent_session(used_at: DateTime<Utc>) -> Session {
    let mut s = session();
    s.record.used_at = Some(used_at);
    s
}

/// The successor the presented token's rotation stored, as the store returns it.
fn stored_successor(s: &Session) -> RefreshTokenRecord {
    let issued_at = s.record.used_at.unwrap_or_else(rotated_at);
    RefreshTokenRecord {
        id: TokenId::from_uuid(uuid(10)),
        family_id: s.family.id,
        parent_id: Some(s.record.id),
        access_token_id: AccessTokenId::from_uuid(uuid(11)),
        issued_at,
        expires_at: issued_at + Duration::hours(24),
        used_at: None,
    }
}

fn expect_verified(m: &mut Mocks, s: &Session) {
    let claims = s.claims.clone();
    m.verifier
        .expect_verify_refresh()
        .withf(|token, at| token == TOKEN && *at == now())
        .times(1)
        .return_once(move |_, _| Ok(claims));
}

/// The refresh reads the first of `records` with `find_token_with_owner` (the owner left to the
/// user store), a lost race re-reads the rest with `find_token`; each with the session's family.
fn expect_found(m: &mut Mocks, s: &Session, records: Vec<RefreshTokenRecord>) {
    let family = s.family.clone();
    let mut answers = records.into_iter();
    let first = answers.next().map(|r| (r, family.clone(), None));
    m.sessions
        .expect_find_token_with_owner()
        .with(eq(presented_id()))
        .times(1)
        .return_once(move |_| Ok(first));
    m.sessions
        .expect_find_token()
        .with(eq(presented_id()))
        .times(answers.len())
        .returning(move |_| Ok(answers.next().map(|r| (r, family.clone()))));
}

fn expect_successor_lookup(m: &mut Mocks, answer: Result<Option<RefreshTokenRecord>, Error>) {
    m.sessions
        .expect_find_successor()
        .with(eq(presented_id()))
        .times(1)
        .return_once(move |_| answer);
}

fn expect_owner(m: &mut Mocks, times: usize) {
    m.users
        .expect_find_by_id()
        .with(eq(user_id()))
        .times(times)
        .returning(|_| Ok(Some(alice())));
}

fn expect_reuse(m: &mut Mocks) {
    m.sessions
        .expect_revoke_family()
        .with(eq(family_id()), eq(now()), eq(RevokeReason::Reuse))
        .times(1)
        .return_once(|_, _, _| Ok(true));
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

/// Exactly one signature of the pair that goes with `record`.
fn expect_signing_of(m: &mut Mocks, s: &Session, record: &RefreshTokenRecord) {
    m.expect_signing(
        access_claims_for(&s.family, record),
        refresh_claims_for(&s.family, record),
    );
}

fn rejection(result: Result<TokenPair, Error>) -> TokenRejection {
    match result {
        Err(Error::InvalidToken(reason)) => reason,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

/// The pair the signer mock makes for `record`, with the expiries derived from it.
fn pair_of(s: &Session, record: &RefreshTokenRecord) -> TokenPair {
    TokenPair {
        access_token: signed_access(&access_claims_for(&s.family, record)),
        refresh_token: signed_refresh(&refresh_claims_for(&s.family, record)),
        access_expires_at: record.issued_at + policy().access_ttl,
        refresh_expires_at: record.expires_at,
        expires_in: 900,
        dpop_jkt: None,
    }
}

/// Presents a spent token whose successor lookup answers `successor`; expects reuse.
fn assert_reuse_with_successor(s: &Session, successor: Option<RefreshTokenRecord>) {
    let mut m = Mocks::new();
    expect_verified(&mut m, s);
    expect_found(&mut m, s, vec![s.record.clone()]);
    expect_successor_lookup(&mut m, Ok(successor));
    expect_reuse(&mut m);
    m.sessions.expect_rotate().never();
    m.users.expect_find_by_id().never();
    m.forbid_signing();

    assert_eq!(
        rejection(refresh(m, with_grace(GRACE)).execute(TOKEN, None)),
        TokenRejection::Reused
    );
}

#[test]
fn without_a_grace_an_immediate_retry_is_reuse_and_no_successor_is_looked_up() {
    let s = spent_session(rotated_at());
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s, vec![s.record.clone()]);
    m.sessions.expect_find_successor().never();
    expect_reuse(&mut m);
    m.sessions.expect_rotate().never();
    m.forbid_signing();

    assert_eq!(
        rejection(refresh(m, with_grace(Duration::zero())).execute(TOKEN, None)),
        TokenRejection::Reused
    );
}

#[test]
fn a_retry_inside_the_grace_gets_the_unused_successors_pair_without_any_write() {
    let s = spent_session(rotated_at());
    let next = stored_successor(&s);
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s, vec![s.record.clone()]);
    expect_successor_lookup(&mut m, Ok(Some(next.clone())));
    expect_owner(&mut m, 1);
    // Signed from the stored successor: the same claims as at its rotation, so the same bytes.
    expect_signing_of(&mut m, &s, &next);
    m.forbid_session_writes();
    m.forbid_events();

    let pair = refresh(m, with_grace(GRACE)).execute(TOKEN, None).unwrap();

    assert_eq!(pair, pair_of(&s, &next));
    assert_eq!(pair.access_expires_at, rotated_at() + Duration::minutes(15));
}

#[test]
fn a_retry_at_the_last_instant_of_the_grace_still_gets_the_pair() {
    let s = spent_session(now() - GRACE);
    let next = stored_successor(&s);
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s, vec![s.record.clone()]);
    expect_successor_lookup(&mut m, Ok(Some(next.clone())));
    expect_owner(&mut m, 1);
    expect_signing_of(&mut m, &s, &next);
    m.forbid_session_writes();
    m.forbid_events();

    let pair = refresh(m, with_grace(GRACE)).execute(TOKEN, None).unwrap();

    assert_eq!(pair, pair_of(&s, &next));
}

#[test]
fn a_retry_after_the_grace_is_reuse_and_no_successor_is_looked_up() {
    let s = spent_session(now() - GRACE - Duration::microseconds(1));
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s, vec![s.record.clone()]);
    m.sessions.expect_find_successor().never();
    expect_reuse(&mut m);
    m.sessions.expect_rotate().never();
    m.forbid_signing();

    assert_eq!(
        rejection(refresh(m, with_grace(GRACE)).execute(TOKEN, None)),
        TokenRejection::Reused
    );
}

#[test]
fn a_token_two_generations_old_is_reuse_inside_the_grace() {
    // The successor has been spent too: the presented token is no longer the preceding one.
    let s = spent_session(rotated_at());
    let mut next = stored_successor(&s);
    next.used_at = Some(rotated_at() + Duration::seconds(1));
    assert_reuse_with_successor(&s, Some(next));
}

#[test]
fn a_spent_token_without_a_stored_successor_is_reuse_inside_the_grace() {
    assert_reuse_with_successor(&spent_session(rotated_at()), None);
}

#[test]
fn a_successor_that_is_not_the_tokens_own_child_gets_no_grace() {
    // A store answering with the wrong row must not hand out someone else's pair.
    let s = spent_session(rotated_at());
    let mut stranger = stored_successor(&s);
    stranger.parent_id = Some(TokenId::from_uuid(uuid(77)));
    assert_reuse_with_successor(&s, Some(stranger));
}

#[test]
fn a_spent_token_of_a_revoked_family_is_refused_as_revoked_inside_the_grace() {
    let mut s = spent_session(rotated_at());
    s.family.revoked_at = Some(now() - Duration::seconds(1));
    s.family.revoke_reason = Some(RevokeReason::Reuse);
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s, vec![s.record.clone()]);
    m.sessions.expect_find_successor().never();
    m.forbid_session_writes();
    m.forbid_signing();
    m.forbid_events();

    assert_eq!(
        rejection(refresh(m, with_grace(GRACE)).execute(TOKEN, None)),
        TokenRejection::Revoked
    );
}

#[test]
fn a_disabled_user_gets_no_pair_inside_the_grace() {
    let s = spent_session(rotated_at());
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s, vec![s.record.clone()]);
    expect_successor_lookup(&mut m, Ok(Some(stored_successor(&s))));
    let mut disabled = alice();
    disabled.disabled = true;
    m.users
        .expect_find_by_id()
        .times(1)
        .return_once(move |_| Ok(Some(disabled)));
    m.forbid_session_writes();
    m.forbid_signing();
    m.forbid_events();

    assert_eq!(
        rejection(refresh(m, with_grace(GRACE)).execute(TOKEN, None)),
        TokenRejection::UserDisabled
    );
}

#[test]
fn a_storage_outage_while_looking_for_the_successor_propagates_without_revoking() {
    let s = spent_session(rotated_at());
    let mut m = Mocks::new();
    expect_verified(&mut m, &s);
    expect_found(&mut m, &s, vec![s.record.clone()]);
    expect_successor_lookup(&mut m, Err(unavailable()));
    m.forbid_session_writes();
    m.forbid_signing();
    m.forbid_events();

    let result = refresh(m, with_grace(GRACE)).execute(TOKEN, None);

    assert!(
        matches!(result, Err(Error::Unavailable(_))),
        "got {result:?}"
    );
}

/// The candidate successor this request would have minted had it won the race.
fn candidate(s: &Session) -> RefreshTokenRecord {
    let issued_at = DateTime::from_timestamp_micros(now().timestamp_micros()).unwrap();
    RefreshTokenRecord {
        id: TokenId::from_uuid(new_id(0)),
        family_id: s.family.id,
        parent_id: Some(s.record.id),
        access_token_id: AccessTokenId::from_uuid(new_id(1)),
        issued_at,
        expires_at: issued_at + Duration::hours(24),
        used_at: None,
    }
}

/// A request that read the token unused, signed a candidate and lost `rotate` to a concurrent
/// request that spent the token at `won_at`; the re-read shows the winner's work.
fn lost_race(m: &mut Mocks, s: &Session, won_at: DateTime<Utc>) {
    let mut spent = s.record.clone();
    spent.used_at = Some(won_at);
    expect_verified(m, s);
    expect_found(m, s, vec![s.record.clone(), spent]);
    let mine = candidate(s);
    expect_signing_of(m, s, &mine);
    m.sessions
        .expect_rotate()
        .withf(move |presented, at, next| {
            *presented == presented_id() && *at == now() && *next == mine
        })
        .times(1)
        .return_once(|_, _, _| Ok(RotateOutcome::AlreadyUsed));
}

#[test]
fn losing_the_rotation_race_inside_the_grace_re_sends_the_winners_pair_and_mints_nothing() {
    let s = session();
    // The winner read the clock a moment after we did.
    let won_at = now() + Duration::milliseconds(2);
    let mut winner = spent_session(won_at);
    winner.record.used_at = Some(won_at);
    let winners = stored_successor(&winner);
    let mut m = Mocks::new();
    lost_race(&mut m, &s, won_at);
    expect_successor_lookup(&mut m, Ok(Some(winners.clone())));
    // Once for our own candidate, once for the grace answer.
    expect_owner(&mut m, 2);
    expect_signing_of(&mut m, &s, &winners);
    m.sessions.expect_revoke_family().never();
    m.forbid_events();

    let pair = refresh(m, with_grace(GRACE)).execute(TOKEN, None).unwrap();

    assert_eq!(pair, pair_of(&s, &winners));
}

#[test]
fn losing_the_rotation_race_after_the_winners_successor_was_used_is_reuse() {
    let s = session();
    let won_at = now() - Duration::seconds(1);
    let mut winners = stored_successor(&spent_session(won_at));
    winners.used_at = Some(now() - Duration::milliseconds(1));
    let mut m = Mocks::new();
    lost_race(&mut m, &s, won_at);
    expect_owner(&mut m, 1);
    expect_successor_lookup(&mut m, Ok(Some(winners)));
    expect_reuse(&mut m);

    assert_eq!(
        rejection(refresh(m, with_grace(GRACE)).execute(TOKEN, None)),
        TokenRejection::Reused
    );
}
