//! User administration against mocked ports: creating users, disabling them and changing
//! passwords, with the session revocations those imply.

// Fixture helpers are not #[test] fns, but may panic like them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mockall::predicate::eq;
use mockall::Sequence;
use tollgate_application::{Error, SecurityEventKind, UserAdmin};
use tollgate_domain::{DomainError, PasswordHash, RevokeReason, User, UserId, UserName};

use crate::common::{
    alice, alice_name, event, new_id, now, unavailable, user_id, Mocks, ALICE_PASSWORD,
};

const NEW_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$new$new";

fn admin(mocks: Mocks) -> UserAdmin {
    UserAdmin::new(mocks.ports().user_admin())
}

/// The user store finds Alice by name once.
fn expect_alice_found(m: &mut Mocks) {
    m.users
        .expect_find_by_name()
        .with(eq(alice_name()))
        .times(1)
        .returning(|_| Ok(Some(alice())));
}

/// The hasher hashes `password` once, into [`NEW_HASH`].
fn expect_hashing(m: &mut Mocks, password: &'static str) {
    m.hasher
        .expect_hash()
        .withf(move |p| p.expose() == password)
        .times(1)
        .returning(|_| Ok(PasswordHash::new(NEW_HASH.to_owned())));
}

/// Exactly one revocation of all Alice's families for `reason`, finding `count` live, and one
/// event saying so.
fn expect_revocation(m: &mut Mocks, reason: RevokeReason, count: u64, order: &mut Sequence) {
    m.sessions
        .expect_revoke_user_families()
        .with(eq(user_id()), eq(now()), eq(reason))
        .times(1)
        .in_sequence(order)
        .returning(move |_, _, _| Ok(count));
    m.events
        .expect_record()
        .with(eq(event(SecurityEventKind::FamilyRevoked {
            user_id: user_id(),
            family_id: None,
            reason,
            count,
        })))
        .times(1)
        .return_const(());
}

/// Exactly one administrative event `kind` (no request origin).
fn expect_event(m: &mut Mocks, kind: SecurityEventKind) {
    m.events
        .expect_record()
        .with(eq(event(kind)))
        .times(1)
        .return_const(());
}

/// Nothing is written anywhere and nothing reported.
fn forbid_changes(m: &mut Mocks) {
    m.users.expect_create().never();
    m.users.expect_set_disabled().never();
    m.users.expect_set_password_hash().never();
    m.forbid_session_writes();
    m.forbid_events();
}

#[test]
fn adding_a_user_hashes_the_password_and_stores_the_user() {
    let expected = User {
        id: UserId::from_uuid(new_id(0)),
        name: UserName::parse("bob").unwrap(),
        password_hash: PasswordHash::new(NEW_HASH.to_owned()),
        disabled: false,
        created_at: now(),
    };
    let mut m = Mocks::new();
    expect_hashing(&mut m, ALICE_PASSWORD);
    let stored = expected.clone();
    m.users
        .expect_create()
        .withf(move |u| *u == stored)
        .times(1)
        .returning(|_| Ok(()));
    m.forbid_session_writes();
    m.forbid_events();

    let user = admin(m).add("bob", ALICE_PASSWORD).unwrap();

    assert_eq!(user, expected);
}

#[test]
fn adding_a_user_whose_name_is_taken_fails_with_user_exists() {
    let mut m = Mocks::new();
    expect_hashing(&mut m, ALICE_PASSWORD);
    m.users
        .expect_create()
        .times(1)
        .returning(|_| Err(Error::UserExists));
    m.forbid_session_writes();
    m.forbid_events();

    let result = admin(m).add("alice", ALICE_PASSWORD);

    assert!(matches!(result, Err(Error::UserExists)), "got {result:?}");
}

#[test]
fn adding_a_user_with_an_invalid_name_stores_nothing() {
    for name in ["", "bob\u{7}", "bob\n"] {
        let mut m = Mocks::new();
        m.hasher.expect_hash().never();
        forbid_changes(&mut m);

        let result = admin(m).add(name, ALICE_PASSWORD);

        assert!(
            matches!(result, Err(Error::Invalid(DomainError::InvalidUserName))),
            "{name:?}: got {result:?}"
        );
    }
}

#[test]
fn adding_a_user_with_an_invalid_password_stores_nothing() {
    let too_long = "p".repeat(tollgate_domain::Password::MAX_BYTES + 1);
    for password in ["", too_long.as_str()] {
        let mut m = Mocks::new();
        m.hasher.expect_hash().never();
        forbid_changes(&mut m);

        let result = admin(m).add("bob", password);

        assert!(
            matches!(result, Err(Error::Invalid(DomainError::InvalidPassword))),
            "got {result:?}"
        );
    }
}

#[test]
fn disabling_a_user_revokes_all_their_sessions() {
    let mut m = Mocks::new();
    let mut order = Sequence::new();
    expect_alice_found(&mut m);
    // Disabled first: a login racing the revocation then finds the user disabled.
    m.users
        .expect_set_disabled()
        .with(eq(user_id()), eq(true))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(()));
    expect_revocation(&mut m, RevokeReason::UserDisabled, 3, &mut order);
    expect_event(
        &mut m,
        SecurityEventKind::UserDisabled { user_id: user_id() },
    );
    m.sessions.expect_revoke_family().never();

    assert_eq!(admin(m).set_disabled("alice", true).unwrap(), 3);
}

#[test]
fn enabling_a_user_revokes_nothing() {
    let mut m = Mocks::new();
    expect_alice_found(&mut m);
    m.users
        .expect_set_disabled()
        .with(eq(user_id()), eq(false))
        .times(1)
        .returning(|_, _| Ok(()));
    m.forbid_session_writes();
    expect_event(
        &mut m,
        SecurityEventKind::UserEnabled { user_id: user_id() },
    );

    assert_eq!(admin(m).set_disabled("alice", false).unwrap(), 0);
}

#[test]
fn changing_the_password_stores_the_new_hash_and_revokes_all_sessions() {
    let mut m = Mocks::new();
    let mut order = Sequence::new();
    expect_alice_found(&mut m);
    expect_hashing(&mut m, "n3w passw0rd");
    // Stored first: a login racing the revocation then needs the new password.
    m.users
        .expect_set_password_hash()
        .with(eq(user_id()), eq(PasswordHash::new(NEW_HASH.to_owned())))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(()));
    expect_revocation(&mut m, RevokeReason::PasswordChanged, 2, &mut order);
    expect_event(
        &mut m,
        SecurityEventKind::PasswordChanged { user_id: user_id() },
    );
    m.sessions.expect_revoke_family().never();

    assert_eq!(admin(m).set_password("alice", "n3w passw0rd").unwrap(), 2);
}

#[test]
fn changing_the_password_to_an_invalid_one_changes_nothing() {
    let mut m = Mocks::new();
    m.users
        .expect_find_by_name()
        .times(..=1)
        .returning(|_| Ok(Some(alice())));
    m.hasher.expect_hash().never();
    forbid_changes(&mut m);

    let result = admin(m).set_password("alice", "");

    assert!(
        matches!(result, Err(Error::Invalid(DomainError::InvalidPassword))),
        "got {result:?}"
    );
}

#[test]
fn disabling_an_unknown_user_fails_with_user_not_found() {
    let mut m = Mocks::new();
    m.users
        .expect_find_by_name()
        .times(1)
        .returning(|_| Ok(None));
    forbid_changes(&mut m);

    let result = admin(m).set_disabled("bob", true);

    assert!(matches!(result, Err(Error::UserNotFound)), "got {result:?}");
}

#[test]
fn changing_the_password_of_an_unknown_user_fails_with_user_not_found() {
    let mut m = Mocks::new();
    m.users
        .expect_find_by_name()
        .times(1)
        .returning(|_| Ok(None));
    m.hasher
        .expect_hash()
        .times(..=1)
        .returning(|_| Ok(PasswordHash::new(NEW_HASH.to_owned())));
    forbid_changes(&mut m);

    let result = admin(m).set_password("bob", "n3w passw0rd");

    assert!(matches!(result, Err(Error::UserNotFound)), "got {result:?}");
}

#[test]
fn a_storage_outage_while_revoking_sessions_propagates() {
    let mut m = Mocks::new();
    expect_alice_found(&mut m);
    m.users
        .expect_set_disabled()
        .with(eq(user_id()), eq(true))
        .times(1)
        .returning(|_, _| Ok(()));
    m.sessions
        .expect_revoke_user_families()
        .times(1)
        .returning(|_, _, _| Err(unavailable()));
    // The user is disabled all the same, so that is recorded; no revocation is.
    expect_event(
        &mut m,
        SecurityEventKind::UserDisabled { user_id: user_id() },
    );

    let result = admin(m).set_disabled("alice", true);

    assert!(
        matches!(result, Err(Error::Unavailable(_))),
        "got {result:?}"
    );
}

#[test]
fn listing_users_returns_what_the_store_holds() {
    let mut m = Mocks::new();
    m.users
        .expect_list()
        .times(1)
        .returning(|| Ok(vec![alice()]));
    forbid_changes(&mut m);

    assert_eq!(admin(m).list().unwrap(), vec![alice()]);
}

#[test]
fn listing_sessions_returns_the_users_families() {
    let mut m = Mocks::new();
    expect_alice_found(&mut m);
    let family = crate::common::session().family;
    let listed = vec![family.clone()];
    m.sessions
        .expect_list_user_families()
        .with(eq(user_id()))
        .times(1)
        .returning(move |_| Ok(listed.clone()));
    assert_eq!(admin(m).list_sessions("alice").unwrap(), vec![family]);
}

#[test]
fn revoking_sessions_revokes_every_live_family_as_an_admin_action() {
    let mut m = Mocks::new();
    expect_alice_found(&mut m);
    let mut order = Sequence::new();
    expect_revocation(&mut m, RevokeReason::Admin, 3, &mut order);
    assert_eq!(admin(m).revoke_sessions("alice").unwrap(), 3);
}

#[test]
fn sessions_of_an_unknown_user_are_user_not_found() {
    let mut m = Mocks::new();
    m.users.expect_find_by_name().returning(|_| Ok(None));
    m.sessions.expect_list_user_families().never();
    forbid_changes(&mut m);
    assert!(matches!(
        admin(m).list_sessions("nobody"),
        Err(Error::UserNotFound)
    ));
}

#[test]
fn deleting_a_user_revokes_their_sessions_then_deletes_them() {
    let mut m = Mocks::new();
    expect_alice_found(&mut m);
    let mut order = Sequence::new();
    expect_revocation(&mut m, RevokeReason::UserDeleted, 2, &mut order);
    m.users
        .expect_delete()
        .with(eq(user_id()))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(()));
    expect_event(
        &mut m,
        SecurityEventKind::UserDeleted { user_id: user_id() },
    );
    assert_eq!(admin(m).delete("alice").unwrap(), 2);
}

#[test]
fn revoking_no_live_session_records_no_revocation() {
    let mut m = Mocks::new();
    expect_alice_found(&mut m);
    m.sessions
        .expect_revoke_user_families()
        .times(1)
        .returning(|_, _, _| Ok(0));
    m.forbid_events();
    assert_eq!(admin(m).revoke_sessions("alice").unwrap(), 0);
}

#[test]
fn deleting_an_unknown_user_changes_nothing() {
    let mut m = Mocks::new();
    m.users.expect_find_by_name().returning(|_| Ok(None));
    m.users.expect_delete().never();
    forbid_changes(&mut m);
    assert!(matches!(
        admin(m).delete("nobody"),
        Err(Error::UserNotFound)
    ));
}
