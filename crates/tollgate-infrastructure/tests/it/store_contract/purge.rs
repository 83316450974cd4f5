//! Purging dead families and spent, expired tokens.

use super::*;

contract! {
    purge_deletes_exactly_the_dead_families_and_spent_expired_tokens,
    a_purge_preview_counts_what_a_purge_deletes_and_deletes_nothing,
    purging_in_batches_of_one_deletes_the_same_rows,
    concurrent_purges_delete_every_dead_row_exactly_once,
    a_second_purge_finds_nothing,
    purge_deletes_login_failure_counters_that_can_no_longer_throttle,
}

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
        failures_before: now - Duration::days(1),
        batch: 64,
        events_before: None,
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
        events: 0,
        login_failures: 0,
        dpop_proofs: 0,
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
    // that ends each of the five steps that run (security events are kept here: no
    // `events_before`; the DPoP proofs step has nothing to delete).
    assert_eq!(
        report.batches,
        s.expected.families + 2 + 4 * 3 + 5,
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

    assert_eq!((again.families, again.tokens, again.batches), (0, 0, 5));
    assert_eq!(db.purge_preview(&s.policy).unwrap(), PurgeReport::default());
}

fn purge_deletes_login_failure_counters_that_can_no_longer_throttle(t: &TestDatabase) {
    let db = connect(t);
    let throttle = db.login_throttle();
    let now = t0() + Duration::days(30);
    let policy = ThrottlePolicy::default();
    let key = |name: &str| ThrottleKey::UserName(name.to_owned());
    let fail = |name: &str, times: u32, at: DateTime<Utc>, policy: &ThrottlePolicy| {
        for _ in 0..times {
            throttle.record_failure(&key(name), at, policy).unwrap();
        }
    };
    // Gone: last failure beyond `forget_after`, one free failure or a long-past block.
    fail("forgotten", 1, now - Duration::hours(25), &policy);
    fail("blocked-long-ago", 12, now - Duration::hours(25), &policy);
    // Kept: within `forget_after` (its count still matters), or blocked right now.
    fail("recent", 1, now - Duration::hours(23), &policy);
    fail("blocked-now", 12, now - Duration::minutes(1), &policy);
    // Kept: last failure before the cutoff but (under a policy allowing it) still blocking past
    // the cutoff: a counter never goes while it blocks.
    let day = Duration::days(1);
    let day_long = ThrottlePolicy {
        max_failures: 0,
        base_delay: day,
        max_delay: day,
        forget_after: day,
    };
    fail(
        "blocked-past-cutoff",
        1,
        now - Duration::hours(25),
        &day_long,
    );
    assert_eq!(count_rows(t, "login_failures"), 5);
    let purge = PurgePolicy {
        expired_before: now,
        revoked_before: now - Duration::days(7),
        failures_before: now - policy.forget_after,
        batch: 1,
        events_before: None,
    };

    assert_eq!(db.purge_preview(&purge).unwrap().login_failures, 2);
    let report = db.purge(&purge).unwrap();

    assert_eq!(report.login_failures, 2, "{report:?}");
    assert_eq!(count_rows(t, "login_failures"), 3);
    assert!(throttle
        .blocked_until(&[key("blocked-now")], now)
        .unwrap()
        .is_some());
    // The kept counters still count: one more recent failure is the second, still free.
    assert_eq!(
        throttle
            .record_failure(
                &key("recent"),
                now,
                &ThrottlePolicy {
                    max_failures: 2,
                    ..policy
                }
            )
            .unwrap(),
        None
    );
    assert_eq!(
        throttle
            .record_failure(
                &key("recent"),
                now,
                &ThrottlePolicy {
                    max_failures: 2,
                    ..policy
                }
            )
            .unwrap(),
        Some(now + Duration::seconds(1)),
        "the kept counter was not reset"
    );
    // A purged name starts again from zero, as it would have at its next failure anyway.
    assert_eq!(
        throttle
            .record_failure(&key("blocked-long-ago"), now, &policy)
            .unwrap(),
        None
    );
    assert_eq!(db.purge(&purge).unwrap().login_failures, 0);
}
