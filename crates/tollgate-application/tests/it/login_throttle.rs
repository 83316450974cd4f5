//! Brute-force throttling of the password grant against mocked ports: a blocked name or address
//! is refused before any lookup or hashing; failures are counted against both; a success resets
//! the name only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Duration;
use mockall::predicate::eq;
use tollgate_application::{Error, Login, LoginRequest, RequestOrigin, SecurityEventKind};
use tollgate_domain::{Password, PasswordHash, ThrottleKey, ThrottlePolicy, UserName};

use crate::common::{alice, alice_name, event_from, now, policy, Mocks, ALICE_PASSWORD};

fn address() -> IpAddr {
    "192.0.2.10".parse().unwrap()
}

fn request(user_name: &str, password: &str) -> LoginRequest {
    LoginRequest {
        user_name: user_name.to_owned(),
        password: Password::parse(password).unwrap(),
        long_lived: false,
        client_address: Some(address()),
        client_id: None,
    }
}

fn keys(name: &str) -> Vec<ThrottleKey> {
    vec![
        ThrottleKey::UserName(name.to_owned()),
        ThrottleKey::Address(address()),
    ]
}

fn strict_policy() -> ThrottlePolicy {
    ThrottlePolicy {
        max_failures: 2,
        ..ThrottlePolicy::default()
    }
}

fn login(m: Mocks) -> Login {
    Login::new(m.ports().login(), Arc::new(policy())).with_throttle(strict_policy())
}

/// The name and the address are looked up once and found blocked for 3.5 more seconds.
fn expect_blocked(m: &mut Mocks, name: &str) {
    let expected = keys(name);
    m.throttle
        .expect_blocked_until()
        .withf(move |k, at| k == expected.as_slice() && *at == now())
        .times(1)
        .returning(|_, _| Ok(Some(now() + Duration::milliseconds(3_500))));
}

fn expect_not_blocked(m: &mut Mocks, name: &str) {
    let expected = keys(name);
    m.throttle
        .expect_blocked_until()
        .withf(move |k, _| k == expected.as_slice())
        .times(1)
        .returning(|_, _| Ok(None));
}

fn forbid_checking(m: &mut Mocks) {
    m.users.expect_find_by_name().never();
    m.hasher.expect_verify().never();
    m.forbid_session_writes();
    m.forbid_signing();
    m.throttle.expect_record_failure().never();
    m.throttle.expect_reset().never();
}

#[test]
fn a_throttled_known_name_is_refused_before_lookup_or_hashing() {
    let mut m = Mocks::new();
    expect_blocked(&mut m, "alice");
    forbid_checking(&mut m);
    m.events
        .expect_record()
        .with(eq(event_from(
            RequestOrigin {
                client_id: None,
                address: Some(address()),
            },
            SecurityEventKind::LoginThrottled {
                user_name: Some(alice_name()),
            },
        )))
        .times(1)
        .return_const(());
    let result = login(m).execute(&request("alice", ALICE_PASSWORD));
    assert!(
        matches!(
            result,
            Err(Error::Throttled {
                retry_after_secs: 4
            })
        ),
        "got {result:?}"
    );
}

#[test]
fn an_unknown_name_is_throttled_exactly_like_a_known_one() {
    let mut m = Mocks::new();
    expect_blocked(&mut m, "nobody");
    forbid_checking(&mut m);
    m.events.expect_record().times(1).return_const(());
    let result = login(m).check_throttle(&request("nobody", "guess"));
    assert!(
        matches!(
            result,
            Err(Error::Throttled {
                retry_after_secs: 4
            })
        ),
        "got {result:?}"
    );
}

#[test]
fn a_failure_counts_against_the_name_and_the_address() {
    for (name, user) in [("alice", Some(alice())), ("nobody", None)] {
        let mut m = Mocks::new();
        expect_not_blocked(&mut m, name);
        m.users
            .expect_find_by_name()
            .times(1)
            .return_once(move |_| Ok(user));
        m.hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Ok(false));
        m.events.expect_record().times(1).return_const(());
        for key in keys(name) {
            m.throttle
                .expect_record_failure()
                .withf(move |k, at, p| *k == key && *at == now() && *p == strict_policy())
                .times(1)
                .returning(|_, _, _| Ok(None));
        }
        m.throttle.expect_reset().never();
        m.forbid_session_writes();
        m.forbid_signing();
        let result = login(m).execute(&request(name, "wrong-password"));
        assert!(
            matches!(result, Err(Error::InvalidCredentials)),
            "{result:?}"
        );
    }
}

#[test]
fn a_success_resets_the_name_but_not_the_address() {
    let mut m = Mocks::new();
    expect_not_blocked(&mut m, "alice");
    m.users
        .expect_find_by_name()
        .with(eq(UserName::parse("alice").unwrap()))
        .times(1)
        .return_once(|_| Ok(Some(alice())));
    m.hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    m.hasher.expect_needs_rehash().returning(|_| false);
    m.users.expect_replace_password_hash().never();
    m.throttle
        .expect_reset()
        .with(eq(ThrottleKey::UserName("alice".to_owned())))
        .times(1)
        .returning(|_| Ok(()));
    m.throttle.expect_record_failure().never();
    m.signer
        .expect_sign_access()
        .returning(|_| Ok("a".to_owned()));
    m.signer
        .expect_sign_refresh()
        .returning(|_| Ok("r".to_owned()));
    m.sessions
        .expect_create_login_family()
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    assert!(login(m).execute(&request("alice", ALICE_PASSWORD)).is_ok());
}

/// A successful login by `alice` whose stored hash `needs_rehash` says is outdated or not.
fn successful_login(m: &mut Mocks) {
    expect_not_blocked(m, "alice");
    m.users
        .expect_find_by_name()
        .times(1)
        .return_once(|_| Ok(Some(alice())));
    m.hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    m.throttle.expect_reset().times(1).returning(|_| Ok(()));
    m.signer
        .expect_sign_access()
        .returning(|_| Ok("a".to_owned()));
    m.signer
        .expect_sign_refresh()
        .returning(|_| Ok("r".to_owned()));
    m.sessions
        .expect_create_login_family()
        .times(1)
        .returning(|_, _, _, _| Ok(true));
}

#[test]
fn a_hash_with_outdated_parameters_is_replaced_conditionally_on_login() {
    let mut m = Mocks::new();
    successful_login(&mut m);
    let stored = alice().password_hash;
    let checked = stored.clone();
    m.hasher
        .expect_needs_rehash()
        .withf(move |h| *h == checked)
        .times(1)
        .returning(|_| true);
    let fresh = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$new$new".to_owned());
    let returned = fresh.clone();
    m.hasher
        .expect_hash()
        .withf(|p| *p == Password::parse(ALICE_PASSWORD).unwrap())
        .times(1)
        .return_once(move |_| Ok(returned));
    m.users
        .expect_replace_password_hash()
        .withf(move |id, old, new| *id == alice().id && *old == stored && *new == fresh)
        .times(1)
        .returning(|_, _, _| Ok(true));
    assert!(login(m).execute(&request("alice", ALICE_PASSWORD)).is_ok());
}

#[test]
fn a_current_hash_is_left_alone() {
    let mut m = Mocks::new();
    successful_login(&mut m);
    m.hasher.expect_needs_rehash().times(1).returning(|_| false);
    m.hasher.expect_hash().never();
    m.users.expect_replace_password_hash().never();
    assert!(login(m).execute(&request("alice", ALICE_PASSWORD)).is_ok());
}

#[test]
fn a_storage_outage_of_the_throttle_is_not_a_free_pass() {
    let mut m = Mocks::new();
    m.throttle
        .expect_blocked_until()
        .times(1)
        .returning(|_, _| Err(crate::common::unavailable()));
    forbid_checking(&mut m);
    m.forbid_events();
    let result = login(m).execute(&request("alice", ALICE_PASSWORD));
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}
