//! The store contract, written once and run against every backend: each test is a plain
//! function of a `TestDatabase`, instantiated by `contract!` for SQLite, PostgreSQL (which skips,
//! saying so, when `TOLLGATE_TEST_POSTGRES_URL` is unset) and PostgreSQL through PgBouncer.
//! One module per area; the fixtures below are shared by all of them.
#![cfg(any(feature = "sqlite", feature = "postgres"))]
// The contract functions are not `#[test]`s themselves, so clippy's test allowance misses them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeSet;
use tollgate_application::{
    ClientStore, DpopReplayCache, Error, LoginThrottle, RotateOutcome, SessionStore, UserStore,
};

use tollgate_domain::{
    AccessTokenId, Client, ClientId, Family, FamilyId, GrantType, Jkt, PasswordHash,
    RefreshTokenRecord, RevokeReason, SecretDigest, ThrottleKey, ThrottlePolicy, TokenId, User,
    UserId, UserName,
};
use tollgate_infrastructure::db::{
    Backend, Database, PoolOptions, PurgePolicy, PurgeReport, SeedFamilies,
};
use tollgate_infrastructure::testing::TestDatabase;
use tollgate_infrastructure::InfraError;
use uuid::Uuid;

/// One store contract scenario per backend: SQLite, PostgreSQL, and PostgreSQL through PgBouncer
/// in transaction pooling mode (the last two skipped, saying so, when not configured/installed).
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        tollgate_infrastructure::per_backend! {
            [
                sqlite => Some(&super::TestDatabase::sqlite()),
                postgres => super::TestDatabase::postgres().as_ref(),
                pgbouncer => super::TestDatabase::postgres_via_pgbouncer().as_ref(),
            ]
            $($name),*
        }
    };
}

mod clients;
mod database;
mod dpop;
mod events;
mod purge;
mod sessions;
mod throttle;
mod users;

// ---------------------------------------------------------------------------------------------
// Fixtures

fn connect(t: &TestDatabase) -> Database {
    let options = PoolOptions {
        max_size: 4,
        connection_timeout: StdDuration::from_secs(30),
        statement_cache: t.statement_cache(),
        ..PoolOptions::default()
    };
    Database::connect(t.url(), &options).expect("connect to the test database")
}

/// An instant with a non-zero microsecond part, so precision loss would show.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::microseconds(123_456)
}

fn user(name: &str) -> User {
    User {
        id: UserId::from_uuid(Uuid::new_v4()),
        name: UserName::parse(name).unwrap(),
        password_hash: PasswordHash::new(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${name}")),
        disabled: false,
        created_at: t0(),
    }
}

/// A stored user, for tests about families.
fn stored_user(db: &Database) -> User {
    let u = user(&format!("user-{}", Uuid::new_v4()));
    db.user_store().create(&u).unwrap();
    u
}

fn family(user: UserId) -> (Family, RefreshTokenRecord) {
    let family = Family {
        id: FamilyId::from_uuid(Uuid::new_v4()),
        user_id: user,
        created_at: t0(),
        expires_at: t0() + Duration::days(90),
        long_lived: false,
        revoked_at: None,
        revoke_reason: None,
        client_id: None,
        jkt: None,
    };
    let first = RefreshTokenRecord {
        id: TokenId::from_uuid(Uuid::new_v4()),
        family_id: family.id,
        parent_id: None,
        access_token_id: AccessTokenId::from_uuid(Uuid::new_v4()),
        issued_at: t0(),
        expires_at: t0() + Duration::hours(24),
        used_at: None,
    };
    (family, first)
}

/// A stored family of a stored user.
fn stored_family(db: &Database) -> (Family, RefreshTokenRecord) {
    let (f, first) = family(stored_user(db).id);
    db.session_store().create_family(&f, &first).unwrap();
    (f, first)
}

fn successor(parent: &RefreshTokenRecord, at: DateTime<Utc>) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: TokenId::from_uuid(Uuid::new_v4()),
        family_id: parent.family_id,
        parent_id: Some(parent.id),
        access_token_id: AccessTokenId::from_uuid(Uuid::new_v4()),
        issued_at: at,
        expires_at: at + Duration::hours(24),
        used_at: None,
    }
}

/// How many migrations the backend's folder holds, so adding one needs no test edit.
fn migration_count(t: &TestDatabase) -> usize {
    let folder = match t.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("up.sql").is_file())
        .count()
}

fn token(db: &Database, id: TokenId) -> Option<RefreshTokenRecord> {
    db.session_store().find_token(id).unwrap().map(|(t, _)| t)
}

fn family_of(db: &Database, id: TokenId) -> Family {
    db.session_store().find_token(id).unwrap().unwrap().1
}
