//! Load measurements of the storage layer, ignored by default (they take minutes and print
//! figures rather than assert timings). Run one with, e.g.:
//!
//! ```text
//! cargo test --release -p tollgate-infrastructure --test it -- --ignored --nocapture store_load::purge_million_sqlite
//! ```
//!
//! A "refresh" here is what the refresh use case asks of storage: `find_token`, then `rotate`
//! onto a fresh successor, in a chain (each rotation spends the previous successor).
#![cfg(any(feature = "sqlite", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use tollgate_application::{Clock, RotateOutcome, SessionStore, UserStore};
use tollgate_domain::{
    AccessTokenId, Family, FamilyId, PasswordHash, RefreshTokenRecord, TokenId, User, UserId,
    UserName,
};
use tollgate_infrastructure::db::{Database, PoolOptions, PurgePolicy, SeedFamilies};
use tollgate_infrastructure::testing::TestDatabase;
use tollgate_infrastructure::SystemClock;
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    SystemClock.now()
}

fn connect(t: &TestDatabase, size: u32) -> Database {
    Database::connect(
        t.url(),
        &PoolOptions {
            max_size: size,
            connection_timeout: StdDuration::from_secs(60),
            ..PoolOptions::default()
        },
    )
    .unwrap()
}

fn stored_user(db: &Database) -> UserId {
    let id = UserId::from_uuid(Uuid::new_v4());
    db.user_store()
        .create(&User {
            id,
            name: UserName::parse(&format!("load-{}", Uuid::new_v4().simple())).unwrap(),
            password_hash: PasswordHash::new("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into()),
            disabled: false,
            created_at: now(),
        })
        .unwrap();
    id
}

fn token(
    family: FamilyId,
    parent: Option<TokenId>,
    at: DateTime<Utc>,
    ttl: Duration,
) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: TokenId::from_uuid(Uuid::new_v4()),
        family_id: family,
        parent_id: parent,
        access_token_id: AccessTokenId::from_uuid(Uuid::new_v4()),
        issued_at: at,
        expires_at: at + ttl,
        used_at: None,
    }
}

/// A fresh family; returns its first token.
fn login(db: &Database, user: UserId, ttl: Duration) -> RefreshTokenRecord {
    let at = now();
    let family = Family {
        id: FamilyId::from_uuid(Uuid::new_v4()),
        user_id: user,
        created_at: at,
        expires_at: at + Duration::days(90),
        long_lived: false,
        revoked_at: None,
        revoke_reason: None,
        client_id: None,
        jkt: None,
    };
    let first = token(family.id, None, at, ttl);
    db.session_store().create_family(&family, &first).unwrap();
    first
}

/// One refresh's storage work; returns the successor, or `None` when the token is gone (a chain
/// that stalled past its token's lifetime and was purged, as a client would after a long sleep).
fn refresh(
    db: &Database,
    current: &RefreshTokenRecord,
    ttl: Duration,
) -> Result<Option<RefreshTokenRecord>, tollgate_application::Error> {
    let store = db.session_store();
    let Some((found, _)) = store.find_token(current.id)? else {
        return Ok(None);
    };
    let at = now();
    let next = token(found.family_id, Some(found.id), at, ttl);
    match store.rotate(found.id, at, &next)? {
        RotateOutcome::Rotated => Ok(Some(next)),
        RotateOutcome::NotFound => Ok(None),
        other => panic!("a lone chain's rotation was {other:?}"),
    }
}

/// `threads` chains refreshing until `stop`, or `per_thread` refreshes each; latencies in µs.
fn chains(
    db: &Database,
    user: UserId,
    threads: usize,
    per_thread: Option<u64>,
    stop: &Arc<AtomicBool>,
    ttl: Duration,
    done: &Arc<AtomicU64>,
) -> Vec<thread::JoinHandle<Vec<u64>>> {
    (0..threads)
        .map(|_| {
            let db = db.clone();
            let stop = Arc::clone(stop);
            let done = Arc::clone(done);
            thread::spawn(move || {
                let mut current = login(&db, user, ttl);
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed)
                    && per_thread.is_none_or(|n| (latencies.len() as u64) < n)
                {
                    let started = Instant::now();
                    current = match refresh(&db, &current, ttl) {
                        Ok(Some(next)) => next,
                        Ok(None) => login(&db, user, ttl),
                        // A server answers 503 here (a writer waited out the busy timeout);
                        // the client retries with the same token.
                        Err(tollgate_application::Error::Unavailable(e)) => {
                            eprintln!("unavailable: {e}");
                            continue;
                        }
                        Err(e) => panic!("refresh failed: {e}"),
                    };
                    latencies.push(u64::try_from(started.elapsed().as_micros()).unwrap());
                    done.fetch_add(1, Ordering::Relaxed);
                }
                latencies
            })
        })
        .collect()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

fn summary(mut latencies: Vec<u64>) -> String {
    latencies.sort_unstable();
    format!(
        "n={} p50={}µs p99={}µs max={}µs",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0)
    )
}

fn join_all(handles: Vec<thread::JoinHandle<Vec<u64>>>) -> Vec<u64> {
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

/// Seeds 1,000,000 token rows (125,000 expired and 125,000 live families of 4 tokens), measures
/// refresh latency with 4 chains for `window`, then again while a purge (batch 500) runs.
fn purge_million(t: &TestDatabase) {
    let db = connect(t, 8);
    let user = stored_user(&db);
    let seeded_at = now() - Duration::days(2);
    let seed = |tokens_expire_at| {
        let started = Instant::now();
        db.seed_families(&SeedFamilies {
            user,
            families: 125_000,
            tokens_per_family: 4,
            created_at: seeded_at,
            tokens_expire_at,
            family_expires_at: seeded_at + Duration::days(90),
            revoked_at: None,
        })
        .unwrap();
        eprintln!("seeded 500,000 token rows in {:?}", started.elapsed());
    };
    seed(seeded_at + Duration::days(1));
    seed(now() + Duration::days(1));

    let ttl = Duration::hours(1);
    let window = StdDuration::from_secs(5);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let before = chains(&db, user, 4, None, &stop, ttl, &done);
    thread::sleep(window);
    stop.store(true, Ordering::Relaxed);
    eprintln!("refresh before the purge: {}", summary(join_all(before)));

    let stop = Arc::new(AtomicBool::new(false));
    let during = chains(&db, user, 4, None, &stop, ttl, &done);
    let started = Instant::now();
    let report = db
        .purge(&PurgePolicy {
            expired_before: now(),
            revoked_before: now() - Duration::days(7),
            failures_before: now() - Duration::days(1),
            batch: 500,
            events_before: None,
        })
        .unwrap();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    eprintln!("refresh during the purge: {}", summary(join_all(during)));
    let rows = report.families + report.tokens;
    eprintln!(
        "purged {} families + {} tokens in {} batches, {:?}: {:.0} rows/s",
        report.families,
        report.tokens,
        report.batches,
        took,
        rows as f64 / took.as_secs_f64()
    );
    assert_eq!(report.families, 125_000);
    // Every seeded expired token, and the spent first token of each measuring chain is not expired.
    assert_eq!(report.tokens, 500_000);
}

#[test]
#[ignore = "load measurement: minutes, prints figures"]
fn purge_million_sqlite() {
    purge_million(&TestDatabase::sqlite());
}

#[test]
#[ignore = "load measurement: minutes, prints figures"]
fn purge_million_postgres() {
    if let Some(t) = TestDatabase::postgres() {
        purge_million(&t);
    }
}

/// An SQLite test database's WAL file.
pub(crate) fn wal_path(t: &TestDatabase) -> PathBuf {
    PathBuf::from(format!("{}-wal", t.url().trim_start_matches("sqlite://")))
}

fn count(t: &TestDatabase, table: &str) -> i64 {
    use diesel::{Connection, QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = diesel::SqliteConnection::establish(t.url()).unwrap();
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<N>(&mut conn)
        .unwrap()
        .n
}

/// 32 chains, `TOLLGATE_LOAD_TOTAL` (default 100,000) refreshes in all, on one SQLite file through one pool of 32, as a server
/// under 32 concurrent clients. With `TOLLGATE_LOAD_CHECKPOINT_MS` (default 1000, 0 = off) a
/// ticker checkpoints as `serve` does, and a purge every second keeps tokens of
/// `TOLLGATE_LOAD_TTL_S` (default 10) seconds from piling up. Prints WAL size and row counts every
/// second.
#[test]
#[ignore = "load measurement: minutes, prints figures"]
fn wal_and_tables_stay_bounded_under_32_chains_sqlite() {
    const THREADS: u64 = 32;
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let total = env("TOLLGATE_LOAD_TOTAL", 100_000);
    let checkpoint_ms = env("TOLLGATE_LOAD_CHECKPOINT_MS", 1000);
    let ttl = Duration::seconds(i64::try_from(env("TOLLGATE_LOAD_TTL_S", 10)).unwrap());
    let t = TestDatabase::sqlite();
    let db = connect(&t, 32);
    let user = stored_user(&db);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers = chains(&db, user, 32, Some(total / THREADS), &stop, ttl, &done);

    let upkeep = {
        let db = db.clone();
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut last_purge = Instant::now();
            let mut failed_checkpoints = 0;
            while !stop.load(Ordering::Relaxed) {
                let tick = StdDuration::from_millis(if checkpoint_ms == 0 {
                    200
                } else {
                    checkpoint_ms
                });
                thread::sleep(tick);
                if checkpoint_ms > 0 && !db.checkpoint_wal().unwrap() {
                    failed_checkpoints += 1;
                }
                if last_purge.elapsed() >= StdDuration::from_secs(1) {
                    db.purge(&PurgePolicy {
                        expired_before: now(),
                        revoked_before: now() - Duration::days(7),
                        failures_before: now() - Duration::days(1),
                        batch: 500,
                        events_before: None,
                    })
                    .unwrap();
                    last_purge = Instant::now();
                }
            }
            failed_checkpoints
        })
    };

    let wal = wal_path(&t);
    let mut max_wal = 0;
    while done.load(Ordering::Relaxed) < total {
        thread::sleep(StdDuration::from_secs(1));
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        max_wal = max_wal.max(size);
        eprintln!(
            "t={:>4.0}s refreshes={:>6} wal={:>6.1} MB families={} tokens={}",
            started.elapsed().as_secs_f64(),
            done.load(Ordering::Relaxed),
            size as f64 / 1e6,
            count(&t, "token_families"),
            count(&t, "refresh_tokens"),
        );
    }
    let latencies = join_all(workers);
    stop.store(true, Ordering::Relaxed);
    let failed = upkeep.join().unwrap();
    let took = started.elapsed();
    let end_wal = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "{} refreshes in {took:?} ({:.0}/s), {}; WAL max {:.1} MB, at end {:.1} MB; \
         {failed} checkpoints could not finish; tokens at end {}",
        latencies.len(),
        latencies.len() as f64 / took.as_secs_f64(),
        summary(latencies.clone()),
        max_wal as f64 / 1e6,
        end_wal as f64 / 1e6,
        count(&t, "refresh_tokens"),
    );
}
