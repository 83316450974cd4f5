//! A PostgreSQL outage mid-run: requests get `503 temporarily_unavailable` with `Retry-After`,
//! and after recovery no token was lost (the one presented during the outage still works) or
//! double-issued (it works exactly once). Readiness follows the outage: `503` during, `200` after.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tollgate_infrastructure::testing;
use tollgate_tests::{Backend, TestApp};

/// A database of its own, so that connections to it can be refused without touching other tests.
struct OwnDatabase {
    admin: PgConnection,
    name: String,
    url: String,
}

impl OwnDatabase {
    fn create() -> Option<Self> {
        let Ok(base) = std::env::var(testing::POSTGRES_URL_VAR) else {
            testing::skip_postgres(&format!("{} not set", testing::POSTGRES_URL_VAR));
            return None;
        };
        let mut admin = PgConnection::establish(&base).expect("PostgreSQL must answer");
        let name = format!("tollgate_outage_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let server = base.split('?').next().unwrap();
        let url = format!("{}/{name}", &server[..server.rfind('/').unwrap()]);
        Some(Self { admin, name, url })
    }

    fn refuse_connections(&mut self) {
        self.admin
            .batch_execute(&format!(
                "ALTER DATABASE {0} ALLOW_CONNECTIONS false;
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}';",
                self.name
            ))
            .unwrap();
    }

    fn allow_connections(&mut self) {
        self.admin
            .batch_execute(&format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS true",
                self.name
            ))
            .unwrap();
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

#[test]
fn a_storage_outage_answers_503_and_loses_or_doubles_no_token() {
    let Some(mut db) = OwnDatabase::create() else {
        return;
    };
    let url = db.url.clone();
    let app = TestApp::spawn_with(Backend::Postgres, move |s| {
        s.database.url = url;
        s.database.connect_timeout = 1;
    })
    .unwrap();
    app.add_user("alice", "pw");
    let token = app.login("alice", "pw").refresh_token();
    assert_eq!(app.get("/readyz", None).status, 200);

    db.refuse_connections();
    let ready = app.get("/readyz", None);
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(ready.json()["reason"], "database unavailable");
    // Liveness does no I/O: the process is fine, only its database is not.
    assert_eq!(app.get("/healthz", None).status, 200);
    for r in [app.refresh(&token), app.login("alice", "pw")] {
        assert_eq!(
            (r.status, r.error()),
            (503, "temporarily_unavailable".into()),
            "{}",
            r.text
        );
        assert!(r
            .header("retry-after")
            .is_some_and(|v| v.parse::<u32>().is_ok()));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }

    db.allow_connections();
    let ready = app.get("/readyz", None);
    assert_eq!(
        ready.status, 200,
        "ready again after the outage: {}",
        ready.text
    );
    let next = app.refresh(&token);
    assert_eq!(
        next.status, 200,
        "the token presented during the outage was not spent: {}",
        next.text
    );
    assert_eq!(app.refresh(&next.refresh_token()).status, 200);
    // And it was spent exactly once: presenting it again now is reuse.
    assert_eq!(app.refresh(&token).error(), "invalid_grant");
}
