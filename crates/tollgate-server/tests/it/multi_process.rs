//! Several real `tollgate serve` processes sharing one PostgreSQL database: migrations at a
//! simultaneous start, tokens crossing processes, and the refresh race across processes.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Barrier};

use serde_json::Value;
use tollgate_infrastructure::jwt::KeySet;
use tollgate_infrastructure::testing::TestDatabase;

use super::server_process::Server;

const ROUNDS: usize = 20;
const PER_PROCESS: usize = 8;

impl Server {
    fn post(&self, body: &str) -> (u16, Value) {
        let r = ureq::post(&format!("{}/api/oauth2/token", self.base))
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(body);
        let r = match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let status = r.status();
        (
            status,
            serde_json::from_str(&r.into_string().unwrap()).unwrap(),
        )
    }

    fn login(&self) -> String {
        let (status, body) = self.post("grantType=Password&userName=alice&password=pw");
        assert_eq!(status, 200, "{body}");
        body["refresh_token"].as_str().unwrap().to_owned()
    }

    fn refresh(&self, token: &str) -> (u16, Value) {
        self.post(&format!("grantType=RefreshToken&refreshToken={token}"))
    }
}

/// Two processes started at once on a fresh database (migrations under an advisory lock, the
/// bootstrap user created once), sharing one key directory.
fn two_servers(db: &TestDatabase, data: &Path) -> (Server, Server) {
    KeySet::generate(&data.join("keys")).unwrap();
    let mut a = Server::start(db.url(), data);
    let mut b = Server::start(db.url(), data);
    a.wait_ready();
    b.wait_ready();
    (a, b)
}

#[test]
fn a_token_issued_by_one_process_refreshes_on_another() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(&db, data.path());
    let first = a.login();
    let (status, body) = b.refresh(&first);
    assert_eq!(status, 200, "{body}");
    let next = body["refresh_token"].as_str().unwrap().to_owned();
    // The spent token is reuse on either process, and the family dies everywhere.
    assert_eq!(a.refresh(&first).0, 400);
    assert_eq!(b.refresh(&next).0, 400);
}

#[test]
fn the_refresh_race_across_two_processes_has_exactly_one_winner() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(&db, data.path());
    let servers = Arc::new([a, b]);
    for round in 0..ROUNDS {
        let token = servers[round % 2].login();
        let barrier = Arc::new(Barrier::new(2 * PER_PROCESS));
        let handles: Vec<_> = (0..2 * PER_PROCESS)
            .map(|i| {
                let (servers, barrier, token) = (servers.clone(), barrier.clone(), token.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    servers[i % 2].refresh(&token)
                })
            })
            .collect();
        let results: Vec<(u16, Value)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<&Value> = results
            .iter()
            .filter(|r| r.0 == 200)
            .map(|r| &r.1)
            .collect();
        let statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
        assert_eq!(winners.len(), 1, "round {round}: {statuses:?}");
        assert!(
            results
                .iter()
                .filter(|r| r.0 != 200)
                .all(|r| r.0 == 400 && r.1["error"] == "invalid_grant"),
            "round {round}: {statuses:?}"
        );
        let winner = winners[0]["refresh_token"].as_str().unwrap();
        assert_eq!(
            servers[(round + 1) % 2].refresh(winner).0,
            400,
            "round {round}: family not revoked"
        );
    }
}
