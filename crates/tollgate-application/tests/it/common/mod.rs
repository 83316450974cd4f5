//! Fixtures shared by the use-case tests: one fixed instant, deterministic ids, a policy, a user,
//! a live session, and [`Mocks`], a bundle of port mocks that becomes a [`Ports`].
//!
//! Only the clock and the id generator answer freely: they have no side effects. Every other mock
//! starts without expectations, so any call a test did not ask for panics; each test states the
//! calls it expects, with their arguments and counts.

// Fixtures may panic like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tollgate_application::{
    Error, MockClientStore, MockClock, MockIdGenerator, MockLoginThrottle, MockPasswordHasher,
    MockPublicKeys, MockSecretHasher, MockSecurityEvents, MockSessionStore, MockTokenSigner,
    MockTokenVerifier, MockUserStore, Ports, RequestOrigin, SecurityEvent, SecurityEventKind,
};
use tollgate_domain::{
    whole_seconds, AccessClaims, AccessTokenId, Client, ClientId, Family, FamilyId, PasswordHash,
    RefreshClaims, RefreshTokenRecord, TokenId, TokenPolicy, User, UserId, UserName,
};
use uuid::Uuid;

/// The refresh token string the client presents (the verifier mock decides what it means).
pub const TOKEN: &str = "presented.refresh.jwt";
/// The PHC string the hasher mock stores for Alice.
pub const ALICE_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$fake$fake";
/// Alice's password.
pub const ALICE_PASSWORD: &str = "Password1";
/// The first UUID the id generator hands out; the next calls return 101, 102, ...
pub const FIRST_NEW_ID: u128 = 100;

/// The instant every test runs at: a fixed date with a sub-second part, so truncation shows.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::nanoseconds(123_456_789)
}

/// The `n`-th deterministic UUID.
pub fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// The `n`-th id the generator hands out during a test (0 = the first).
pub fn new_id(n: u128) -> Uuid {
    uuid(FIRST_NEW_ID + n)
}

pub fn user_id() -> UserId {
    UserId::from_uuid(uuid(1))
}

pub fn family_id() -> FamilyId {
    FamilyId::from_uuid(uuid(2))
}

/// The `token_id` of the presented refresh token.
pub fn presented_id() -> TokenId {
    TokenId::from_uuid(uuid(3))
}

/// The default lifetimes: access 15 min, refresh 24 h, long-lived 14 days, family 90 days.
pub fn policy() -> TokenPolicy {
    TokenPolicy {
        issuer: "https://tollgate.test".to_owned(),
        access_ttl: Duration::minutes(15),
        refresh_ttl: Duration::hours(24),
        refresh_long_ttl: Duration::days(14),
        family_max_lifetime: Duration::days(90),
        reuse_grace: Duration::zero(),
        leeway: Duration::seconds(30),
    }
}

pub fn alice_name() -> UserName {
    UserName::parse("alice").unwrap()
}

/// An enabled user.
pub fn alice() -> User {
    User {
        id: user_id(),
        name: alice_name(),
        password_hash: PasswordHash::new(ALICE_HASH.to_owned()),
        disabled: false,
        created_at: now() - Duration::days(400),
    }
}

/// A presented refresh token as the verifier decoded it, its stored record and its family.
#[derive(Debug, Clone)]
pub struct Session {
    pub claims: RefreshClaims,
    pub record: RefreshTokenRecord,
    pub family: Family,
}

/// Alice's ordinary (short-term) session, logged in 3 days ago; the presented token was issued an
/// hour ago by an earlier rotation, is unused and lives 23 more hours.
pub fn session() -> Session {
    let login = now() - Duration::days(3);
    let family = Family {
        id: family_id(),
        user_id: user_id(),
        created_at: login,
        expires_at: login + Duration::days(90),
        long_lived: false,
        revoked_at: None,
        revoke_reason: None,
        client_id: None,
        jkt: None,
    };
    let issued = now() - Duration::hours(1);
    let record = RefreshTokenRecord {
        id: presented_id(),
        family_id: family.id,
        parent_id: Some(TokenId::from_uuid(uuid(5))),
        access_token_id: AccessTokenId::from_uuid(uuid(4)),
        issued_at: issued,
        expires_at: issued + Duration::hours(24),
        used_at: None,
    };
    let claims = RefreshClaims {
        unique_name: "alice".to_owned(),
        token_id: record.id,
        short_term: true,
        sub: user_id(),
        issued_at: whole_seconds(record.issued_at),
        expires_at: whole_seconds(record.expires_at),
        issuer: policy().issuer,
    };
    Session {
        claims,
        record,
        family,
    }
}

/// A configured client's id (`"client-a"`, `"client-b"`, ...).
pub fn client_id(id: &str) -> ClientId {
    ClientId::parse(id).unwrap()
}

/// `s` with its family bound to the client `id`, as a login authenticated as that client
/// leaves it.
pub fn bound_to(mut s: Session, id: &str) -> Session {
    s.family.client_id = Some(client_id(id));
    s
}

/// An authenticated client `id`, allowed to introspect every client's tokens if `any`.
pub fn client(id: &str, introspect_any: bool) -> Client {
    Client {
        id: client_id(id),
        secret_digest: tollgate_domain::SecretDigest::from_bytes([0; 32]),
        allowed_grants: std::collections::BTreeSet::new(),
        created_at: now() - Duration::days(30),
        introspect_any,
    }
}

/// The access claims the use cases must sign for `record` of Alice's `family`.
pub fn access_claims_for(family: &Family, record: &RefreshTokenRecord) -> AccessClaims {
    let issued = whole_seconds(record.issued_at);
    AccessClaims {
        // A bound family's access tokens carry its key (RFC 9449 §6.1).
        cnf_jkt: family.jkt.clone(),
        unique_name: "alice".to_owned(),
        sub: user_id(),
        sid: family.id,
        jti: record.access_token_id,
        issued_at: issued,
        expires_at: issued + policy().access_ttl,
        issuer: policy().issuer,
    }
}

/// The refresh claims the use cases must sign for `record` of Alice's `family`.
pub fn refresh_claims_for(family: &Family, record: &RefreshTokenRecord) -> RefreshClaims {
    RefreshClaims {
        unique_name: "alice".to_owned(),
        token_id: record.id,
        short_term: !family.long_lived,
        sub: user_id(),
        issued_at: whole_seconds(record.issued_at),
        expires_at: whole_seconds(record.expires_at),
        issuer: policy().issuer,
    }
}

/// What the signer mock returns for an access token: derived from the claims, so a test can
/// tell which claims were signed.
pub fn signed_access(claims: &AccessClaims) -> String {
    format!("access:{}", claims.jti)
}

/// What the signer mock returns for a refresh token.
pub fn signed_refresh(claims: &RefreshClaims) -> String {
    format!("refresh:{}", claims.token_id)
}

/// A stand-in for a storage outage.
pub fn unavailable() -> Error {
    Error::Unavailable("connection refused".into())
}

/// Every port as a mock, plus a count of signatures made so far.
pub struct Mocks {
    pub clock: MockClock,
    pub ids: MockIdGenerator,
    pub users: MockUserStore,
    pub sessions: MockSessionStore,
    pub signer: MockTokenSigner,
    pub verifier: MockTokenVerifier,
    pub public_keys: MockPublicKeys,
    pub hasher: MockPasswordHasher,
    pub events: MockSecurityEvents,
    pub clients: MockClientStore,
    pub secrets: MockSecretHasher,
    pub throttle: MockLoginThrottle,
    /// How many tokens the signer mock has signed; lets a store expectation check that signing
    /// happened before it.
    pub signatures: Arc<AtomicUsize>,
}

impl Mocks {
    /// The clock reads [`now`], ids count up from [`FIRST_NEW_ID`]; nothing else is expected.
    pub fn new() -> Self {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let mut ids = MockIdGenerator::new();
        let mut next = FIRST_NEW_ID;
        ids.expect_new_uuid().returning(move || {
            next += 1;
            uuid(next - 1)
        });
        Self {
            clock,
            ids,
            users: MockUserStore::new(),
            sessions: MockSessionStore::new(),
            signer: MockTokenSigner::new(),
            verifier: MockTokenVerifier::new(),
            public_keys: MockPublicKeys::new(),
            hasher: MockPasswordHasher::new(),
            events: MockSecurityEvents::new(),
            clients: MockClientStore::new(),
            secrets: MockSecretHasher::new(),
            throttle: MockLoginThrottle::new(),
            signatures: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Expects exactly one access token and one refresh token to be signed, with exactly these
    /// claims; the signed strings are [`signed_access`] and [`signed_refresh`] of them.
    pub fn expect_signing(&mut self, access: AccessClaims, refresh: RefreshClaims) {
        let count = Arc::clone(&self.signatures);
        self.signer
            .expect_sign_access()
            .withf(move |c| *c == access)
            .times(1)
            .returning(move |c| {
                count.fetch_add(1, Ordering::SeqCst);
                Ok(signed_access(c))
            });
        let count = Arc::clone(&self.signatures);
        self.signer
            .expect_sign_refresh()
            .withf(move |c| *c == refresh)
            .times(1)
            .returning(move |c| {
                count.fetch_add(1, Ordering::SeqCst);
                Ok(signed_refresh(c))
            });
    }

    /// Forbids every write to the session store.
    pub fn forbid_session_writes(&mut self) {
        self.sessions.expect_create_family().never();
        self.sessions.expect_create_login_family().never();
        self.sessions.expect_rotate().never();
        self.sessions.expect_revoke_family().never();
        self.sessions.expect_revoke_user_families().never();
    }

    /// Forbids signing anything.
    pub fn forbid_signing(&mut self) {
        self.signer.expect_sign_access().never();
        self.signer.expect_sign_refresh().never();
    }

    /// Forbids recording any security event.
    pub fn forbid_events(&mut self) {
        self.events.expect_record().never();
    }

    /// Lets the throttle answer "not blocked" and count and reset freely, for tests about
    /// something else.
    pub fn allow_throttle(&mut self) {
        self.throttle
            .expect_blocked_until()
            .returning(|_, _| Ok(None));
        self.throttle
            .expect_record_failure()
            .returning(|_, _, _| Ok(None));
        self.throttle.expect_reset().returning(|_| Ok(()));
    }

    /// Moves the mocks into a [`Ports`].
    pub fn ports(self) -> Ports {
        Ports {
            clock: Arc::new(self.clock),
            ids: Arc::new(self.ids),
            users: Arc::new(self.users),
            sessions: Arc::new(self.sessions),
            signer: Arc::new(self.signer),
            verifier: Arc::new(self.verifier),
            public_keys: Arc::new(self.public_keys),
            hasher: Arc::new(self.hasher),
            events: Arc::new(self.events),
            clients: Arc::new(self.clients),
            secrets: Arc::new(self.secrets),
            throttle: Arc::new(self.throttle),
        }
    }
}

impl Default for Mocks {
    fn default() -> Self {
        Self::new()
    }
}

/// The event a use case records at [`now`] for a request from `origin`.
pub fn event_from(origin: RequestOrigin, kind: SecurityEventKind) -> SecurityEvent {
    SecurityEvent {
        at: now(),
        origin,
        kind,
    }
}

/// The event a use case records at [`now`] for a request of unknown origin (or a command).
pub fn event(kind: SecurityEventKind) -> SecurityEvent {
    event_from(RequestOrigin::default(), kind)
}
