//! The password grant against mocked ports: a new family on success, one indistinct refusal and
//! the same hashing work on every failure.

// Fixture helpers are not #[test] fns, but may panic like them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use mockall::predicate::eq;
use tollgate_application::{
    Error, Login, LoginFailure, LoginRequest, RequestOrigin, SecurityEventKind, TokenPair,
};
use tollgate_domain::{
    AccessClaims, AccessTokenId, ClientId, Family, FamilyId, Password, PasswordHash, RefreshClaims,
    RefreshTokenRecord, TokenId, User, UserId, UserName,
};

use crate::common::{
    access_claims_for, alice, alice_name, client_id, event, event_from, new_id, now, policy,
    refresh_claims_for, unavailable, user_id, Mocks, ALICE_HASH, ALICE_PASSWORD,
};

fn login(mut mocks: Mocks) -> Login {
    // Throttling has its own tests (login_throttle.rs).
    mocks.allow_throttle();
    // Rehashing has its own tests (login_throttle.rs); here every stored hash is current.
    mocks.hasher.expect_needs_rehash().returning(|_| false);
    Login::new(mocks.ports().login(), Arc::new(policy()))
}

fn request(user_name: &str, password: &str, long_lived: bool) -> LoginRequest {
    LoginRequest {
        user_name: user_name.to_owned(),
        password: Password::parse(password).unwrap(),
        long_lived,
        client_address: None,
        client_id: None,
    }
}

/// The user store answers the lookup of `name` once.
fn expect_lookup(m: &mut Mocks, name: UserName, user: Option<User>) {
    m.users
        .expect_find_by_name()
        .with(eq(name))
        .times(1)
        .return_once(move |_| Ok(user));
}

/// The hasher is asked once to check `password` against `hash` (`None`: the dummy-hash path).
fn expect_password_check(m: &mut Mocks, password: &str, hash: Option<&str>, matches: bool) {
    let password = Password::parse(password).unwrap();
    let hash = hash.map(|h| PasswordHash::new(h.to_owned()));
    m.hasher
        .expect_verify()
        .withf(move |p, h| *p == password && h.cloned() == hash)
        .times(1)
        .returning(move |_, _| Ok(matches));
}

/// A refused login: one `LoginFailed` naming what was tried, whose it was and why, no session,
/// no tokens.
fn expect_refusal(
    m: &mut Mocks,
    user_name: Option<UserName>,
    user_id: Option<UserId>,
    failure: LoginFailure,
) {
    m.events
        .expect_record()
        .with(eq(event(SecurityEventKind::LoginFailed {
            user_id,
            user_name,
            failure,
        })))
        .times(1)
        .return_const(());
    m.sessions.expect_create_login_family().never();
    m.forbid_signing();
}

/// The family and first record a successful login at [`now`] must create, with the generator's
/// first three ids (family, token, access token).
fn new_session(long_lived: bool, refresh_ttl: Duration) -> (Family, RefreshTokenRecord) {
    let family = Family {
        id: FamilyId::from_uuid(new_id(0)),
        user_id: user_id(),
        created_at: now(),
        expires_at: now() + Duration::days(90),
        long_lived,
        revoked_at: None,
        revoke_reason: None,
        client_id: None,
        jkt: None,
    };
    let record = RefreshTokenRecord {
        id: TokenId::from_uuid(new_id(1)),
        family_id: family.id,
        parent_id: None,
        access_token_id: AccessTokenId::from_uuid(new_id(2)),
        issued_at: now(),
        expires_at: now() + refresh_ttl,
        used_at: None,
    };
    (family, record)
}

/// Exactly one `create_login_family` with exactly this family and record, conditional on
/// Alice's verified hash.
fn expect_create_family(m: &mut Mocks, family: &Family, record: &RefreshTokenRecord) {
    let (family, record) = (family.clone(), record.clone());
    let verified = PasswordHash::new(ALICE_HASH.to_owned());
    m.sessions
        .expect_create_login_family()
        .withf(move |f, r, h, at| *f == family && *r == record && *h == verified && *at == now())
        .times(1)
        .returning(|_, _, _, _| Ok(true));
}

fn assert_invalid_credentials(result: Result<TokenPair, Error>) {
    assert!(
        matches!(result, Err(Error::InvalidCredentials)),
        "got {result:?}"
    );
}

#[test]
fn a_correct_password_starts_exactly_one_new_family() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(alice()));
    expect_password_check(&mut m, ALICE_PASSWORD, Some(ALICE_HASH), true);
    let (family, record) = new_session(false, Duration::hours(24));
    // JWT times are the login instant truncated to whole seconds.
    let iat = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    m.expect_signing(
        AccessClaims {
            cnf_jkt: None,
            unique_name: "alice".to_owned(),
            sub: user_id(),
            sid: family.id,
            jti: record.access_token_id,
            issued_at: iat,
            expires_at: iat + Duration::minutes(15),
            issuer: "https://tollgate.test".to_owned(),
        },
        RefreshClaims {
            unique_name: "alice".to_owned(),
            token_id: record.id,
            short_term: true,
            sub: user_id(),
            issued_at: iat,
            expires_at: iat + Duration::hours(24),
            issuer: "https://tollgate.test".to_owned(),
        },
    );
    expect_create_family(&mut m, &family, &record);
    m.forbid_events();

    let pair = login(m)
        .execute(&request("alice", ALICE_PASSWORD, false))
        .unwrap();

    assert_eq!(
        pair.access_token,
        format!("access:{}", record.access_token_id)
    );
    assert_eq!(pair.refresh_token, format!("refresh:{}", record.id));
    assert_eq!(pair.access_expires_at, now() + Duration::minutes(15));
    assert_eq!(pair.refresh_expires_at, now() + Duration::hours(24));
    assert_eq!(pair.expires_in, 900);
}

#[test]
fn a_login_asking_for_a_long_lived_token_starts_a_long_lived_family() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(alice()));
    expect_password_check(&mut m, ALICE_PASSWORD, Some(ALICE_HASH), true);
    let (family, record) = new_session(true, Duration::days(14));
    let mut refresh_claims = refresh_claims_for(&family, &record);
    refresh_claims.short_term = false;
    m.expect_signing(access_claims_for(&family, &record), refresh_claims);
    expect_create_family(&mut m, &family, &record);
    m.forbid_events();

    let pair = login(m)
        .execute(&request("alice", ALICE_PASSWORD, true))
        .unwrap();

    assert_eq!(pair.refresh_expires_at, now() + Duration::days(14));
}

#[test]
fn a_login_by_an_authenticated_client_binds_the_family_to_it() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(alice()));
    expect_password_check(&mut m, ALICE_PASSWORD, Some(ALICE_HASH), true);
    let (mut family, record) = new_session(false, Duration::hours(24));
    family.client_id = Some(client_id("client-a"));
    m.expect_signing(
        access_claims_for(&family, &record),
        refresh_claims_for(&family, &record),
    );
    // `new_session` leaves the family unbound; only the bound one is expected here.
    expect_create_family(&mut m, &family, &record);
    m.forbid_events();

    let mut bound = request("alice", ALICE_PASSWORD, false);
    bound.client_id = Some(client_id("client-a"));
    login(m).execute(&bound).unwrap();
}

#[test]
fn login_signs_the_pair_before_storing_the_family() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(alice()));
    expect_password_check(&mut m, ALICE_PASSWORD, Some(ALICE_HASH), true);
    let (family, record) = new_session(false, Duration::hours(24));
    m.expect_signing(
        access_claims_for(&family, &record),
        refresh_claims_for(&family, &record),
    );
    let signatures = Arc::clone(&m.signatures);
    m.sessions
        .expect_create_login_family()
        .times(1)
        .returning(move |_, _, _, _| {
            assert_eq!(
                signatures.load(Ordering::SeqCst),
                2,
                "both tokens must be signed before the family is stored"
            );
            Ok(true)
        });

    login(m)
        .execute(&request("alice", ALICE_PASSWORD, false))
        .unwrap();
}

#[test]
fn a_signing_failure_leaves_no_family_behind() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(alice()));
    expect_password_check(&mut m, ALICE_PASSWORD, Some(ALICE_HASH), true);
    m.signer
        .expect_sign_access()
        .times(..=1)
        .returning(|_| Err(Error::unexpected("signing key unreadable")));
    m.signer
        .expect_sign_refresh()
        .times(..=1)
        .returning(|_| Err(Error::unexpected("signing key unreadable")));
    m.sessions.expect_create_login_family().never();
    m.forbid_events();

    let result = login(m).execute(&request("alice", ALICE_PASSWORD, false));

    assert!(
        matches!(result, Err(Error::Unexpected(_))),
        "got {result:?}"
    );
}

#[test]
fn a_failed_family_insert_returns_no_tokens() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(alice()));
    expect_password_check(&mut m, ALICE_PASSWORD, Some(ALICE_HASH), true);
    let (family, record) = new_session(false, Duration::hours(24));
    m.expect_signing(
        access_claims_for(&family, &record),
        refresh_claims_for(&family, &record),
    );
    m.sessions
        .expect_create_login_family()
        .times(1)
        .returning(|_, _, _, _| Err(unavailable()));
    m.forbid_events();

    let result = login(m).execute(&request("alice", ALICE_PASSWORD, false));

    assert!(
        matches!(result, Err(Error::Unavailable(_))),
        "got {result:?}"
    );
}

#[test]
fn a_failed_login_is_recorded_with_the_client_and_address_it_came_from() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(alice()));
    expect_password_check(&mut m, "wrong password", Some(ALICE_HASH), false);
    let origin = RequestOrigin {
        client_id: Some(ClientId::parse("web-app").unwrap()),
        address: Some("203.0.113.5".parse().unwrap()),
    };
    m.events
        .expect_record()
        .with(eq(event_from(
            origin.clone(),
            SecurityEventKind::LoginFailed {
                user_id: Some(user_id()),
                user_name: Some(alice_name()),
                failure: LoginFailure::WrongPassword,
            },
        )))
        .times(1)
        .return_const(());
    m.sessions.expect_create_login_family().never();
    let request = LoginRequest {
        client_id: origin.client_id,
        client_address: origin.address,
        ..request("alice", "wrong password", false)
    };
    assert_invalid_credentials(login(m).execute(&request));
}

#[test]
fn a_wrong_password_is_refused_as_invalid_credentials() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(alice()));
    expect_password_check(&mut m, "wrong password", Some(ALICE_HASH), false);
    expect_refusal(
        &mut m,
        Some(alice_name()),
        Some(user_id()),
        LoginFailure::WrongPassword,
    );

    assert_invalid_credentials(login(m).execute(&request("alice", "wrong password", false)));
}

#[test]
fn an_unknown_user_is_refused_after_the_same_hashing_work() {
    let bob = UserName::parse("bob").unwrap();
    let mut m = Mocks::new();
    expect_lookup(&mut m, bob.clone(), None);
    expect_password_check(&mut m, ALICE_PASSWORD, None, false);
    expect_refusal(&mut m, Some(bob), None, LoginFailure::UnknownUser);

    assert_invalid_credentials(login(m).execute(&request("bob", ALICE_PASSWORD, false)));
}

#[test]
fn a_disabled_user_is_refused_even_with_the_right_password() {
    let mut disabled = alice();
    disabled.disabled = true;
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(disabled));
    expect_password_check(&mut m, ALICE_PASSWORD, Some(ALICE_HASH), true);
    expect_refusal(
        &mut m,
        Some(alice_name()),
        Some(user_id()),
        LoginFailure::UserDisabled,
    );

    assert_invalid_credentials(login(m).execute(&request("alice", ALICE_PASSWORD, false)));
}

#[test]
fn an_empty_user_name_is_refused_after_the_same_hashing_work() {
    let mut m = Mocks::new();
    m.users.expect_find_by_name().never();
    expect_password_check(&mut m, ALICE_PASSWORD, None, false);
    expect_refusal(&mut m, None, None, LoginFailure::InvalidName);

    assert_invalid_credentials(login(m).execute(&request("", ALICE_PASSWORD, false)));
}

#[test]
fn a_user_name_with_control_characters_is_refused_after_the_same_hashing_work() {
    let mut m = Mocks::new();
    m.users.expect_find_by_name().never();
    expect_password_check(&mut m, ALICE_PASSWORD, None, false);
    expect_refusal(&mut m, None, None, LoginFailure::InvalidName);

    assert_invalid_credentials(login(m).execute(&request("alice\n", ALICE_PASSWORD, false)));
}

#[test]
fn an_overlong_user_name_is_refused_after_the_same_hashing_work() {
    let mut m = Mocks::new();
    m.users.expect_find_by_name().never();
    expect_password_check(&mut m, ALICE_PASSWORD, None, false);
    expect_refusal(&mut m, None, None, LoginFailure::InvalidName);

    let name = "a".repeat(UserName::MAX_CHARS + 1);
    assert_invalid_credentials(login(m).execute(&request(&name, ALICE_PASSWORD, false)));
}

#[test]
fn a_storage_outage_while_looking_up_the_user_propagates() {
    let mut m = Mocks::new();
    m.users
        .expect_find_by_name()
        .with(eq(alice_name()))
        .times(1)
        .returning(|_| Err(unavailable()));
    // Whether the hasher still runs when storage is down is not pinned down here.
    m.hasher
        .expect_verify()
        .times(..=1)
        .returning(|_, _| Ok(false));
    m.sessions.expect_create_login_family().never();
    m.forbid_signing();
    m.forbid_events();

    let result = login(m).execute(&request("alice", ALICE_PASSWORD, false));

    assert!(
        matches!(result, Err(Error::Unavailable(_))),
        "got {result:?}"
    );
}

#[test]
fn a_login_whose_user_changed_meanwhile_is_refused() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(alice()));
    expect_password_check(&mut m, ALICE_PASSWORD, Some(ALICE_HASH), true);
    m.signer
        .expect_sign_access()
        .returning(|_| Ok("a".to_owned()));
    m.signer
        .expect_sign_refresh()
        .returning(|_| Ok("r".to_owned()));
    // The store finds the user's hash changed (or the user disabled or deleted).
    m.sessions
        .expect_create_login_family()
        .times(1)
        .returning(|_, _, _, _| Ok(false));
    m.hasher.expect_hash().never();
    let result = login(m).execute(&request("alice", ALICE_PASSWORD, false));
    assert_invalid_credentials(result);
}

#[test]
fn a_login_with_a_dpop_key_starts_a_family_bound_to_it() {
    let jkt = tollgate_domain::Jkt::parse(&"k".repeat(43)).unwrap();
    let mut m = Mocks::new();
    expect_lookup(&mut m, alice_name(), Some(alice()));
    expect_password_check(&mut m, ALICE_PASSWORD, Some(ALICE_HASH), true);
    let (mut family, record) = new_session(false, Duration::hours(24));
    family.jkt = Some(jkt.clone());
    m.expect_signing(
        access_claims_for(&family, &record),
        refresh_claims_for(&family, &record),
    );
    expect_create_family(&mut m, &family, &record);
    m.forbid_events();

    let pair = login(m)
        .execute_bound(&request("alice", ALICE_PASSWORD, false), Some(jkt.clone()))
        .unwrap();

    assert_eq!(pair.dpop_jkt, Some(jkt));
}
