//! The database itself: stored types, migrations, concurrency and pool plumbing.

use super::*;

contract! {
    times_round_trip_with_microsecond_precision,
    migrations_go_up_down_and_up_again,
    racing_threads_rotate_a_token_exactly_once,
    simultaneous_startups_all_succeed_and_migrate_once,
    ping_answers_and_backend_matches,
    zero_pool_settings_are_raised_to_the_minimum,
    a_working_pool_hands_out_connections_unchecked,
}

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

fn a_working_pool_hands_out_connections_unchecked(t: &TestDatabase) {
    let db = connect(t);
    // Several threads at once, so that the pool opens several connections.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            thread::spawn(move || {
                for _ in 0..10 {
                    let (_, first) = stored_family(&db);
                    let next = successor(&first, t0());
                    let store = db.session_store();
                    assert!(store.find_token(first.id).unwrap().is_some());
                    assert_eq!(
                        store.rotate(first.id, t0(), &next).unwrap(),
                        RotateOutcome::Rotated
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for _ in 0..20 {
        db.ping().unwrap();
    }
    assert!(db.pool_stats().connections >= 1);
    assert_eq!(
        db.connection_checks(),
        0,
        "no round trip spent checking a connection while none was lost"
    );
}

fn zero_pool_settings_are_raised_to_the_minimum(t: &TestDatabase) {
    // r2d2 itself would panic on either zero; a setting must not be able to crash the server.
    let no_connections = PoolOptions {
        max_size: 0,
        connection_timeout: StdDuration::from_secs(30),
        statement_cache: t.statement_cache(),
        ..PoolOptions::default()
    };
    Database::connect(t.url(), &no_connections)
        .unwrap()
        .ping()
        .unwrap();
    let no_patience = PoolOptions {
        max_size: 4,
        connection_timeout: StdDuration::ZERO,
        statement_cache: t.statement_cache(),
        ..PoolOptions::default()
    };
    // One millisecond is often too short to open a connection: failing is fine, panicking not.
    match Database::connect(t.url(), &no_patience) {
        Ok(db) => db.ping().unwrap(),
        Err(e) => assert!(matches!(e, InfraError::Pool(_)), "{e:?}"),
    }
}
