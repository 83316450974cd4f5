//! Checks that differ per backend or concern the plumbing around the stores: SQLite pragmas,
//! PostgreSQL column types and query plans, and refused or unreachable database URLs. The
//! store behaviour itself is in `store_contract/`.
#![cfg(any(feature = "sqlite", feature = "postgres"))]
// The fixtures are not `#[test]`s themselves, so clippy's test allowance misses them.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tollgate_application::Error;
use tollgate_infrastructure::db::{Backend, Database, PoolOptions};
use tollgate_infrastructure::testing::TestDatabase;

fn connect(t: &TestDatabase) -> Database {
    let options = PoolOptions {
        max_size: 2,
        connection_timeout: Duration::from_secs(30),
        ..PoolOptions::default()
    };
    Database::connect(t.url(), &options)
        .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"))
}

#[test]
fn sqlite_files_are_in_wal_mode() {
    use diesel::{Connection, QueryableByName, RunQueryDsl};

    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }

    let t = TestDatabase::sqlite();
    let _db = connect(&t);
    // journal_mode=WAL persists in the file, so a plain connection sees what the pool set.
    let mut conn = diesel::SqliteConnection::establish(t.url()).unwrap();
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
}

/// `n` users, one commit each, with a password hash of `hash_len` bytes (3,000 fills most of a
/// page).
fn add_users(db: &Database, n: usize, hash_len: usize) {
    use chrono::{TimeZone, Utc};
    use tollgate_application::UserStore;
    use tollgate_domain::{PasswordHash, User, UserId, UserName};
    use uuid::Uuid;

    for _ in 0..n {
        let id = Uuid::new_v4();
        db.user_store()
            .create(&User {
                id: UserId::from_uuid(id),
                name: UserName::parse(&format!("u-{id}")).unwrap(),
                password_hash: PasswordHash::new("x".repeat(hash_len)),
                disabled: false,
                created_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            })
            .unwrap();
    }
}

fn user_count(db: &Database) -> usize {
    use tollgate_application::UserStore;
    db.user_store().list().unwrap().len()
}

/// The length of an SQLite test database's WAL file.
fn wal_len(t: &TestDatabase) -> u64 {
    std::fs::metadata(crate::store_load::wal_path(t))
        .map(|m| m.len())
        .unwrap()
}

/// The checkpoint `serve` runs every `database.wal_checkpoint_ms` copies the whole WAL back and
/// restarts it: the commits after it overwrite the file from its beginning, so it neither grows
/// (a passive checkpoint's WAL would) nor is cut to zero and extended again block by block (as
/// `TRUNCATE` did). Nothing written before or after is lost. (With no reader open, any complete
/// checkpoint lets the next writer restart; what `RESTART` adds, waiting for readers of old
/// snapshots, is SQLite's own behaviour and not re-tested here.)
#[test]
fn sqlite_checkpoint_restarts_the_wal_in_place() {
    let t = TestDatabase::sqlite();
    let db = connect(&t);
    add_users(&db, 200, 40);
    let before = wal_len(&t);
    assert!(before > 0, "200 commits left an empty WAL");
    assert!(
        db.checkpoint_wal().unwrap(),
        "nothing else holds the database"
    );
    assert_eq!(wal_len(&t), before, "the checkpoint itself cut the WAL");
    add_users(&db, 3, 40);
    assert_eq!(
        wal_len(&t),
        before,
        "commits after the checkpoint must reuse the WAL from its start"
    );
    assert_eq!(user_count(&db), 203);
}

/// `PoolOptions::sqlite_auto_checkpoint`: on (the default), the commit that takes the WAL past
/// SQLite's 1,000 pages checkpoints it, and with no reader open the WAL restarts, so the file
/// never holds many more frames; off, commits leave the WAL alone until `checkpoint_wal`.
#[test]
fn sqlite_commits_checkpoint_only_when_the_pool_lets_them() {
    // A WAL frame is a 24-byte header and a 4 KiB page, after a 32-byte file header.
    let frames = |t: &TestDatabase| (wal_len(t) - 32) / (4096 + 24);
    let open = |t: &TestDatabase, auto: bool| {
        let options = PoolOptions {
            max_size: 2,
            connection_timeout: Duration::from_secs(30),
            sqlite_auto_checkpoint: auto,
            ..PoolOptions::default()
        };
        Database::connect(t.url(), &options).unwrap()
    };

    // 600 commits of a user whose hash fills most of a page: about 1,800 frames.
    let sqlite = TestDatabase::sqlite();
    let db = open(&sqlite, true);
    add_users(&db, 600, 3000);
    assert!(frames(&sqlite) <= 1_050, "{} frames", frames(&sqlite));

    let left_alone = TestDatabase::sqlite();
    let db = open(&left_alone, false);
    add_users(&db, 600, 3000);
    let grown = frames(&left_alone);
    assert!(grown > 1_500, "{grown} frames: something checkpointed");
    assert!(db.checkpoint_wal().unwrap());
    add_users(&db, 1, 3000);
    assert_eq!(frames(&left_alone), grown, "restarted, not grown");
    assert_eq!(user_count(&db), 601);
}

#[test]
fn postgres_refresh_path_uses_index_scans() {
    let Some(t) = TestDatabase::postgres() else {
        return;
    };
    let _db = connect(&t);
    let plans = t.explain_refresh_path();
    let expectations = [
        (
            &plans.find_token,
            &["refresh_tokens_pkey", "token_families_pkey"][..],
        ),
        (
            &plans.find_token_with_owner,
            &["refresh_tokens_pkey", "token_families_pkey", "users_pkey"],
        ),
        (
            &plans.token_state,
            &["refresh_tokens_pkey", "token_families_pkey"],
        ),
        (
            &plans.spend_token,
            &["refresh_tokens_pkey", "token_families_pkey"],
        ),
        (&plans.revoke_family, &["token_families_pkey"]),
        (&plans.revoke_user_families, &["token_families_user_id"]),
    ];
    for (plan, indexes) in expectations {
        assert!(!plan.contains("Seq Scan"), "sequential scan in:\n{plan}");
        for index in indexes {
            assert!(plan.contains(index), "{index} not used in:\n{plan}");
        }
    }
}

#[test]
fn postgres_purge_batches_use_index_scans() {
    let Some(t) = TestDatabase::postgres() else {
        return;
    };
    let _db = connect(&t);
    let plans = t.explain_purge();
    assert_eq!(plans.len(), 6);
    for (step, plan) in plans {
        assert!(
            !plan.contains("Seq Scan"),
            "sequential scan in the {step} purge:\n{plan}"
        );
        let index = match step {
            "revoked families" => "token_families_revoked_at",
            "spent tokens" => "refresh_tokens_spent_expires_at",
            "dpop proofs" => "dpop_proofs_expires_at",
            "security events" => "security_events_occurred_at",
            "login failures" => "login_failures_last_failure_at",
            _ => "refresh_tokens_live_expires_at",
        };
        assert!(
            plan.contains(index),
            "{index} not used in the {step} purge:\n{plan}"
        );
        assert!(
            plan.contains("LockRows"),
            "{step} purge takes no row locks:\n{plan}"
        );
    }
}

#[test]
fn postgres_columns_have_native_types() {
    use diesel::{Connection, QueryableByName, RunQueryDsl};

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        column_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        data_type: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        collation_name: Option<String>,
    }

    let Some(t) = TestDatabase::postgres() else {
        return;
    };
    let _db = connect(&t);
    let mut conn = diesel::PgConnection::establish(t.url()).unwrap();
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, collation_name::text
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name IN
             ('users', 'token_families', 'refresh_tokens')",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(columns.len(), 21, "{columns:?}");
    for c in &columns {
        let expected = match c.column_name.as_str() {
            "user_name" | "password_hash" | "revoke_reason" | "client_id" | "jkt" => "text",
            "disabled" | "long_lived" => "boolean",
            name if name.ends_with("_at") => "timestamp with time zone",
            _ => "uuid",
        };
        assert_eq!(c.data_type, expected, "{}.{}", c.table_name, c.column_name);
    }
    // Byte order whatever the database's default collation (this test server's may be C already,
    // so the listing test alone could not catch a missing COLLATE).
    for name in ["user_name", "client_id", "jkt"] {
        let column = columns.iter().find(|c| c.column_name == name);
        assert_eq!(
            column.and_then(|c| c.collation_name.as_deref()),
            Some("C"),
            "{name}"
        );
    }
}

#[test]
fn unknown_schemes_are_refused_with_a_clear_message() {
    let e =
        Database::connect("mysql://root:hunter2@db/tollgate", &PoolOptions::default()).unwrap_err();
    let message = e.to_string();
    assert!(message.contains("unsupported database URL"), "{message}");
    assert!(message.contains("`mysql`"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(matches!(Error::from(e), Error::Unexpected(_)));
}

#[test]
fn an_unreachable_postgres_is_unavailable() {
    let options = PoolOptions {
        max_size: 1,
        connection_timeout: Duration::from_millis(500),
        ..PoolOptions::default()
    };
    // Port 1 refuses at once; the pool gives up after its timeout instead of hanging.
    let e = Database::connect("postgres://tollgate@127.0.0.1:1/tollgate", &options).unwrap_err();
    assert!(matches!(Error::from(e), Error::Unavailable(_)));
}

#[test]
fn test_databases_name_their_backend() {
    assert_eq!(TestDatabase::sqlite().backend(), Backend::Sqlite);
    if let Some(t) = TestDatabase::postgres() {
        assert_eq!(t.backend(), Backend::Postgres);
        assert!(t.url().contains("search_path"), "{}", t.url());
    }
}
