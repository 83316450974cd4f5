//! Login throttling, and the login-vs-password-change race settled in the database.

use super::*;

contract! {
    login_failures_are_free_then_block_for_doubling_delays,
    a_block_covers_any_of_the_keys_asked_about,
    resetting_a_key_forgets_its_failures,
    failures_older_than_the_forget_window_start_over,
    racing_failures_each_count_once,
    a_password_hash_is_replaced_only_while_it_is_unchanged,
    a_login_family_is_stored_only_while_the_user_is_unchanged,
    an_external_users_login_family_is_refused_after_the_users_sessions_were_revoked,
    an_external_users_login_racing_a_revocation_never_keeps_a_live_family,
}

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
        .create_login_family(&f, &first, &u.password_hash, t0())
        .unwrap());
    assert_eq!(family_of(&db, first.id).id, f.id);

    // The password changed after the login verified the old one.
    let (f2, first2) = family(u.id);
    let old = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$old$old".to_owned());
    assert!(!sessions
        .create_login_family(&f2, &first2, &old, t0())
        .unwrap());
    assert_eq!(token(&db, first2.id), None);
    assert_eq!(sessions.find_family(f2.id).unwrap(), None);

    // Disabled, then deleted.
    db.user_store().set_disabled(u.id, true).unwrap();
    assert!(!sessions
        .create_login_family(&f2, &first2, &u.password_hash, t0())
        .unwrap());
    db.user_store().delete(u.id).unwrap();
    assert!(!sessions
        .create_login_family(&f2, &first2, &u.password_hash, t0())
        .unwrap());
    assert_eq!(token(&db, first2.id), None);
}

/// A user kept in a host's own table: no `users` row exists for it.
fn host_user() -> UserId {
    UserId::from_uuid(Uuid::new_v4())
}

fn an_external_users_login_family_is_refused_after_the_users_sessions_were_revoked(
    t: &TestDatabase,
) {
    let db = connect(t);
    let sessions = db.session_store_for_external_users();
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$host$host".to_owned());
    let user = host_user();
    let s = Duration::seconds;
    let login = |read_at: DateTime<Utc>| {
        let (f, first) = family(user);
        let stored = sessions
            .create_login_family(&f, &first, &hash, read_at)
            .unwrap();
        assert_eq!(sessions.find_family(f.id).unwrap().is_some(), stored);
        (stored, f.id)
    };

    // No revocation yet: stored, without any users row.
    let (stored, before) = login(t0());
    assert!(stored);
    // The host changed the password, then revoked: the family of before goes, and a login that
    // read the user before (or in the very instant of) the revocation stores nothing.
    assert_eq!(
        sessions
            .revoke_user_families(user, t0() + s(10), RevokeReason::PasswordChanged)
            .unwrap(),
        1
    );
    assert!(sessions.find_family(before).unwrap().unwrap().is_revoked());
    assert!(!login(t0() + s(5)).0);
    assert!(!login(t0() + s(10)).0);
    // A login that read the user after the revocation is the new state's: stored.
    assert!(login(t0() + s(11)).0);
    // A late revocation with an older instant does not lower the cut-off.
    sessions
        .revoke_user_families(user, t0() + s(1), RevokeReason::Admin)
        .unwrap();
    assert!(!login(t0() + s(9)).0);
    // Revoking through the plain session store raises the same cut-off.
    db.session_store()
        .revoke_user_families(user, t0() + s(20), RevokeReason::UserDisabled)
        .unwrap();
    assert!(!login(t0() + s(15)).0);
    // Other users are not affected.
    let (f, first) = family(host_user());
    assert!(sessions
        .create_login_family(&f, &first, &hash, t0())
        .unwrap());
}

fn an_external_users_login_racing_a_revocation_never_keeps_a_live_family(t: &TestDatabase) {
    const ROUNDS: usize = 20;
    let db = connect(t);
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$host$host".to_owned());
    for _ in 0..ROUNDS {
        let user = host_user();
        let barrier = Arc::new(Barrier::new(2));
        // The login read the user (with the old password) before the host's revocation.
        let read_at = t0();
        let (f, first) = family(user);
        let login = {
            let (sessions, barrier, hash) = (
                db.session_store_for_external_users(),
                Arc::clone(&barrier),
                hash.clone(),
            );
            let (f, first) = (f.clone(), first.clone());
            thread::spawn(move || {
                barrier.wait();
                sessions
                    .create_login_family(&f, &first, &hash, read_at)
                    .unwrap()
            })
        };
        let revoke = {
            let (sessions, barrier) = (db.session_store(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                sessions
                    .revoke_user_families(user, t0() + Duration::seconds(1), RevokeReason::Admin)
                    .unwrap()
            })
        };
        let stored = login.join().unwrap();
        let revoked = revoke.join().unwrap();
        let family = db.session_store().find_family(f.id).unwrap();
        match family {
            // Stored first: the revocation saw it.
            Some(family) => assert!(
                stored && revoked == 1 && family.is_revoked(),
                "a live family survived: {family:?}"
            ),
            None => assert!(!stored && revoked == 0),
        }
    }
}
