//! A PostgreSQL outage mid-run: requests get `503 temporarily_unavailable` with `Retry-After`,
//! and after recovery no token was lost (the one presented during the outage still works) or
//! double-issued (it works exactly once). Readiness follows the outage: `503` during, `200` after.
//! And every pooled connection killed at once, PostgreSQL staying up (a restart as the pool sees
//! it): service resumes after at most one failed request per request in flight.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use tollgate_infrastructure::testing;
use tollgate_tests::{all_at_once, Backend, Response, TestApp};

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

    /// Ends every client connection to this database (which keeps accepting new ones) and
    /// waits until none is left; returns how many were ended. Ended again until none is left:
    /// the pool may still be opening a connection it started for an earlier checkout.
    fn terminate_backends(&mut self) -> usize {
        #[derive(QueryableByName)]
        struct Pid {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            #[allow(dead_code)]
            signalled: bool,
        }
        let clients = format!(
            "FROM pg_stat_activity WHERE datname = '{}' AND backend_type = 'client backend'",
            self.name
        );
        let mut ended = HashSet::new();
        // Waiting is no timing assumption: nothing in the test runs until all have exited.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // In the select list, not the WHERE clause: PostgreSQL may evaluate a WHERE
            // clause's function before its other conditions, on every session of the server.
            let signalled: Vec<Pid> = diesel::sql_query(format!(
                "SELECT pid, pg_terminate_backend(pid) AS signalled {clients}"
            ))
            .load(&mut self.admin)
            .unwrap();
            if signalled.is_empty() {
                return ended.len();
            }
            ended.extend(signalled.into_iter().map(|p| p.pid));
            assert!(Instant::now() < deadline, "connections keep coming");
            // `pg_terminate_backend` only signals; give them time to exit.
            std::thread::sleep(Duration::from_millis(10));
        }
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

/// Refreshes every chain at once; each must succeed. Returns the new tokens.
fn refresh_all_at_once(app: &Arc<TestApp>, tokens: &[String]) -> Vec<String> {
    all_at_once(app, tokens.to_vec(), |app, token| {
        let r = app.refresh(&token);
        assert_eq!(r.status, 200, "{}", r.text);
        r.refresh_token()
    })
}

/// Until the pool holds at least `CONNECTIONS` connections (so that many die at the kill).
fn open_connections(app: &Arc<TestApp>, tokens: &mut Vec<String>) {
    const CONNECTIONS: u32 = 3;
    for _ in 0..100 {
        if app.services.database.pool_stats().connections >= CONNECTIONS {
            return;
        }
        *tokens = refresh_all_at_once(app, tokens);
    }
    panic!("the pool never opened {CONNECTIONS} connections");
}

/// One refresh chain of `rounds` rotations, each token presented again after a `503` until it
/// rotates (at most three times). Returns the failures and every token issued, in order.
fn chain(app: &TestApp, first: String, rounds: usize) -> (usize, Vec<String>) {
    let mut tokens = vec![first];
    let mut failures = 0;
    for _ in 0..rounds {
        let presented = tokens.last().unwrap().clone();
        let answered: Response = (0..3)
            .map(|_| app.refresh(&presented))
            .find(|r| {
                if r.status == 503 {
                    assert_eq!(r.error(), "temporarily_unavailable", "{}", r.text);
                    failures += 1;
                }
                r.status != 503
            })
            .unwrap_or_else(|| panic!("three 503s in a row for one token"));
        assert_eq!(
            answered.status, 200,
            "a token presented during the failure still rotates (not lost): {}",
            answered.text
        );
        tokens.push(answered.refresh_token());
    }
    (failures, tokens)
}

#[test]
fn killed_pool_connections_fail_at_most_one_request_per_request_in_flight() {
    const CHAINS: usize = 6;
    const ROUNDS: usize = 8;
    let Some(mut db) = OwnDatabase::create() else {
        return;
    };
    let url = db.url.clone();
    let app = Arc::new(
        TestApp::spawn_with(Backend::Postgres, move |s| {
            s.database.url = url;
            s.database.pool_size = CHAINS as u32;
            // Only the test's requests use the pool.
            s.purge.interval = 0;
        })
        .unwrap(),
    );
    let mut tokens: Vec<String> = (0..CHAINS)
        .map(|i| {
            let name = format!("user{i}");
            app.add_user(&name, "pw");
            app.login(&name, "pw").refresh_token()
        })
        .collect();
    open_connections(&app, &mut tokens);
    assert_eq!(
        app.services.database.connection_checks(),
        0,
        "working connections are handed out without a round trip to check them"
    );

    // One request at a time: only the first may meet a dead connection; the loss it reports
    // has every other pooled connection checked (and, dead, replaced) before it is used.
    let killed = db.terminate_backends();
    assert!(killed >= 3, "{killed} connections killed");
    let (failures, sequential) = chain(&app, tokens[0].clone(), ROUNDS);
    assert!(
        failures <= 1,
        "{failures} failed requests, one at a time, after {killed} connections died"
    );
    eprintln!("one at a time: {killed} connections killed, {failures} request(s) failed");
    tokens[0] = sequential.last().unwrap().clone();

    // CHAINS requests in flight at a time: at most one failure each.
    open_connections(&app, &mut tokens);
    let killed = db.terminate_backends();
    assert!(killed >= 3, "{killed} connections killed");
    assert_eq!(tokens.len(), CHAINS);
    let chains: Vec<(usize, Vec<String>)> =
        all_at_once(&app, tokens, |app, token| chain(app, token, ROUNDS));
    let per_chain: Vec<usize> = chains.iter().map(|(f, _)| *f).collect();
    assert!(
        per_chain.iter().all(|&f| f <= 1),
        "failures per chain {per_chain:?} after {killed} connections died"
    );
    eprintln!("{CHAINS} at a time: {killed} connections killed, failures per chain {per_chain:?}");
    assert!(app.services.database.connection_checks() > 0);

    // Nothing double-issued: every token of every chain is new, and each one answered once is
    // spent (presenting it again is reuse, which ends its family: so last, one per chain).
    // (A chain's first token is the previous phase's last.)
    let issued: Vec<&String> = sequential
        .iter()
        .chain(chains.iter().flat_map(|(_, t)| &t[1..]))
        .collect();
    let distinct: HashSet<&String> = issued.iter().copied().collect();
    assert_eq!(distinct.len(), issued.len(), "a token was issued twice");
    for (_, tokens) in &chains {
        let last = app.refresh(tokens.last().unwrap());
        assert_eq!(last.status, 200, "{}", last.text);
        assert_eq!(app.refresh(&tokens[0]).error(), "invalid_grant");
    }
}
