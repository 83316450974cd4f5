//! The DPoP replay cache: a proof is accepted once, by one of any number of racing writers,
//! and forgotten by the purge once it expired.

use super::*;

contract! {
    a_proof_is_remembered_once_per_key,
    racing_writers_of_one_proof_have_exactly_one_winner,
    expired_proofs_are_purged_and_live_ones_kept,
    a_family_keeps_the_key_it_is_bound_to,
}

fn jkt(c: char) -> Jkt {
    Jkt::parse(&c.to_string().repeat(43)).unwrap()
}

fn a_proof_is_remembered_once_per_key(t: &TestDatabase) {
    let cache = connect(t).dpop_replay_cache();
    let until = t0() + Duration::seconds(65);
    assert!(cache.remember(&jkt('a'), "jti-1", until).unwrap());
    assert!(
        !cache.remember(&jkt('a'), "jti-1", until).unwrap(),
        "replay"
    );
    assert!(
        !cache
            .remember(&jkt('a'), "jti-1", until + Duration::hours(1))
            .unwrap(),
        "a replay with another expiry is still a replay"
    );
    assert!(
        cache.remember(&jkt('b'), "jti-1", until).unwrap(),
        "another key"
    );
    assert!(
        cache.remember(&jkt('a'), "jti-2", until).unwrap(),
        "another jti"
    );
    // A second handle on the same database (another process) sees the same rows.
    let other = connect(t).dpop_replay_cache();
    assert!(!other.remember(&jkt('a'), "jti-2", until).unwrap());
}

fn racing_writers_of_one_proof_have_exactly_one_winner(t: &TestDatabase) {
    const POOLS: usize = 4;
    const PER_POOL: usize = 4;
    // Separate pools, like separate processes.
    let caches: Vec<_> = (0..POOLS).map(|_| connect(t).dpop_replay_cache()).collect();
    let barrier = Arc::new(Barrier::new(POOLS * PER_POOL));
    let handles: Vec<_> = caches
        .iter()
        .flat_map(|cache| (0..PER_POOL).map(move |_| cache.clone()))
        .map(|cache| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                cache.remember(&jkt('r'), "raced", t0() + Duration::seconds(65))
            })
        })
        .collect();
    let winners = handles
        .into_iter()
        .map(|h| h.join().unwrap().expect("no writer fails beside another"))
        .filter(|won| *won)
        .count();
    assert_eq!(winners, 1);
}

fn expired_proofs_are_purged_and_live_ones_kept(t: &TestDatabase) {
    let db = connect(t);
    let cache = db.dpop_replay_cache();
    let now = t0() + Duration::hours(1);
    assert!(cache
        .remember(&jkt('e'), "expired", now - Duration::seconds(1))
        .unwrap());
    assert!(cache
        .remember(&jkt('e'), "live", now + Duration::seconds(1))
        .unwrap());
    let policy = PurgePolicy {
        expired_before: now,
        revoked_before: now,
        failures_before: now,
        events_before: None,
        batch: 64,
    };

    assert_eq!(db.purge_preview(&policy).unwrap().dpop_proofs, 1);
    let report = db.purge(&policy).unwrap();

    assert_eq!(
        (report.dpop_proofs, report.families, report.tokens),
        (1, 0, 0)
    );
    assert!(
        !cache.remember(&jkt('e'), "live", now).unwrap(),
        "the live proof stays"
    );
    assert!(
        cache.remember(&jkt('e'), "expired", now).unwrap(),
        "the expired row is gone"
    );
    assert_eq!(db.purge(&policy).unwrap().dpop_proofs, 0);
}

fn a_family_keeps_the_key_it_is_bound_to(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let user = stored_user(&db);
    let (mut bound, first) = family(user.id);
    bound.jkt = Some(jkt('k'));
    store.create_family(&bound, &first).unwrap();
    let (mut login, login_first) = family(user.id);
    login.jkt = Some(jkt('l'));
    assert!(store
        .create_login_family(&login, &login_first, &user.password_hash, login.created_at)
        .unwrap());
    let (bearer, bearer_first) = family(user.id);
    store.create_family(&bearer, &bearer_first).unwrap();

    assert_eq!(store.find_family(bound.id).unwrap().unwrap(), bound);
    assert_eq!(family_of(&db, first.id).jkt, Some(jkt('k')));
    assert_eq!(family_of(&db, login_first.id).jkt, Some(jkt('l')));
    assert_eq!(family_of(&db, bearer_first.id).jkt, None);
}
