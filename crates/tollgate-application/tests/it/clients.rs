//! Client administration and client authentication (API.md §6) against mocked ports.

// Fixture helpers are not #[test] fns, but may panic like them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use mockall::predicate::eq;
use tollgate_application::{
    ClientAdmin, ClientAuthenticator, ClientCredentials, Error, RequestOrigin, SecurityEventKind,
};
use tollgate_domain::{Client, ClientId, DomainError, GrantType, SecretDigest};

use crate::common::{event_from, now, unavailable, Mocks};

const ID: &str = "web-app";
const SECRET: &str = "the-right-secret";
/// The bytes the id generator mock hands out as randomness.
const RANDOM: [u8; 32] = [0xA5; 32];

fn id() -> ClientId {
    ClientId::parse(ID).unwrap()
}

/// What the hasher mock answers for any secret: derived from its text, so tests see which
/// secret was digested.
fn digest_of(secret: &str) -> SecretDigest {
    let mut bytes = [0; 32];
    for (i, b) in secret.bytes().enumerate() {
        bytes[i % 32] ^= b;
    }
    bytes[31] = u8::try_from(secret.len() % 256).unwrap();
    SecretDigest::from_bytes(bytes)
}

fn both_grants() -> BTreeSet<GrantType> {
    BTreeSet::from(GrantType::ALL)
}

/// The configured client: its digest is that of [`SECRET`].
fn client() -> Client {
    Client {
        id: id(),
        secret_digest: digest_of(SECRET),
        allowed_grants: both_grants(),
        created_at: now(),
        introspect_any: false,
    }
}

/// The hasher mock behaves like a real one over [`digest_of`].
fn honest_hasher(m: &mut Mocks) {
    m.secrets
        .expect_digest()
        .returning(|s| digest_of(s.expose()));
    m.secrets
        .expect_matches()
        .returning(|s, stored| digest_of(s.expose()) == *stored);
}

/// The store answers lookups of [`ID`] with `found`, at most `times` times.
fn expect_lookup(m: &mut Mocks, found: Option<Client>, times: usize) {
    m.clients
        .expect_find()
        .with(eq(id()))
        .times(times)
        .returning(move |_| Ok(found.clone()));
}

/// Exactly one failed-authentication event naming `client_id`.
fn expect_failure_event(m: &mut Mocks, client_id: Option<ClientId>) {
    m.events
        .expect_record()
        .with(eq(event_from(
            RequestOrigin {
                client_id,
                address: None,
            },
            SecurityEventKind::ClientAuthenticationFailed,
        )))
        .times(1)
        .return_const(());
}

fn creds(id: Option<&str>, secret: Option<&str>) -> ClientCredentials {
    ClientCredentials {
        id: id.map(str::to_owned),
        secret: secret.map(str::to_owned),
        address: None,
    }
}

// ---------------------------------------------------------------------------------------------
// ClientAdmin

#[test]
fn adding_a_client_stores_only_the_digest_of_a_fresh_256_bit_secret() {
    let mut m = Mocks::new();
    m.ids.expect_secret_bytes().times(1).return_const(RANDOM);
    honest_hasher(&mut m);
    let expected_secret = URL_SAFE_NO_PAD.encode(RANDOM);
    let stored = Client {
        id: id(),
        secret_digest: digest_of(&expected_secret),
        allowed_grants: BTreeSet::from([GrantType::RefreshToken]),
        created_at: now(),
        introspect_any: false,
    };
    let expected = stored.clone();
    m.clients
        .expect_create()
        .withf(move |c| *c == expected)
        .times(1)
        .returning(|_| Ok(()));

    let created = ClientAdmin::new(m.ports().client_admin())
        .add(ID, BTreeSet::from([GrantType::RefreshToken]), false)
        .unwrap();

    assert_eq!(created.client, stored);
    assert_eq!(created.secret.expose(), expected_secret);
    // 256 bits as base64url without padding: 43 characters that decode back to the 32 bytes.
    assert_eq!(created.secret.expose().len(), 43);
    assert_eq!(
        URL_SAFE_NO_PAD.decode(created.secret.expose()).unwrap(),
        RANDOM
    );
    assert!(!format!("{created:?}").contains(&expected_secret));
}

#[test]
fn a_taken_client_id_is_conflict() {
    let mut m = Mocks::new();
    m.ids.expect_secret_bytes().return_const(RANDOM);
    honest_hasher(&mut m);
    m.clients
        .expect_create()
        .times(1)
        .returning(|_| Err(Error::Conflict("a client with this id exists")));
    let result = ClientAdmin::new(m.ports().client_admin()).add(ID, both_grants(), false);
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
}

#[test]
fn a_malformed_client_id_is_refused_before_anything_happens() {
    let mut m = Mocks::new();
    m.ids.expect_secret_bytes().never();
    m.clients.expect_create().never();
    m.clients.expect_remove().never();
    let admin = ClientAdmin::new(m.ports().client_admin());
    assert!(matches!(
        admin.add("has space", both_grants(), false),
        Err(Error::Invalid(DomainError::InvalidClientId))
    ));
    assert!(matches!(
        admin.remove(""),
        Err(Error::Invalid(DomainError::InvalidClientId))
    ));
}

#[test]
fn clients_are_listed_and_removed_through_the_store() {
    let mut m = Mocks::new();
    m.clients
        .expect_list()
        .times(1)
        .returning(|| Ok(vec![client()]));
    m.clients
        .expect_remove()
        .with(eq(id()))
        .times(2)
        .returning({
            let mut first = true;
            move |_| Ok(std::mem::replace(&mut first, false))
        });
    let admin = ClientAdmin::new(m.ports().client_admin());
    assert_eq!(admin.list().unwrap(), vec![client()]);
    assert!(admin.remove(ID).unwrap());
    assert!(
        !admin.remove(ID).unwrap(),
        "the second removal finds nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// ClientAuthenticator::authenticate

#[test]
fn the_right_secret_authenticates_the_client() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, Some(client()), 1);
    honest_hasher(&mut m);
    m.forbid_events();
    let got = ClientAuthenticator::new(m.ports().client_authenticator())
        .authenticate(ID, SECRET)
        .unwrap();
    assert_eq!(got, client());
}

#[test]
fn a_wrong_secret_is_invalid_client_and_reported() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, Some(client()), 1);
    honest_hasher(&mut m);
    expect_failure_event(&mut m, Some(id()));
    let result = ClientAuthenticator::new(m.ports().client_authenticator())
        .authenticate(ID, "a-wrong-secret");
    assert!(matches!(result, Err(Error::InvalidClient)), "{result:?}");
}

#[test]
fn an_unknown_client_is_invalid_client_and_reported() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, None, 1);
    m.secrets.expect_matches().never();
    expect_failure_event(&mut m, Some(id()));
    let result =
        ClientAuthenticator::new(m.ports().client_authenticator()).authenticate(ID, SECRET);
    assert!(matches!(result, Err(Error::InvalidClient)), "{result:?}");
}

#[test]
fn a_malformed_id_or_secret_never_reaches_the_store() {
    let mut m = Mocks::new();
    m.clients.expect_find().never();
    m.events.expect_record().times(2).return_const(());
    let auth = ClientAuthenticator::new(m.ports().client_authenticator());
    let too_long = "s".repeat(513);
    assert!(matches!(
        auth.authenticate("bad id", SECRET),
        Err(Error::InvalidClient)
    ));
    assert!(matches!(
        auth.authenticate(ID, &too_long),
        Err(Error::InvalidClient)
    ));
}

#[test]
fn a_storage_outage_is_not_an_authentication_failure() {
    let mut m = Mocks::new();
    m.clients
        .expect_find()
        .times(1)
        .returning(|_| Err(unavailable()));
    m.forbid_events();
    let result =
        ClientAuthenticator::new(m.ports().client_authenticator()).authenticate(ID, SECRET);
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// ClientAuthenticator::identify (API.md §6)

#[test]
fn no_credentials_are_anonymous_unless_a_client_is_required() {
    let mut m = Mocks::new();
    m.clients.expect_find().never();
    m.forbid_events();
    let auth = ClientAuthenticator::new(m.ports().client_authenticator());
    assert_eq!(auth.identify(&creds(None, None), false).unwrap(), None);
    assert!(matches!(
        auth.identify(&creds(None, None), true),
        Err(Error::InvalidClient)
    ));
}

#[test]
fn an_unknown_client_id_without_a_secret_is_ignored_when_clients_are_optional() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, None, 1);
    m.forbid_events();
    let auth = ClientAuthenticator::new(m.ports().client_authenticator());
    assert_eq!(auth.identify(&creds(Some(ID), None), false).unwrap(), None);
}

#[test]
fn a_malformed_client_id_without_a_secret_is_ignored_too() {
    let mut m = Mocks::new();
    m.clients.expect_find().never();
    m.forbid_events();
    let auth = ClientAuthenticator::new(m.ports().client_authenticator());
    assert_eq!(
        auth.identify(&creds(Some("a public client"), None), false)
            .unwrap(),
        None
    );
}

#[test]
fn a_failed_authentication_is_recorded_with_the_requests_address() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, Some(client()), 1);
    m.secrets.expect_matches().times(1).return_const(false);
    let address = "198.51.100.23".parse().unwrap();
    m.events
        .expect_record()
        .with(eq(event_from(
            RequestOrigin {
                client_id: Some(id()),
                address: Some(address),
            },
            SecurityEventKind::ClientAuthenticationFailed,
        )))
        .times(1)
        .return_const(());
    let presented = ClientCredentials {
        address: Some(address),
        ..creds(Some(ID), Some("a-wrong-secret"))
    };
    let result =
        ClientAuthenticator::new(m.ports().client_authenticator()).identify(&presented, false);
    assert!(matches!(result, Err(Error::InvalidClient)), "{result:?}");
}

#[test]
fn a_configured_client_id_without_a_secret_must_authenticate() {
    let mut m = Mocks::new();
    expect_lookup(&mut m, Some(client()), 1);
    expect_failure_event(&mut m, Some(id()));
    let result = ClientAuthenticator::new(m.ports().client_authenticator())
        .identify(&creds(Some(ID), None), false);
    assert!(matches!(result, Err(Error::InvalidClient)), "{result:?}");
}

#[test]
fn any_client_id_without_a_secret_is_refused_when_a_client_is_required() {
    let mut m = Mocks::new();
    m.clients.expect_find().never();
    expect_failure_event(&mut m, Some(id()));
    let result = ClientAuthenticator::new(m.ports().client_authenticator())
        .identify(&creds(Some(ID), None), true);
    assert!(matches!(result, Err(Error::InvalidClient)), "{result:?}");
}

#[test]
fn a_secret_without_a_client_id_is_refused() {
    let mut m = Mocks::new();
    m.clients.expect_find().never();
    expect_failure_event(&mut m, None);
    let result = ClientAuthenticator::new(m.ports().client_authenticator())
        .identify(&creds(None, Some(SECRET)), false);
    assert!(matches!(result, Err(Error::InvalidClient)), "{result:?}");
}

#[test]
fn any_client_secret_must_authenticate_even_when_clients_are_optional() {
    for (required, secret, ok) in [
        (false, SECRET, true),
        (true, SECRET, true),
        (false, "wrong", false),
        (true, "wrong", false),
    ] {
        let mut m = Mocks::new();
        expect_lookup(&mut m, Some(client()), 1);
        honest_hasher(&mut m);
        if ok {
            m.forbid_events();
        } else {
            expect_failure_event(&mut m, Some(id()));
        }
        let result = ClientAuthenticator::new(m.ports().client_authenticator())
            .identify(&creds(Some(ID), Some(secret)), required);
        if ok {
            assert_eq!(result.unwrap(), Some(client()));
        } else {
            assert!(matches!(result, Err(Error::InvalidClient)), "{result:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ClientAuthenticator::authorize_grant

#[test]
fn a_client_may_use_only_its_allowed_grants_and_anonymous_callers_any() {
    let m = Mocks::new();
    let auth = ClientAuthenticator::new(m.ports().client_authenticator());
    let refresh_only = Client {
        allowed_grants: BTreeSet::from([GrantType::RefreshToken]),
        ..client()
    };
    assert!(auth
        .authorize_grant(Some(&refresh_only), GrantType::RefreshToken)
        .is_ok());
    assert!(matches!(
        auth.authorize_grant(Some(&refresh_only), GrantType::Password),
        Err(Error::UnauthorizedClient)
    ));
    for grant in GrantType::ALL {
        assert!(auth.authorize_grant(None, grant).is_ok());
    }
}
