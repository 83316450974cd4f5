//! The storage bound of a refresh: what one rotation costs the database alone.
//!
//! `cargo bench -p tollgate-infrastructure --bench storage_bound` (set `TOLLGATE_TEST_POSTGRES_URL`
//! for PostgreSQL). A bare diesel loop on the migrated schema does exactly the rotation's writes,
//! one transaction each: the conditional `UPDATE … SET used_at WHERE token_id = ? AND used_at IS
//! NULL` (row count checked) and the successor's `INSERT`, chained like a client's refreshes.
//! No pool, no JWT, no HTTP: the service's refreshes/s can be compared with this number from the
//! same run. SQLite uses the server's per-connection settings (WAL, `synchronous = NORMAL`) and
//! `BEGIN IMMEDIATE`, as the store does.
#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::Text;
use tollgate_infrastructure::db::{Database, PoolOptions};
use tollgate_infrastructure::testing::TestDatabase;
use uuid::Uuid;

/// Creates the schema through the real migrations, then drops the pool.
fn migrate(db: &TestDatabase) {
    let database = Database::connect(db.url(), &PoolOptions::default()).expect("connect");
    database.run_pending_migrations().expect("migrate");
}

/// One family with its first token; returns that token's id.
fn seed(conn: &mut impl SimpleConnection, ts: &str) -> String {
    let (user, family, token) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    conn.batch_execute(&format!(
        "INSERT INTO users (id, user_name, password_hash, created_at) VALUES ('{user}', 'u{}', 'x', {ts});
         INSERT INTO token_families (id, user_id, created_at, expires_at, long_lived) VALUES ('{family}', '{user}', {ts}, {ts}, false);
         INSERT INTO refresh_tokens (token_id, family_id, access_token_id, issued_at, expires_at) VALUES ('{token}', '{family}', '{}', {ts}, {ts});",
        user.simple(),
        Uuid::new_v4()
    ))
    .expect("seed");
    format!("{token}|{family}")
}

fn sqlite(c: &mut Criterion) {
    let db = TestDatabase::sqlite();
    migrate(&db);
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    let mut conn = SqliteConnection::establish(&path).expect("open");
    conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .expect("pragmas");
    let seeded = seed(&mut conn, "1");
    let (first, family) = seeded.split_once('|').expect("seed");
    let (mut current, family) = (first.to_owned(), family.to_owned());
    let mut group = c.benchmark_group("storage_bound");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sqlite consume+insert", |b| {
        b.iter(|| {
            let next = Uuid::new_v4().to_string();
            conn.immediate_transaction::<_, diesel::result::Error, _>(|conn| {
                let spent = sql_query(
                    "UPDATE refresh_tokens SET used_at = 2 WHERE token_id = ? AND used_at IS NULL",
                )
                .bind::<Text, _>(&current)
                .execute(conn)?;
                assert_eq!(spent, 1);
                sql_query(
                    "INSERT INTO refresh_tokens (token_id, family_id, parent_id, access_token_id, issued_at, expires_at) VALUES (?, ?, ?, ?, 2, 3)",
                )
                .bind::<Text, _>(&next)
                .bind::<Text, _>(&family)
                .bind::<Text, _>(&current)
                .bind::<Text, _>(Uuid::new_v4().to_string())
                .execute(conn)?;
                Ok(())
            })
            .expect("rotate");
            current = next;
        });
    });
    group.finish();
}

fn postgres(c: &mut Criterion) {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    migrate(&db);
    let mut conn = PgConnection::establish(db.url()).expect("connect");
    let seeded = seed(&mut conn, "now()");
    let (first, family) = seeded.split_once('|').expect("seed");
    let mut current = Uuid::parse_str(first).expect("uuid");
    let family = Uuid::parse_str(family).expect("uuid");
    let mut group = c.benchmark_group("storage_bound");
    group.throughput(Throughput::Elements(1));
    group.bench_function("postgres consume+insert", |b| {
        b.iter(|| {
            let next = Uuid::new_v4();
            conn.transaction::<_, diesel::result::Error, _>(|conn| {
                let spent = sql_query(
                    "UPDATE refresh_tokens SET used_at = now() WHERE token_id = $1 AND used_at IS NULL",
                )
                .bind::<diesel::sql_types::Uuid, _>(current)
                .execute(conn)?;
                assert_eq!(spent, 1);
                sql_query(
                    "INSERT INTO refresh_tokens (token_id, family_id, parent_id, access_token_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, now(), now())",
                )
                .bind::<diesel::sql_types::Uuid, _>(next)
                .bind::<diesel::sql_types::Uuid, _>(family)
                .bind::<diesel::sql_types::Uuid, _>(current)
                .bind::<diesel::sql_types::Uuid, _>(Uuid::new_v4())
                .execute(conn)?;
                Ok(())
            })
            .expect("rotate");
            current = next;
        });
    });
    group.finish();
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
