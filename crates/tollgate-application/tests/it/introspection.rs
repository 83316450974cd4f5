//! Token introspection (RFC 7662) against mocked ports: live access and refresh tokens are
//! active with their claims; everything else is inactive.

// Fixture helpers are not #[test] fns, but may panic like them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use mockall::predicate::eq;
use tollgate_application::{Error, Introspected, Introspection, TokenTypeHint};
use tollgate_domain::{AccessClaims, Client, RevokeReason, TokenRejection};

use crate::common::{
    access_claims_for, bound_to, client, client_id, family_id, now, session, unavailable, Mocks,
    Session, TOKEN,
};

fn access_claims() -> AccessClaims {
    let s = session();
    access_claims_for(&s.family, &s.record)
}

/// Introspects as an ordinary client (`"caller"`, not `introspect_any`).
fn introspect(m: Mocks, hint: Option<TokenTypeHint>) -> Result<Introspected, Error> {
    introspect_as(m, hint, &client("caller", false))
}

fn introspect_as(
    mut m: Mocks,
    hint: Option<TokenTypeHint>,
    caller: &Client,
) -> Result<Introspected, Error> {
    // Introspection only ever reads.
    m.forbid_session_writes();
    m.forbid_signing();
    m.forbid_events();
    Introspection::new(m.ports().token_check()).execute(TOKEN, hint, caller)
}

fn active_refresh(client: Option<&str>) -> Introspected {
    Introspected::Refresh {
        claims: session().claims,
        client_id: client.map(client_id),
        jkt: session().family.jkt,
    }
}

fn active_access(client: Option<&str>) -> Introspected {
    Introspected::Access {
        claims: access_claims(),
        client_id: client.map(client_id),
    }
}

fn refresh_verifies(m: &mut Mocks) {
    let claims = session().claims;
    m.verifier
        .expect_verify_refresh()
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

fn access_verifies(m: &mut Mocks) {
    m.verifier
        .expect_verify_access()
        .with(eq(TOKEN), eq(now()))
        .times(1)
        .returning(|_, _| Ok(access_claims()));
}

fn access_refused(m: &mut Mocks, times: usize) {
    m.verifier
        .expect_verify_access()
        .times(times)
        .returning(|_, _| Err(Error::InvalidToken(TokenRejection::Signature)));
}

/// The store holds the presented refresh token as `s` says.
fn token_stored(m: &mut Mocks, s: Session) {
    m.sessions
        .expect_find_token()
        .with(eq(s.record.id))
        .times(1)
        .returning(move |_| Ok(Some((s.record.clone(), s.family.clone()))));
}

fn family_stored(m: &mut Mocks, s: Session) {
    m.sessions
        .expect_find_family()
        .with(eq(family_id()))
        .times(1)
        .returning(move |_| Ok(Some(s.family.clone())));
}

fn revoked(mut s: Session) -> Session {
    s.family.revoked_at = Some(now() - Duration::minutes(1));
    s.family.revoke_reason = Some(RevokeReason::Revoked);
    s
}

#[test]
fn a_live_refresh_token_is_active_with_its_claims() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_stored(&mut m, session());
    access_refused(&mut m, 0);
    assert_eq!(introspect(m, None).unwrap(), active_refresh(None));
}

#[test]
fn a_live_access_token_is_active_with_its_claims() {
    let mut m = Mocks::new();
    access_verifies(&mut m);
    family_stored(&mut m, session());
    refresh_refused(&mut m, 0);
    assert_eq!(
        introspect(m, Some(TokenTypeHint::AccessToken)).unwrap(),
        active_access(None)
    );
}

#[test]
fn an_access_token_is_found_without_a_hint() {
    let mut m = Mocks::new();
    refresh_refused(&mut m, 1);
    access_verifies(&mut m);
    family_stored(&mut m, session());
    assert_eq!(introspect(m, None).unwrap(), active_access(None));
}

#[test]
fn an_access_token_of_a_revoked_family_is_inactive_before_it_expires() {
    let mut m = Mocks::new();
    refresh_refused(&mut m, 1);
    access_verifies(&mut m);
    family_stored(&mut m, revoked(session()));
    assert_eq!(introspect(m, None).unwrap(), Introspected::Inactive);
}

#[test]
fn a_refresh_token_of_a_revoked_family_is_inactive() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_stored(&mut m, revoked(session()));
    access_refused(&mut m, 1);
    assert_eq!(introspect(m, None).unwrap(), Introspected::Inactive);
}

#[test]
fn a_spent_refresh_token_is_inactive_and_raises_no_alarm() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    let mut s = session();
    s.record.used_at = Some(now() - Duration::seconds(1));
    token_stored(&mut m, s);
    access_refused(&mut m, 1);
    // `introspect` forbids writes and events: introspecting a spent token revokes nothing.
    assert_eq!(introspect(m, None).unwrap(), Introspected::Inactive);
}

#[test]
fn an_unknown_refresh_token_is_inactive() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    m.sessions
        .expect_find_token()
        .times(1)
        .returning(|_| Ok(None));
    access_refused(&mut m, 1);
    assert_eq!(introspect(m, None).unwrap(), Introspected::Inactive);
}

#[test]
fn a_refresh_token_past_its_family_end_is_inactive() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    let mut s = session();
    s.family.expires_at = now();
    token_stored(&mut m, s);
    access_refused(&mut m, 1);
    assert_eq!(introspect(m, None).unwrap(), Introspected::Inactive);
}

#[test]
fn a_token_that_verifies_as_neither_kind_is_inactive() {
    let mut m = Mocks::new();
    refresh_refused(&mut m, 1);
    access_refused(&mut m, 1);
    m.sessions.expect_find_token().never();
    m.sessions.expect_find_family().never();
    assert_eq!(introspect(m, None).unwrap(), Introspected::Inactive);
}

#[test]
fn a_storage_outage_is_an_error_not_an_inactive_token() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    m.sessions
        .expect_find_token()
        .times(1)
        .returning(|_| Err(unavailable()));
    let result = introspect(m, None);
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// Tokens bound to a client (RFC 7662 §2.1)

#[test]
fn a_refresh_token_bound_to_another_client_is_inactive() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_stored(&mut m, bound_to(session(), "client-a"));
    access_refused(&mut m, 0);
    assert_eq!(
        introspect_as(m, None, &client("client-b", false)).unwrap(),
        Introspected::Inactive
    );
}

#[test]
fn an_access_token_bound_to_another_client_is_inactive() {
    let mut m = Mocks::new();
    access_verifies(&mut m);
    family_stored(&mut m, bound_to(session(), "client-a"));
    refresh_refused(&mut m, 0);
    assert_eq!(
        introspect_as(
            m,
            Some(TokenTypeHint::AccessToken),
            &client("client-b", false)
        )
        .unwrap(),
        Introspected::Inactive
    );
}

#[test]
fn a_client_sees_its_own_bound_token_with_its_client_id() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_stored(&mut m, bound_to(session(), "client-a"));
    assert_eq!(
        introspect_as(m, None, &client("client-a", false)).unwrap(),
        active_refresh(Some("client-a"))
    );
}

#[test]
fn an_introspect_any_client_sees_the_tokens_of_every_client() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_stored(&mut m, bound_to(session(), "client-a"));
    assert_eq!(
        introspect_as(m, None, &client("resource-server", true)).unwrap(),
        active_refresh(Some("client-a"))
    );

    let mut m = Mocks::new();
    access_verifies(&mut m);
    family_stored(&mut m, bound_to(session(), "client-a"));
    assert_eq!(
        introspect_as(
            m,
            Some(TokenTypeHint::AccessToken),
            &client("resource-server", true)
        )
        .unwrap(),
        active_access(Some("client-a"))
    );
}

#[test]
fn an_unbound_token_is_active_for_every_client() {
    let mut m = Mocks::new();
    refresh_verifies(&mut m);
    token_stored(&mut m, session());
    assert_eq!(
        introspect_as(m, None, &client("client-b", false)).unwrap(),
        active_refresh(None)
    );
}
