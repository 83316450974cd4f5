//! The store contract, written once and run against every backend: each test below is a plain
//! function of a `TestDatabase`, instantiated by `contract!` for SQLite and for PostgreSQL
//! (which skips, saying so, when `TOLLGATE_TEST_POSTGRES_URL` is unset).
#![cfg(any(feature = "sqlite", feature = "postgres"))]
// The contract functions are not `#[test]`s themselves, so clippy's test allowance misses them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeSet;
use tollgate_application::{
    ClientStore, Error, LoginThrottle, RotateOutcome, SessionStore, UserStore,
};

use tollgate_domain::{
    AccessTokenId, Client, ClientId, Family, FamilyId, GrantType, PasswordHash, RefreshTokenRecord,
    RevokeReason, SecretDigest, ThrottleKey, ThrottlePolicy, TokenId, User, UserId, UserName,
};
use tollgate_infrastructure::db::{
    Backend, Database, PoolOptions, PurgePolicy, PurgeReport, SeedFamilies,
};
use tollgate_infrastructure::testing::TestDatabase;
use tollgate_infrastructure::InfraError;
use uuid::Uuid;

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::TestDatabase::sqlite());
                }
            )*
        }

        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = super::TestDatabase::postgres() {
                        super::$name(&db);
                    }
                }
            )*
        }

        /// PostgreSQL through PgBouncer in transaction pooling mode (skipped, saying so, when
        /// `pgbouncer` is not installed).
        mod pgbouncer {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = super::TestDatabase::postgres_via_pgbouncer() {
                        super::$name(&db);
                    }
                }
            )*
        }
    };
}

contract! {
    a_created_user_is_found_by_name_and_by_id,
    users_are_listed_in_byte_order_of_their_names,
    a_taken_user_name_is_user_exists,
    unknown_users_are_none,
    disabling_and_changing_the_password_hash_are_stored,
    updating_an_unknown_user_is_user_not_found,
    deleting_a_user_removes_their_sessions_and_tokens,
    a_family_is_found_through_its_first_token,
    a_taken_family_id_is_conflict_and_stores_nothing,
    a_taken_token_id_is_conflict_and_stores_no_family,
    a_family_can_belong_to_a_user_tollgate_does_not_store,
    deleting_a_user_keeps_families_of_users_tollgate_does_not_store,
    an_unknown_token_is_none,
    a_family_is_found_by_id_and_unknown_ones_are_none,
    a_users_families_are_listed_newest_first_with_revoked_ones,
    a_successor_is_found_by_its_parent,
    a_token_can_have_only_one_successor,
    rotating_spends_the_token_and_stores_the_successor,
    rotating_a_spent_token_is_already_used_and_writes_nothing,
    rotating_in_a_revoked_family_is_family_revoked_and_writes_nothing,
    rotating_an_unknown_token_is_not_found_and_writes_nothing,
    rotating_onto_a_taken_successor_id_is_conflict_and_rolls_back,
    revoking_twice_keeps_the_first_reason_and_instant,
    revoking_an_unknown_family_is_false,
    revoking_a_users_families_counts_only_live_ones,
    times_round_trip_with_microsecond_precision,
    a_created_client_is_found_with_every_field,
    clients_are_listed_in_byte_order_of_their_ids,
    a_taken_client_id_is_conflict_and_keeps_the_first,
    an_unknown_client_is_none,
    removing_a_client_reports_whether_it_existed,
    client_grant_sets_round_trip,
    a_corrupt_client_row_is_unexpected_and_a_short_digest_is_refused,
    migrations_go_up_down_and_up_again,
    racing_threads_rotate_a_token_exactly_once,
    simultaneous_startups_all_succeed_and_migrate_once,
    ping_answers_and_backend_matches,
    zero_pool_settings_are_raised_to_the_minimum,
    purge_deletes_exactly_the_dead_families_and_spent_expired_tokens,
    a_purge_preview_counts_what_a_purge_deletes_and_deletes_nothing,
    purging_in_batches_of_one_deletes_the_same_rows,
    concurrent_purges_delete_every_dead_row_exactly_once,
    a_second_purge_finds_nothing,
    login_failures_are_free_then_block_for_doubling_delays,
    a_block_covers_any_of_the_keys_asked_about,
    resetting_a_key_forgets_its_failures,
    failures_older_than_the_forget_window_start_over,
    racing_failures_each_count_once,
    a_password_hash_is_replaced_only_while_it_is_unchanged,
    a_login_family_is_stored_only_while_the_user_is_unchanged,
}

// ---------------------------------------------------------------------------------------------
// Fixtures

fn connect(t: &TestDatabase) -> Database {
    let options = PoolOptions {
        max_size: 4,
        connection_timeout: StdDuration::from_secs(30),
        statement_cache: t.statement_cache(),
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

// ---------------------------------------------------------------------------------------------
// Users

fn a_created_user_is_found_by_name_and_by_id(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    let alice = user("alice");
    store.create(&alice).unwrap();

    assert_eq!(
        store.find_by_name(&alice.name).unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.find_by_id(alice.id).unwrap(), Some(alice));
}

fn users_are_listed_in_byte_order_of_their_names(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    for name in ["bob", "Ælfred", "alice", "Alice"] {
        store.create(&user(name)).unwrap();
    }

    let names: Vec<String> = store
        .list()
        .unwrap()
        .into_iter()
        .map(|u| u.name.as_str().to_owned())
        .collect();
    // Byte order on both backends, whatever the PostgreSQL database's collation.
    assert_eq!(names, ["Alice", "alice", "bob", "Ælfred"]);
}

fn a_taken_user_name_is_user_exists(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    store.create(&user("alice")).unwrap();

    assert!(matches!(
        store.create(&user("alice")),
        Err(Error::UserExists)
    ));
    // Names are exact: another case is another name.
    store.create(&user("ALICE")).unwrap();
    assert_eq!(store.list().unwrap().len(), 2);
}

fn unknown_users_are_none(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    store.create(&user("alice")).unwrap();

    let nobody = UserName::parse("nobody").unwrap();
    assert_eq!(store.find_by_name(&nobody).unwrap(), None);
    assert_eq!(
        store.find_by_id(UserId::from_uuid(Uuid::new_v4())).unwrap(),
        None
    );
}

fn disabling_and_changing_the_password_hash_are_stored(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    let alice = user("alice");
    let bob = user("bob");
    store.create(&alice).unwrap();
    store.create(&bob).unwrap();

    store.set_disabled(alice.id, true).unwrap();
    let new_hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$other$hash".into());
    store.set_password_hash(alice.id, &new_hash).unwrap();

    let stored = store.find_by_id(alice.id).unwrap().unwrap();
    assert!(stored.disabled);
    assert_eq!(stored.password_hash, new_hash);
    assert_eq!(
        store.find_by_id(bob.id).unwrap(),
        Some(bob),
        "only alice changes"
    );

    store.set_disabled(alice.id, false).unwrap();
    assert!(!store.find_by_id(alice.id).unwrap().unwrap().disabled);
}

fn updating_an_unknown_user_is_user_not_found(t: &TestDatabase) {
    let db = connect(t);
    let store = db.user_store();
    let ghost = UserId::from_uuid(Uuid::new_v4());

    assert!(matches!(
        store.set_disabled(ghost, true),
        Err(Error::UserNotFound)
    ));
    let hash = PasswordHash::new("x".into());
    assert!(matches!(
        store.set_password_hash(ghost, &hash),
        Err(Error::UserNotFound)
    ));
}

// ---------------------------------------------------------------------------------------------
// Families and tokens

fn a_family_is_found_through_its_first_token(t: &TestDatabase) {
    let db = connect(t);
    let (mut f, first) = family(stored_user(&db).id);
    f.long_lived = true;
    db.session_store().create_family(&f, &first).unwrap();

    assert_eq!(
        db.session_store().find_token(first.id).unwrap(),
        Some((first, f))
    );
}

fn a_taken_family_id_is_conflict_and_stores_nothing(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    let (_, mut other_first) = family(f.user_id);
    other_first.family_id = f.id;

    assert!(matches!(
        store.create_family(&f, &other_first),
        Err(Error::Conflict(_))
    ));
    assert_eq!(token(&db, other_first.id), None);
    assert_eq!(token(&db, first.id), Some(first));
}

fn a_taken_token_id_is_conflict_and_stores_no_family(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    let (other, mut other_first) = family(f.user_id);
    other_first.id = first.id;

    assert!(matches!(
        store.create_family(&other, &other_first),
        Err(Error::Conflict(_))
    ));
    // The family insert was rolled back with the token insert: revoking finds nothing.
    assert!(!store
        .revoke_family(other.id, t0(), RevokeReason::Admin)
        .unwrap());
    assert_eq!(family_of(&db, first.id), f);
}

fn a_family_can_belong_to_a_user_tollgate_does_not_store(t: &TestDatabase) {
    let db = connect(t);
    // A host with its own user table: the id is in no table Tollgate knows.
    let (f, first) = family(UserId::from_uuid(Uuid::new_v4()));

    db.session_store().create_family(&f, &first).unwrap();

    assert_eq!(family_of(&db, first.id), f);
    let at = t0() + Duration::minutes(1);
    let next = successor(&first, at);
    assert_eq!(
        db.session_store().rotate(first.id, at, &next).unwrap(),
        RotateOutcome::Rotated
    );
    assert_eq!(
        db.session_store().list_user_families(f.user_id).unwrap(),
        vec![f]
    );
}

fn deleting_a_user_keeps_families_of_users_tollgate_does_not_store(t: &TestDatabase) {
    let db = connect(t);
    let (f, first) = family(UserId::from_uuid(Uuid::new_v4()));
    db.session_store().create_family(&f, &first).unwrap();
    let (own, _) = stored_family(&db);

    // Deleting an id Tollgate does not store deletes nothing, not even that id's families.
    assert!(matches!(
        db.user_store().delete(f.user_id),
        Err(Error::UserNotFound)
    ));
    db.user_store().delete(own.user_id).unwrap();

    assert_eq!(family_of(&db, first.id), f);
    assert_eq!(db.session_store().find_family(own.id).unwrap(), None);
}

fn an_unknown_token_is_none(t: &TestDatabase) {
    let db = connect(t);
    stored_family(&db);

    assert_eq!(
        db.session_store()
            .find_token(TokenId::from_uuid(Uuid::new_v4()))
            .unwrap(),
        None
    );
}

fn deleting_a_user_removes_their_sessions_and_tokens(t: &TestDatabase) {
    let db = connect(t);
    let (users, sessions) = (db.user_store(), db.session_store());
    let (f, first) = stored_family(&db);
    let at = t0() + Duration::minutes(1);
    let next = successor(&first, at);
    sessions.rotate(first.id, at, &next).unwrap();
    let (other, other_first) = stored_family(&db);

    users.delete(f.user_id).unwrap();

    assert_eq!(users.find_by_id(f.user_id).unwrap(), None);
    assert_eq!(sessions.find_family(f.id).unwrap(), None);
    assert_eq!(sessions.find_token(first.id).unwrap(), None);
    assert_eq!(sessions.find_token(next.id).unwrap(), None);
    // Someone else's session is untouched.
    assert_eq!(family_of(&db, other_first.id), other);
    assert!(matches!(users.delete(f.user_id), Err(Error::UserNotFound)));
}

// ---------------------------------------------------------------------------------------------
// Lookups

fn a_family_is_found_by_id_and_unknown_ones_are_none(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, _) = stored_family(&db);
    assert_eq!(store.find_family(f.id).unwrap(), Some(f));
    let unknown = FamilyId::from_uuid(Uuid::new_v4());
    assert_eq!(store.find_family(unknown).unwrap(), None);
}

fn a_users_families_are_listed_newest_first_with_revoked_ones(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let owner = stored_user(&db);
    let mut created = Vec::new();
    for minutes in [0, 20, 10] {
        let (mut f, first) = family(owner.id);
        f.created_at = t0() + Duration::minutes(minutes);
        store.create_family(&f, &first).unwrap();
        created.push(f);
    }
    store
        .revoke_family(
            created[0].id,
            t0() + Duration::hours(1),
            RevokeReason::Logout,
        )
        .unwrap();
    // Someone else's family stays out of the list.
    stored_family(&db);

    let listed = store.list_user_families(owner.id).unwrap();
    let ids: Vec<FamilyId> = listed.iter().map(|f| f.id).collect();
    assert_eq!(ids, [created[1].id, created[2].id, created[0].id]);
    assert_eq!(listed[2].revoke_reason, Some(RevokeReason::Logout));
    assert!(store
        .list_user_families(UserId::from_uuid(Uuid::new_v4()))
        .unwrap()
        .is_empty());
}

fn a_successor_is_found_by_its_parent(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (_, first) = stored_family(&db);
    assert_eq!(store.find_successor(first.id).unwrap(), None);
    let at = t0() + Duration::minutes(1);
    let next = successor(&first, at);
    store.rotate(first.id, at, &next).unwrap();
    assert_eq!(store.find_successor(first.id).unwrap(), Some(next.clone()));
    assert_eq!(store.find_successor(next.id).unwrap(), None);
}

fn a_token_can_have_only_one_successor(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    let at = t0() + Duration::minutes(1);
    store.rotate(first.id, at, &successor(&first, at)).unwrap();
    // Even a second token naming the same parent, inserted through another path, is refused by
    // the database: the unique parent index backs the single-use rule.
    let (_, mut other_first) = family(f.user_id);
    other_first.parent_id = Some(first.id);
    let (mut other_family, _) = family(f.user_id);
    other_first.family_id = other_family.id;
    other_family.user_id = f.user_id;
    assert!(matches!(
        store.create_family(&other_family, &other_first),
        Err(Error::Conflict(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Rotation

fn rotating_spends_the_token_and_stores_the_successor(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    let at = t0() + Duration::minutes(10);
    let next = successor(&first, at);

    assert_eq!(
        store.rotate(first.id, at, &next).unwrap(),
        RotateOutcome::Rotated
    );

    let spent = token(&db, first.id).unwrap();
    assert_eq!(spent.used_at, Some(at));
    assert_eq!(store.find_token(next.id).unwrap(), Some((next.clone(), f)));

    // The successor rotates in turn.
    let later = at + Duration::minutes(10);
    assert_eq!(
        store
            .rotate(next.id, later, &successor(&next, later))
            .unwrap(),
        RotateOutcome::Rotated
    );
}

fn rotating_a_spent_token_is_already_used_and_writes_nothing(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (_, first) = stored_family(&db);
    let at = t0() + Duration::minutes(10);
    store.rotate(first.id, at, &successor(&first, at)).unwrap();

    let again = at + Duration::minutes(1);
    let second = successor(&first, again);
    assert_eq!(
        store.rotate(first.id, again, &second).unwrap(),
        RotateOutcome::AlreadyUsed
    );
    assert_eq!(token(&db, second.id), None);
    assert_eq!(
        token(&db, first.id).unwrap().used_at,
        Some(at),
        "first use is kept"
    );
}

fn rotating_in_a_revoked_family_is_family_revoked_and_writes_nothing(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    assert!(store
        .revoke_family(f.id, t0(), RevokeReason::Logout)
        .unwrap());

    let at = t0() + Duration::minutes(10);
    let next = successor(&first, at);
    assert_eq!(
        store.rotate(first.id, at, &next).unwrap(),
        RotateOutcome::FamilyRevoked
    );
    assert_eq!(token(&db, next.id), None);
    assert_eq!(token(&db, first.id).unwrap().used_at, None);

    // Revocation wins over reuse, as in the domain's `assess`.
    let (g, g_first) = stored_family(&db);
    store
        .rotate(g_first.id, at, &successor(&g_first, at))
        .unwrap();
    store.revoke_family(g.id, at, RevokeReason::Reuse).unwrap();
    assert_eq!(
        store
            .rotate(g_first.id, at, &successor(&g_first, at))
            .unwrap(),
        RotateOutcome::FamilyRevoked
    );
}

fn rotating_an_unknown_token_is_not_found_and_writes_nothing(t: &TestDatabase) {
    let db = connect(t);
    let (_, first) = stored_family(&db);
    let mut next = successor(&first, t0());
    let unknown = TokenId::from_uuid(Uuid::new_v4());
    next.parent_id = Some(unknown);

    assert_eq!(
        db.session_store().rotate(unknown, t0(), &next).unwrap(),
        RotateOutcome::NotFound
    );
    assert_eq!(token(&db, next.id), None);
}

fn rotating_onto_a_taken_successor_id_is_conflict_and_rolls_back(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (_, first) = stored_family(&db);
    let (_, other_first) = stored_family(&db);
    let mut next = successor(&first, t0());
    next.id = other_first.id;

    assert!(matches!(
        store.rotate(first.id, t0(), &next),
        Err(Error::Conflict(_))
    ));
    // The UPDATE that spent the token was rolled back with the failed insert.
    assert_eq!(token(&db, first.id).unwrap().used_at, None);
    assert_eq!(token(&db, other_first.id), Some(other_first));
}

// ---------------------------------------------------------------------------------------------
// Revocation

fn revoking_twice_keeps_the_first_reason_and_instant(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    let at = t0() + Duration::minutes(5);

    assert!(store.revoke_family(f.id, at, RevokeReason::Reuse).unwrap());
    assert!(!store
        .revoke_family(f.id, at + Duration::minutes(1), RevokeReason::Logout)
        .unwrap());

    let revoked = family_of(&db, first.id);
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(revoked.revoke_reason, Some(RevokeReason::Reuse));
}

fn revoking_an_unknown_family_is_false(t: &TestDatabase) {
    let db = connect(t);
    stored_family(&db);

    let unknown = FamilyId::from_uuid(Uuid::new_v4());
    assert!(!db
        .session_store()
        .revoke_family(unknown, t0(), RevokeReason::Admin)
        .unwrap());
}

fn revoking_a_users_families_counts_only_live_ones(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let owner = stored_user(&db);
    let tokens: Vec<RefreshTokenRecord> = (0..3)
        .map(|_| {
            let (f, first) = family(owner.id);
            store.create_family(&f, &first).unwrap();
            first
        })
        .collect();
    let (_, bystander) = stored_family(&db);
    let early = t0() + Duration::minutes(1);
    store
        .revoke_family(tokens[0].family_id, early, RevokeReason::Logout)
        .unwrap();

    let at = t0() + Duration::minutes(2);
    assert_eq!(
        store
            .revoke_user_families(owner.id, at, RevokeReason::PasswordChanged)
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .revoke_user_families(owner.id, at, RevokeReason::Admin)
            .unwrap(),
        0
    );

    let kept = family_of(&db, tokens[0].id);
    assert_eq!(
        (kept.revoked_at, kept.revoke_reason),
        (Some(early), Some(RevokeReason::Logout))
    );
    for first in &tokens[1..] {
        let f = family_of(&db, first.id);
        assert_eq!(
            (f.revoked_at, f.revoke_reason),
            (Some(at), Some(RevokeReason::PasswordChanged))
        );
    }
    assert!(
        !family_of(&db, bystander.id).is_revoked(),
        "other users are untouched"
    );
    let nobody = UserId::from_uuid(Uuid::new_v4());
    assert_eq!(
        store
            .revoke_user_families(nobody, at, RevokeReason::Admin)
            .unwrap(),
        0
    );
}

// ---------------------------------------------------------------------------------------------
// Types

fn times_round_trip_with_microsecond_precision(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let instants = [
        t0(),
        // Before the unix epoch (negative microseconds on SQLite) and before PostgreSQL's
        // 2000 epoch, with the last microsecond of a second.
        Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap() + Duration::microseconds(999_999),
        Utc.with_ymd_and_hms(2199, 1, 2, 3, 4, 5).unwrap() + Duration::microseconds(1),
    ];
    for at in instants {
        let mut owner = user(&format!("u-{}", Uuid::new_v4()));
        owner.created_at = at;
        db.user_store().create(&owner).unwrap();
        let (mut f, mut first) = family(owner.id);
        f.created_at = at;
        f.expires_at = at + Duration::microseconds(7);
        first.issued_at = at;
        first.expires_at = at + Duration::microseconds(3);
        store.create_family(&f, &first).unwrap();
        let used = at + Duration::microseconds(1);
        let next = successor(&first, used);
        store.rotate(first.id, used, &next).unwrap();
        let revoked = at + Duration::microseconds(2);
        store
            .revoke_family(f.id, revoked, RevokeReason::Revoked)
            .unwrap();

        assert_eq!(
            db.user_store()
                .find_by_id(owner.id)
                .unwrap()
                .unwrap()
                .created_at,
            at
        );
        let (stored, stored_family) = store.find_token(first.id).unwrap().unwrap();
        assert_eq!(
            (stored.issued_at, stored.expires_at, stored.used_at),
            (at, first.expires_at, Some(used))
        );
        assert_eq!(
            (stored_family.created_at, stored_family.expires_at),
            (at, f.expires_at)
        );
        assert_eq!(stored_family.revoked_at, Some(revoked));
    }

    // Finer than a microsecond is truncated (towards the past), identically on both backends.
    let (_, first) = stored_family(&db);
    let at = Utc.timestamp_opt(1_800_000_000, 123_456_789).unwrap();
    let next = successor(&first, at);
    store.rotate(first.id, at, &next).unwrap();
    let truncated = Utc.timestamp_opt(1_800_000_000, 123_456_000).unwrap();
    assert_eq!(token(&db, first.id).unwrap().used_at, Some(truncated));
    let before_epoch = Utc.timestamp_opt(-1, 999_999_999).unwrap();
    let (g, g_first) = stored_family(&db);
    store
        .revoke_family(g.id, before_epoch, RevokeReason::Admin)
        .unwrap();
    assert_eq!(
        family_of(&db, g_first.id).revoked_at,
        Some(Utc.timestamp_opt(-1, 999_999_000).unwrap())
    );
}

// ---------------------------------------------------------------------------------------------
// Clients

fn client(id: &str) -> Client {
    let mut digest = [0u8; 32];
    for (i, b) in id.bytes().enumerate() {
        digest[i % 32] ^= b;
    }
    // Every byte value the column must keep, including NUL and 0xFF.
    digest[0] = 0x00;
    digest[31] = 0xFF;
    Client {
        id: ClientId::parse(id).unwrap(),
        secret_digest: SecretDigest::from_bytes(digest),
        allowed_grants: BTreeSet::from(GrantType::ALL),
        created_at: t0(),
    }
}

fn client_id(id: &str) -> ClientId {
    ClientId::parse(id).unwrap()
}

fn a_created_client_is_found_with_every_field(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    let app = client("web-app");
    store.create(&app).unwrap();

    assert_eq!(store.find(&app.id).unwrap(), Some(app));
}

fn clients_are_listed_in_byte_order_of_their_ids(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    assert!(store.list().unwrap().is_empty());
    for id in ["b", "a:b", "B", "a"] {
        store.create(&client(id)).unwrap();
    }

    let ids: Vec<String> = store
        .list()
        .unwrap()
        .into_iter()
        .map(|c| c.id.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["B", "a", "a:b", "b"]);
}

fn a_taken_client_id_is_conflict_and_keeps_the_first(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    let first = client("app");
    store.create(&first).unwrap();
    let mut second = client("app");
    second.secret_digest = SecretDigest::from_bytes([9; 32]);

    assert!(matches!(store.create(&second), Err(Error::Conflict(_))));
    assert_eq!(store.find(&first.id).unwrap(), Some(first));
    // Ids are exact: another case is another client.
    store.create(&client("APP")).unwrap();
    assert_eq!(store.list().unwrap().len(), 2);
}

fn an_unknown_client_is_none(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    store.create(&client("app")).unwrap();

    assert_eq!(store.find(&client_id("other")).unwrap(), None);
    assert_eq!(store.find(&client_id("App")).unwrap(), None);
}

fn removing_a_client_reports_whether_it_existed(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    let gone = client("gone");
    let kept = client("kept");
    store.create(&gone).unwrap();
    store.create(&kept).unwrap();

    assert!(store.remove(&gone.id).unwrap());
    assert!(!store.remove(&gone.id).unwrap(), "already removed");
    assert!(!store.remove(&client_id("never-there")).unwrap());
    assert_eq!(store.find(&gone.id).unwrap(), None);
    assert_eq!(store.list().unwrap(), vec![kept]);
    // The id is free again.
    store.create(&gone).unwrap();
}

fn client_grant_sets_round_trip(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    let sets = [
        BTreeSet::new(),
        BTreeSet::from([GrantType::Password]),
        BTreeSet::from([GrantType::RefreshToken]),
        BTreeSet::from(GrantType::ALL),
    ];
    for (i, grants) in sets.into_iter().enumerate() {
        let mut c = client(&format!("client-{i}"));
        c.allowed_grants = grants;
        // Sub-second precision survives too.
        c.created_at = t0() + Duration::microseconds(i64::try_from(i).unwrap());
        store.create(&c).unwrap();
        assert_eq!(store.find(&c.id).unwrap(), Some(c));
    }
}

/// Runs one statement on a connection of its own, bypassing the stores.
fn execute_raw(t: &TestDatabase, sql: &str) -> diesel::QueryResult<usize> {
    use diesel::{Connection, RunQueryDsl};
    match t.backend() {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => diesel::sql_query(sql)
            .execute(&mut diesel::SqliteConnection::establish(t.url()).unwrap()),
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            diesel::sql_query(sql).execute(&mut diesel::PgConnection::establish(t.url()).unwrap())
        }
        #[allow(unreachable_patterns)]
        other => panic!("{other:?} is not compiled in"),
    }
}

fn a_corrupt_client_row_is_unexpected_and_a_short_digest_is_refused(t: &TestDatabase) {
    let db = connect(t);
    let store = db.client_store();
    let (digest, short, now) = match t.backend() {
        Backend::Sqlite => ("zeroblob(32)", "zeroblob(31)", "0"),
        Backend::Postgres => (
            "decode(repeat('00', 32), 'hex')",
            "decode(repeat('00', 31), 'hex')",
            "now()",
        ),
    };
    // A grant this version does not know, as a newer version or a hand edit might leave.
    execute_raw(
        t,
        &format!("INSERT INTO clients VALUES ('future', {digest}, 'password device_code', {now})"),
    )
    .unwrap();
    assert!(matches!(
        store.find(&client_id("future")),
        Err(Error::Unexpected(_))
    ));
    assert!(matches!(store.list(), Err(Error::Unexpected(_))));
    // The schema itself refuses a digest that is not 32 bytes.
    assert!(execute_raw(
        t,
        &format!("INSERT INTO clients VALUES ('short', {short}, 'password', {now})"),
    )
    .is_err());
}

// ---------------------------------------------------------------------------------------------
// Migrations, concurrency, plumbing

fn migrations_go_up_down_and_up_again(t: &TestDatabase) {
    let db = connect(t);
    let applied = db.applied_migrations().unwrap();
    assert_eq!(applied.len(), migration_count(t), "{applied:?}");
    assert_eq!(db.run_pending_migrations().unwrap(), Vec::<String>::new());
    let (_, first) = stored_family(&db);

    let reverted = db.revert_all_migrations().unwrap();
    assert_eq!(reverted, applied, "reverted newest first");
    assert_eq!(db.applied_migrations().unwrap(), Vec::<String>::new());
    assert!(
        db.session_store().find_token(first.id).is_err(),
        "tables are gone"
    );

    let mut reapplied = db.run_pending_migrations().unwrap();
    reapplied.reverse();
    assert_eq!(reapplied, applied);
    assert_eq!(token(&db, first.id), None, "data went with the tables");
    stored_family(&db);

    // A fresh connect finds nothing pending.
    let again = connect(t);
    assert_eq!(again.applied_migrations().unwrap(), applied);
}

fn racing_threads_rotate_a_token_exactly_once(t: &TestDatabase) {
    const RACERS: usize = 16;
    let db = connect(t);
    let (_, first) = stored_family(&db);
    // One pool per racer, each with a ready connection, like separate server processes: nothing
    // in this process can serialise them, only the database.
    let racers: Vec<Database> = (0..RACERS)
        .map(|_| {
            let db = connect(t);
            db.ping().unwrap();
            db
        })
        .collect();
    let barrier = Arc::new(Barrier::new(RACERS));
    let at = t0() + Duration::minutes(1);

    let handles: Vec<_> = racers
        .into_iter()
        .map(|racer| {
            let barrier = Arc::clone(&barrier);
            let first = first.clone();
            thread::spawn(move || {
                let next = successor(&first, at);
                let store = racer.session_store();
                barrier.wait();
                (store.rotate(first.id, at, &next).unwrap(), next.id)
            })
        })
        .collect();
    let results: Vec<(RotateOutcome, TokenId)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();

    let winners: Vec<TokenId> = results
        .iter()
        .filter(|(o, _)| *o == RotateOutcome::Rotated)
        .map(|(_, id)| *id)
        .collect();
    let losers = results
        .iter()
        .filter(|(o, _)| *o == RotateOutcome::AlreadyUsed)
        .count();
    assert_eq!((winners.len(), losers), (1, RACERS - 1), "{results:?}");
    let stored: Vec<TokenId> = results
        .iter()
        .filter(|(_, id)| token(&db, *id).is_some())
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(stored, winners, "exactly the winner's successor is stored");
}

fn simultaneous_startups_all_succeed_and_migrate_once(t: &TestDatabase) {
    const PROCESSES: usize = 4;
    let barrier = Arc::new(Barrier::new(PROCESSES));
    let url = t.url().to_owned();
    let options = PoolOptions {
        statement_cache: t.statement_cache(),
        ..PoolOptions::default()
    };
    let handles: Vec<_> = (0..PROCESSES)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let (url, options) = (url.clone(), options.clone());
            thread::spawn(move || {
                barrier.wait();
                Database::connect(&url, &options)
            })
        })
        .collect();
    for h in handles {
        let db = h.join().unwrap().expect("every start-up succeeds");
        assert_eq!(db.applied_migrations().unwrap().len(), migration_count(t));
    }
}

fn ping_answers_and_backend_matches(t: &TestDatabase) {
    let db = connect(t);
    db.ping().unwrap();
    assert_eq!(db.backend(), t.backend());
    assert!(format!("{db:?}").contains("backend"));
}

fn zero_pool_settings_are_raised_to_the_minimum(t: &TestDatabase) {
    // r2d2 itself would panic on either zero; a setting must not be able to crash the server.
    let no_connections = PoolOptions {
        max_size: 0,
        connection_timeout: StdDuration::from_secs(30),
        statement_cache: t.statement_cache(),
    };
    Database::connect(t.url(), &no_connections)
        .unwrap()
        .ping()
        .unwrap();
    let no_patience = PoolOptions {
        max_size: 4,
        connection_timeout: StdDuration::ZERO,
        statement_cache: t.statement_cache(),
    };
    // One millisecond is often too short to open a connection: failing is fine, panicking not.
    match Database::connect(t.url(), &no_patience) {
        Ok(db) => db.ping().unwrap(),
        Err(e) => assert!(matches!(e, InfraError::Pool(_)), "{e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Purge

/// Rows in `table`, counted on a connection of its own.
fn count_rows(t: &TestDatabase, table: &str) -> u64 {
    use diesel::{Connection, QueryableByName, RunQueryDsl};

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let sql = format!("SELECT count(*) AS n FROM {table}");
    let n = match t.backend() {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => diesel::sql_query(sql)
            .get_result::<Count>(&mut diesel::SqliteConnection::establish(t.url()).unwrap()),
        #[cfg(feature = "postgres")]
        Backend::Postgres => diesel::sql_query(sql)
            .get_result::<Count>(&mut diesel::PgConnection::establish(t.url()).unwrap()),
        #[allow(unreachable_patterns)]
        other => panic!("{other:?} is not compiled in"),
    }
    .unwrap()
    .n;
    u64::try_from(n).unwrap()
}

/// One family stored through the port: a first token expiring at `first_expires`, then (when
/// given) a successor expiring at `next_expires`, then revoked at `revoked`.
fn family_shaped(
    db: &Database,
    user: UserId,
    first_expires: DateTime<Utc>,
    next_expires: Option<DateTime<Utc>>,
    revoked: Option<DateTime<Utc>>,
) -> (FamilyId, Vec<TokenId>) {
    let store = db.session_store();
    let (f, mut first) = family(user);
    first.expires_at = first_expires;
    store.create_family(&f, &first).unwrap();
    let mut tokens = vec![first.id];
    if let Some(expires) = next_expires {
        let mut next = successor(&first, t0() + Duration::minutes(1));
        next.expires_at = expires;
        assert_eq!(
            store.rotate(first.id, next.issued_at, &next).unwrap(),
            RotateOutcome::Rotated
        );
        tokens.push(next.id);
    }
    if let Some(at) = revoked {
        assert!(store.revoke_family(f.id, at, RevokeReason::Admin).unwrap());
    }
    (f.id, tokens)
}

/// A database holding dead and live families of every shape, and what a purge must do to it.
struct PurgeScenario {
    policy: PurgePolicy,
    expected: PurgeReport,
    kept_families: Vec<FamilyId>,
    gone_families: Vec<FamilyId>,
    kept_tokens: Vec<TokenId>,
    gone_tokens: Vec<TokenId>,
}

/// `seeded` bulk families of each kind (5 tokens each: 4 spent, 1 live) beside one family of
/// every hand-made shape.
fn purge_scenario(db: &Database, seeded: u32) -> PurgeScenario {
    let now = t0() + Duration::days(30);
    let policy = PurgePolicy {
        expired_before: now,
        revoked_before: now - Duration::days(7),
        batch: 64,
    };
    let user = stored_user(db).id;
    let later = now + Duration::hours(1);
    let earlier = now - Duration::hours(1);
    let mut s = PurgeScenario {
        policy,
        expected: PurgeReport::default(),
        kept_families: vec![],
        gone_families: vec![],
        kept_tokens: vec![],
        gone_tokens: vec![],
    };

    // Kept: a live family with an unexpired token.
    let (f, tokens) = family_shaped(db, user, later, None, None);
    s.kept_families.push(f);
    s.kept_tokens.extend(tokens);
    // Kept: a live chain whose spent first token expired; that token alone goes.
    let (f, tokens) = family_shaped(db, user, earlier, Some(later), None);
    s.kept_families.push(f);
    s.gone_tokens.push(tokens[0]);
    s.kept_tokens.push(tokens[1]);
    // Kept: the live token expired but a spent one has not, so not *every* token expired.
    let (f, tokens) = family_shaped(db, user, later, Some(earlier), None);
    s.kept_families.push(f);
    s.kept_tokens.extend(tokens);
    // Kept: revoked within `keep_revoked`, tokens unexpired (its reuse is still recognised).
    let (f, tokens) = family_shaped(db, user, later, None, Some(now - Duration::days(6)));
    s.kept_families.push(f);
    s.kept_tokens.extend(tokens);
    // Gone: the only token expired.
    let (f, tokens) = family_shaped(db, user, earlier, None, None);
    s.gone_families.push(f);
    s.gone_tokens.extend(tokens);
    // Gone: a chain whose every token expired.
    let (f, tokens) = family_shaped(db, user, earlier, Some(earlier), None);
    s.gone_families.push(f);
    s.gone_tokens.extend(tokens);
    // Gone: revoked longer than `keep_revoked` ago, though its tokens are unexpired.
    let (f, tokens) = family_shaped(db, user, later, Some(later), Some(now - Duration::days(8)));
    s.gone_families.push(f);
    s.gone_tokens.extend(tokens);
    // Gone: revoked recently, but every token expired.
    let (f, tokens) = family_shaped(db, user, earlier, None, Some(now - Duration::days(1)));
    s.gone_families.push(f);
    s.gone_tokens.extend(tokens);

    let bulk = |tokens_expire_at, revoked_at| {
        db.seed_families(&SeedFamilies {
            user,
            families: seeded,
            tokens_per_family: 5,
            created_at: t0(),
            tokens_expire_at,
            family_expires_at: t0() + Duration::days(90),
            revoked_at,
        })
        .unwrap()
    };
    let live = bulk(later, None);
    let expired = bulk(earlier, None);
    let old_revoked = bulk(later, Some(now - Duration::days(8)));
    let new_revoked = bulk(later, Some(now - Duration::days(1)));
    for i in [0, seeded / 2, seeded - 1] {
        for kept in [live, new_revoked] {
            s.kept_families.push(kept.family_id(i));
            s.kept_tokens
                .extend([kept.token_id(i, 0), kept.token_id(i, 4)]);
        }
        for gone in [expired, old_revoked] {
            s.gone_families.push(gone.family_id(i));
            s.gone_tokens
                .extend([gone.token_id(i, 0), gone.token_id(i, 4)]);
        }
    }
    s.expected = PurgeReport {
        families: 4 + 2 * u64::from(seeded),
        // One spent expired token of a kept chain, 1 + 2 + 2 + 1 tokens of the hand-made dead
        // families, 5 per dead bulk family.
        tokens: 1 + 6 + 2 * 5 * u64::from(seeded),
        batches: 0,
    };
    s
}

fn assert_purged(db: &Database, s: &PurgeScenario) {
    let store = db.session_store();
    for f in &s.kept_families {
        assert!(store.find_family(*f).unwrap().is_some(), "{f} was purged");
    }
    for f in &s.gone_families {
        assert!(
            store.find_family(*f).unwrap().is_none(),
            "{f} is still there"
        );
    }
    for id in &s.kept_tokens {
        assert!(token(db, *id).is_some(), "token {id} was purged");
    }
    for id in &s.gone_tokens {
        assert!(token(db, *id).is_none(), "token {id} is still there");
    }
}

fn purge_deletes_exactly_the_dead_families_and_spent_expired_tokens(t: &TestDatabase) {
    let db = connect(t);
    // 4 × 1,000 bulk families of 5 tokens: 20,000 seeded token rows.
    let s = purge_scenario(&db, 1000);
    let (families, tokens) = (
        count_rows(t, "token_families"),
        count_rows(t, "refresh_tokens"),
    );
    assert!(tokens >= 20_000, "{tokens}");

    let report = db.purge(&s.policy).unwrap();

    assert_eq!(
        (report.families, report.tokens),
        (s.expected.families, s.expected.tokens)
    );
    assert_purged(&db, &s);
    assert_eq!(count_rows(t, "token_families"), families - report.families);
    assert_eq!(count_rows(t, "refresh_tokens"), tokens - report.tokens);
    // A batch is at most `batch` rows: 2,004 families and 4,001 spent tokens take many.
    assert!(report.batches >= (2004 + 4001) / 64, "{report:?}");
}

fn a_purge_preview_counts_what_a_purge_deletes_and_deletes_nothing(t: &TestDatabase) {
    let db = connect(t);
    let s = purge_scenario(&db, 50);
    let (families, tokens) = (
        count_rows(t, "token_families"),
        count_rows(t, "refresh_tokens"),
    );

    let preview = db.purge_preview(&s.policy).unwrap();

    assert_eq!(
        preview,
        PurgeReport {
            batches: 0,
            ..s.expected
        }
    );
    assert_eq!(
        (
            count_rows(t, "token_families"),
            count_rows(t, "refresh_tokens")
        ),
        (families, tokens),
        "a preview deletes nothing"
    );
    let report = db.purge(&s.policy).unwrap();
    assert_eq!(
        (report.families, report.tokens),
        (preview.families, preview.tokens)
    );
}

fn purging_in_batches_of_one_deletes_the_same_rows(t: &TestDatabase) {
    let db = connect(t);
    let mut s = purge_scenario(&db, 3);
    s.policy.batch = 1;

    let report = db.purge(&s.policy).unwrap();

    assert_eq!(
        (report.families, report.tokens),
        (s.expected.families, s.expected.tokens)
    );
    // One row per batch (10 families, 2 + 4 × 3 spent expired tokens), plus the empty batch
    // that ends each of the three steps.
    assert_eq!(
        report.batches,
        s.expected.families + 2 + 4 * 3 + 3,
        "{report:?}"
    );
    assert_purged(&db, &s);
}

fn concurrent_purges_delete_every_dead_row_exactly_once(t: &TestDatabase) {
    const PURGERS: usize = 4;
    let db = connect(t);
    let s = purge_scenario(&db, 500);
    // Separate pools, like separate processes.
    let purgers: Vec<Database> = (0..PURGERS).map(|_| connect(t)).collect();
    let barrier = Arc::new(Barrier::new(PURGERS));
    let handles: Vec<_> = purgers
        .into_iter()
        .map(|purger| {
            let barrier = Arc::clone(&barrier);
            let policy = PurgePolicy {
                batch: 16,
                ..s.policy
            };
            thread::spawn(move || {
                barrier.wait();
                purger.purge(&policy)
            })
        })
        .collect();
    let reports: Vec<PurgeReport> = handles
        .into_iter()
        .map(|h| h.join().unwrap().expect("no purge fails beside another"))
        .collect();

    let families: u64 = reports.iter().map(|r| r.families).sum();
    let tokens: u64 = reports.iter().map(|r| r.tokens).sum();
    assert_eq!(
        (families, tokens),
        (s.expected.families, s.expected.tokens),
        "{reports:?}"
    );
    assert_purged(&db, &s);
}

fn a_second_purge_finds_nothing(t: &TestDatabase) {
    let db = connect(t);
    let s = purge_scenario(&db, 10);
    db.purge(&s.policy).unwrap();

    let again = db.purge(&s.policy).unwrap();

    assert_eq!((again.families, again.tokens, again.batches), (0, 0, 3));
    assert_eq!(db.purge_preview(&s.policy).unwrap(), PurgeReport::default());
}

// ---------------------------------------------------------------------------------------------
// Login throttling

fn two_free() -> ThrottlePolicy {
    ThrottlePolicy {
        max_failures: 2,
        ..ThrottlePolicy::default()
    }
}

fn name_key(name: &str) -> ThrottleKey {
    ThrottleKey::UserName(name.to_owned())
}

fn login_failures_are_free_then_block_for_doubling_delays(t: &TestDatabase) {
    let throttle = connect(t).login_throttle();
    let key = name_key("alice");
    let mut results = Vec::new();
    for i in 0..5 {
        let at = t0() + Duration::seconds(i);
        results.push(
            throttle
                .record_failure(&key, at, &two_free())
                .unwrap()
                .map(|u| u - at),
        );
    }
    let s = Duration::seconds;
    assert_eq!(results, [None, None, Some(s(1)), Some(s(2)), Some(s(4))]);
    let last = t0() + s(4);
    assert_eq!(
        throttle
            .blocked_until(std::slice::from_ref(&key), last)
            .unwrap(),
        Some(last + s(4))
    );
    // Blocks end: once past, the key is not blocked (its count stays).
    assert_eq!(
        throttle
            .blocked_until(std::slice::from_ref(&key), last + s(4))
            .unwrap(),
        None
    );
    assert_eq!(
        throttle.blocked_until(&[name_key("Alice")], last).unwrap(),
        None,
        "names are keys exactly as sent"
    );
}

fn a_block_covers_any_of_the_keys_asked_about(t: &TestDatabase) {
    let throttle = connect(t).login_throttle();
    let address = ThrottleKey::address("198.51.100.7".parse().unwrap());
    let policy = ThrottlePolicy {
        max_failures: 0,
        ..ThrottlePolicy::default()
    };
    let until = throttle.record_failure(&address, t0(), &policy).unwrap();
    assert_eq!(until, Some(t0() + Duration::seconds(1)));
    let keys = [name_key("someone-else"), address.clone()];
    assert_eq!(throttle.blocked_until(&keys, t0()).unwrap(), until);
    assert_eq!(throttle.blocked_until(&keys[..1], t0()).unwrap(), None);
    assert_eq!(throttle.blocked_until(&[], t0()).unwrap(), None);
}

fn resetting_a_key_forgets_its_failures(t: &TestDatabase) {
    let throttle = connect(t).login_throttle();
    let key = name_key("bob");
    for _ in 0..3 {
        throttle.record_failure(&key, t0(), &two_free()).unwrap();
    }
    assert!(throttle
        .blocked_until(std::slice::from_ref(&key), t0())
        .unwrap()
        .is_some());
    throttle.reset(&key).unwrap();
    throttle.reset(&name_key("never-seen")).unwrap();
    assert_eq!(
        throttle
            .blocked_until(std::slice::from_ref(&key), t0())
            .unwrap(),
        None
    );
    assert_eq!(
        throttle.record_failure(&key, t0(), &two_free()).unwrap(),
        None
    );
}

fn failures_older_than_the_forget_window_start_over(t: &TestDatabase) {
    let throttle = connect(t).login_throttle();
    let key = name_key("carol");
    for _ in 0..4 {
        throttle.record_failure(&key, t0(), &two_free()).unwrap();
    }
    let later = t0() + two_free().forget_after + Duration::seconds(1);
    assert_eq!(
        throttle.record_failure(&key, later, &two_free()).unwrap(),
        None
    );
    assert_eq!(
        throttle.record_failure(&key, later, &two_free()).unwrap(),
        None
    );
    assert_eq!(
        throttle.record_failure(&key, later, &two_free()).unwrap(),
        Some(later + Duration::seconds(1))
    );
}

fn racing_failures_each_count_once(t: &TestDatabase) {
    let db = connect(t);
    let policy = ThrottlePolicy {
        max_failures: 0,
        max_delay: Duration::hours(1),
        ..ThrottlePolicy::default()
    };
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (throttle, barrier) = (db.login_throttle(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                throttle
                    .record_failure(&name_key("dave"), t0(), &policy)
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // The ninth failure: 2^8 seconds, so exactly eight were counted before it.
    assert_eq!(
        db.login_throttle()
            .record_failure(&name_key("dave"), t0(), &policy)
            .unwrap(),
        Some(t0() + Duration::seconds(256))
    );
}

fn a_password_hash_is_replaced_only_while_it_is_unchanged(t: &TestDatabase) {
    let users = connect(t).user_store();
    let u = stored_user(&connect(t));
    let rehashed = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$new$new".to_owned());
    assert!(users
        .replace_password_hash(u.id, &u.password_hash, &rehashed)
        .unwrap());
    assert_eq!(
        users.find_by_id(u.id).unwrap().unwrap().password_hash,
        rehashed
    );
    // The old hash is no longer stored: a late rehash of the old password changes nothing.
    let late = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$late$late".to_owned());
    assert!(!users
        .replace_password_hash(u.id, &u.password_hash, &late)
        .unwrap());
    assert_eq!(
        users.find_by_id(u.id).unwrap().unwrap().password_hash,
        rehashed
    );
    let nobody = UserId::from_uuid(Uuid::new_v4());
    assert!(!users
        .replace_password_hash(nobody, &rehashed, &late)
        .unwrap());
}

fn a_login_family_is_stored_only_while_the_user_is_unchanged(t: &TestDatabase) {
    let db = connect(t);
    let sessions = db.session_store();
    let u = stored_user(&db);
    let (f, first) = family(u.id);
    assert!(sessions
        .create_login_family(&f, &first, &u.password_hash)
        .unwrap());
    assert_eq!(family_of(&db, first.id).id, f.id);

    // The password changed after the login verified the old one.
    let (f2, first2) = family(u.id);
    let old = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$old$old".to_owned());
    assert!(!sessions.create_login_family(&f2, &first2, &old).unwrap());
    assert_eq!(token(&db, first2.id), None);
    assert_eq!(sessions.find_family(f2.id).unwrap(), None);

    // Disabled, then deleted.
    db.user_store().set_disabled(u.id, true).unwrap();
    assert!(!sessions
        .create_login_family(&f2, &first2, &u.password_hash)
        .unwrap());
    db.user_store().delete(u.id).unwrap();
    assert!(!sessions
        .create_login_family(&f2, &first2, &u.password_hash)
        .unwrap());
    assert_eq!(token(&db, first2.id), None);
}
