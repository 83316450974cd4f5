//! Token revocation (RFC 7009) against mocked ports: refresh tokens revoke their family, access
//! tokens their `sid` family, and anything else is silently ignored.

// Fixture helpers are not #[test] fns, but may panic like them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mockall::predicate::eq;
use mockall::Sequence;
use tollgate_application::{Error, RequestOrigin, Revocation, SecurityEventKind, TokenTypeHint};
use tollgate_domain::{AccessClaims, ClientId, FamilyId, RevokeReason, TokenRejection, UserId};
use uuid::Uuid;

use crate::common::{
    access_claims_for, bound_to, client_id, event_from, family_id, now, session, unavailable,
    user_id, Mocks, Session, TOKEN,
};

fn access_claims() -> AccessClaims {
    let s = session();
    access_claims_for(&s.family, &s.record)
}

fn revoke(m: Mocks, hint: Option<TokenTypeHint>) -> Result<(), Error> {
    Revocation::new(m.ports().token_check()).execute(TOKEN, hint, &origin())
}

/// Who asks for the revocation.
fn origin() -> RequestOrigin {
    RequestOrigin {
        client_id: Some(ClientId::parse("web-app").unwrap()),
        address: Some("192.0.2.7".parse().unwrap()),
    }
}

/// Revokes as the authenticated client `client`.
fn revoke_as(m: Mocks, hint: Option<TokenTypeHint>, client: &str) -> Result<(), Error> {
    Revocation::new(m.ports().token_check()).execute(TOKEN, hint, &origin_of(client))
}

/// [`origin`], authenticated as `client`.
fn origin_of(client: &str) -> RequestOrigin {
    RequestOrigin {
        client_id: Some(client_id(client)),
        ..origin()
    }
}

/// The verifier takes [`TOKEN`] for a refresh token of Alice's session.
fn refresh_verifies(m: &mut Mocks) {
    let claims = session().claims;
    m.verifier
        .expect_verify_refresh()
        .with(eq(TOKEN), eq(now()))
        .times(1)
        .returning(move |_, _| Ok(claims.clone()));
}

/// The verifier takes [`TOKEN`] for an access token of Alice's session.
fn access_verifies(m: &mut Mocks, claims: AccessClaims) {
    m.verifier
        .expect_verify_access()
        .with(eq(TOKEN), eq(now()))
        .times(1)
        .returning(move |_, _| Ok(claims.clone()));
}

fn refresh_refused(m: &mut Mocks, times: usize) {
    m.verifier
        .expect_verify_refresh()
        .times(times)
        .returning(|_, _| Err(Error::InvalidToken(TokenRejection::Audience)));
}

fn access_refused(m: &mut Mocks, times: usize) {
    m.verifier
        .expect_verify_access()
        .times(times)
        .returning(|_, _| Err(Error::InvalidToken(TokenRejection::Audience)));
}

/// The store finds the presented refresh token in Alice's live family.
fn token_found(m: &mut Mocks) {
    token_found_in(m, session());
}

/// The store finds the presented refresh token as `s` says.
fn token_found_in(m: &mut Mocks, s: Session) {
    m.sessions
        .expect_find_token()
        .with(eq(s.record.id))
        .times(1)
        .returning(move |_| Ok(Some((s.record.clone(), s.family.clone()))));
}

fn family_found(m: &mut Mocks) {
    family_found_in(m, session());
}

fn family_found_in(m: &mut Mocks, s: Session) {
    let family = s.family;
    m.sessions
        .expect_find_family()
        .with(eq(family_id()))
        .times(1)
        .returning(move |_| Ok(Some(family.clone())));
}

/// Exactly one revocation of Alice's family, for RFC 7009 revocation, at the clock's instant,
/// and one event saying so, with the caller's origin.
fn expect_revocation(m: &mut Mocks) {
    expect_revocation_from(m, origin());
}

/// [`expect_revocation`] for a request from `origin`.
fn expect_revocation_from(m: &mut Mocks, origin: RequestOrigin) {
    m.sessions
        .expect_revoke_family()
        .with(eq(family_id()), eq(now()), eq(RevokeReason::Revoked))
        .times(1)
        .returning(|_, _, _| Ok(true));
    m.events
        .expect_record()
        .with(eq(event_from(
            origin,
            SecurityEventKind::FamilyRevoked {
                user_id: user_id(),
                family_id: Some(family_id()),
                reason: RevokeReason::Revoked,
                count: 1,
            },
        )))
        .times(1)
        .return_const(());
}

#[test]
fn revoking_a_family_revoked_already_records_no_event() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_found(&mut m);
    m.sessions
        .expect_revoke_family()
        .times(1)
        .returning(|_, _, _| Ok(false));
    m.events.expect_record().never();
    revoke(m, None).unwrap();
}

#[test]
fn a_refresh_token_revokes_its_family() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_found(&mut m);
    expect_revocation(&mut m);
    access_refused(&mut m, 0);
    revoke(m, None).unwrap();
}

#[test]
fn a_spent_refresh_token_still_revokes_its_family() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    let mut s = session();
    s.record.used_at = Some(now());
    m.sessions
        .expect_find_token()
        .returning(move |_| Ok(Some((s.record.clone(), s.family.clone()))));
    expect_revocation(&mut m);
    revoke(m, Some(TokenTypeHint::RefreshToken)).unwrap();
}

#[test]
fn an_access_token_revokes_its_sid_family() {
    let mut m = Mocks::new();
    refresh_refused(&mut m, 1);
    access_verifies(&mut m, access_claims());
    family_found(&mut m);
    expect_revocation(&mut m);
    revoke(m, None).unwrap();
}

#[test]
fn the_hint_decides_which_kind_is_tried_first() {
    let mut m = Mocks::new();
    let mut order = Sequence::new();
    m.verifier
        .expect_verify_access()
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Err(Error::InvalidToken(TokenRejection::Audience)));
    m.verifier
        .expect_verify_refresh()
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(session().claims));
    token_found(&mut m);
    expect_revocation(&mut m);
    // A wrong hint still finds the token.
    revoke(m, Some(TokenTypeHint::AccessToken)).unwrap();
}

#[test]
fn a_recognised_access_token_is_not_tried_as_a_refresh_token() {
    let mut m = Mocks::new();
    access_verifies(&mut m, access_claims());
    family_found(&mut m);
    expect_revocation(&mut m);
    refresh_refused(&mut m, 0);
    revoke(m, Some(TokenTypeHint::AccessToken)).unwrap();
}

#[test]
fn a_token_that_does_not_verify_is_ignored_without_touching_the_store() {
    let mut m = Mocks::new();
    refresh_refused(&mut m, 1);
    access_refused(&mut m, 1);
    m.sessions.expect_find_token().never();
    m.sessions.expect_find_family().never();
    m.forbid_session_writes();
    revoke(m, None).unwrap();
}

#[test]
fn an_unknown_refresh_token_is_ignored() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    m.sessions
        .expect_find_token()
        .times(1)
        .returning(|_| Ok(None));
    m.forbid_session_writes();
    revoke(m, None).unwrap();
}

#[test]
fn an_access_token_of_an_unknown_session_is_ignored() {
    let mut m = Mocks::new();
    refresh_refused(&mut m, 1);
    let mut claims = access_claims();
    claims.sid = FamilyId::from_uuid(Uuid::from_u128(99));
    access_verifies(&mut m, claims);
    m.sessions
        .expect_find_family()
        .times(1)
        .returning(|_| Ok(None));
    m.forbid_session_writes();
    revoke(m, None).unwrap();
}

#[test]
fn a_token_whose_subject_does_not_own_the_family_revokes_nothing() {
    let mut m = Mocks::new();
    refresh_refused(&mut m, 1);
    let mut claims = access_claims();
    claims.sub = UserId::from_uuid(Uuid::from_u128(77));
    access_verifies(&mut m, claims);
    family_found(&mut m);
    m.forbid_session_writes();
    revoke(m, None).unwrap();
}

#[test]
fn a_storage_outage_is_reported_not_swallowed() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_found(&mut m);
    m.sessions
        .expect_revoke_family()
        .times(1)
        .returning(|_, _, _| Err(unavailable()));
    let result = revoke(m, None);
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// Tokens bound to a client (RFC 7009 §2.1)

#[test]
fn a_client_revokes_its_own_bound_refresh_token() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_found_in(&mut m, bound_to(session(), "client-a"));
    expect_revocation_from(&mut m, origin_of("client-a"));
    revoke_as(m, None, "client-a").unwrap();
}

#[test]
fn a_refresh_token_bound_to_another_client_is_refused_silently() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_found_in(&mut m, bound_to(session(), "client-a"));
    // Recognised as a refresh token, so not tried as an access token either.
    access_refused(&mut m, 0);
    m.forbid_session_writes();
    revoke_as(m, None, "client-b").unwrap();
}

#[test]
fn a_bound_refresh_token_is_not_revoked_without_client_authentication() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_found_in(&mut m, bound_to(session(), "client-a"));
    m.forbid_session_writes();
    revoke(m, None).unwrap();
}

#[test]
fn an_access_token_bound_to_another_client_is_refused_silently() {
    let mut m = Mocks::new();
    access_verifies(&mut m, access_claims());
    family_found_in(&mut m, bound_to(session(), "client-a"));
    m.forbid_session_writes();
    revoke_as(m, Some(TokenTypeHint::AccessToken), "client-b").unwrap();
}

#[test]
fn a_client_revokes_its_own_bound_access_token() {
    let mut m = Mocks::new();
    access_verifies(&mut m, access_claims());
    family_found_in(&mut m, bound_to(session(), "client-a"));
    expect_revocation_from(&mut m, origin_of("client-a"));
    revoke_as(m, Some(TokenTypeHint::AccessToken), "client-a").unwrap();
}

#[test]
fn any_client_may_revoke_an_unbound_token() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_found(&mut m);
    expect_revocation_from(&mut m, origin_of("client-b"));
    revoke_as(m, None, "client-b").unwrap();
}
