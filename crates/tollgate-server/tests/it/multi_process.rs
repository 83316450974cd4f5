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
        let (status, body, _) = self.post_token(body, None);
        (status, body)
    }

    /// POSTs `body` to the token endpoint, with a `DPoP` header when `proof` is given: status,
    /// JSON body and the `DPoP-Nonce` header.
    fn post_token(&self, body: &str, proof: Option<&str>) -> (u16, Value, Option<String>) {
        let mut request = ureq::post(&format!("{}/api/oauth2/token", self.base))
            .set("Content-Type", "application/x-www-form-urlencoded");
        if let Some(proof) = proof {
            request = request.set("DPoP", proof);
        }
        let r = match request.send_string(body) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let nonce = r.header("DPoP-Nonce").map(str::to_owned);
        let status = r.status();
        let body = serde_json::from_str(&r.into_string().unwrap()).unwrap();
        (status, body, nonce)
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
    two_servers_with(db, data, &[])
}

/// [`two_servers`] with `extra` settings on both.
fn two_servers_with(db: &TestDatabase, data: &Path, extra: &[(&str, &str)]) -> (Server, Server) {
    KeySet::generate(&data.join("keys")).unwrap();
    let mut a = Server::start_with(db.url(), data, extra);
    let mut b = Server::start_with(db.url(), data, extra);
    a.wait_ready();
    b.wait_ready();
    (a, b)
}

/// Fires `body` at the token endpoint `2 * PER_PROCESS` times at once, alternating between the
/// two servers, request `i` with the `DPoP` proof `proof(i)` if any; asserts exactly one `200`
/// and `invalid_grant` for every other, and returns the winner's body.
fn race(
    servers: &Arc<[Server; 2]>,
    round: usize,
    body: &str,
    proof: impl Fn(usize) -> Option<String>,
) -> Value {
    let barrier = Arc::new(Barrier::new(2 * PER_PROCESS));
    let handles: Vec<_> = (0..2 * PER_PROCESS)
        .map(|i| {
            let (servers, barrier, body) = (servers.clone(), barrier.clone(), body.to_owned());
            let proof = proof(i);
            std::thread::spawn(move || {
                barrier.wait();
                servers[i % 2].post_token(&body, proof.as_deref())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
    let (winners, losers): (Vec<_>, Vec<_>) = results.into_iter().partition(|r| r.0 == 200);
    assert_eq!(winners.len(), 1, "round {round}: {statuses:?}");
    assert!(
        losers
            .iter()
            .all(|r| r.0 == 400 && r.1["error"] == "invalid_grant"),
        "round {round}: {statuses:?}"
    );
    winners.into_iter().next().map(|w| w.1).unwrap_or_default()
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
        let refresh = format!("grantType=RefreshToken&refreshToken={token}");
        let winner = race(&servers, round, &refresh, |_| None);
        let winner = winner["refresh_token"].as_str().unwrap();
        assert_eq!(
            servers[(round + 1) % 2].refresh(winner).0,
            400,
            "round {round}: family not revoked"
        );
    }
}

mod dpop {
    //! DPoP across processes: the replay cache and the server nonces live where every process
    //! sees them (the database, the shared key directory).

    use super::*;
    use tollgate_application::Clock as _;
    use tollgate_infrastructure::testing::DpopKey;
    use tollgate_infrastructure::SystemClock;

    /// The servers run on the system clock, so the proofs are made on it too.
    fn now() -> chrono::DateTime<chrono::Utc> {
        SystemClock.now()
    }

    const TOKEN_URL: &str = "https://tollgate.test/api/oauth2/token";

    impl Server {
        fn post_with_proof(&self, body: &str, proof: &str) -> (u16, Value, Option<String>) {
            self.post_token(body, Some(proof))
        }
    }

    fn proof(key: &DpopKey, nonce: &str) -> String {
        key.proof("POST", TOKEN_URL, now()).nonce(nonce).sign()
    }

    const LOGIN: &str = "grantType=Password&userName=alice&password=pw";

    /// Two servers that require nonces, started at once on a key directory holding a signing
    /// key but no nonce secret yet: the first to take the directory lock makes it, the other
    /// reads it.
    fn two_nonce_servers(db: &TestDatabase, data: &Path) -> (Server, Server) {
        two_servers_with(db, data, &[("TOLLGATE__DPOP__REQUIRE_NONCE", "true")])
    }

    #[test]
    fn a_nonce_from_one_process_works_on_the_other_and_a_proof_is_spent_on_both() {
        let Some(db) = TestDatabase::postgres() else {
            return;
        };
        let data = tempfile::tempdir().unwrap();
        let (a, b) = two_nonce_servers(&db, data.path());
        let key = DpopKey::es256();

        let bare = key.proof("POST", TOKEN_URL, now()).sign();
        let (status, body, nonce) = a.post_with_proof(LOGIN, &bare);
        assert_eq!(
            (status, &body["error"]),
            (400, &Value::from("use_dpop_nonce"))
        );
        let nonce = nonce.expect("DPoP-Nonce from a");

        let login_proof = proof(&key, &nonce);
        let (status, body, _) = b.post_with_proof(LOGIN, &login_proof);
        assert_eq!(status, 200, "a's nonce at b: {body}");
        assert_eq!(body["token_type"], "DPoP");
        let (status, body, _) = a.post_with_proof(LOGIN, &login_proof);
        assert_eq!(
            (status, &body["error"]),
            (400, &Value::from("invalid_dpop_proof")),
            "b's proof replayed at a"
        );

        let refresh = format!(
            "grantType=RefreshToken&refreshToken={}",
            body_token(&b.post_with_proof(LOGIN, &proof(&key, &nonce)).1)
        );
        let (status, body, _) = a.post_with_proof(&refresh, &proof(&key, &nonce));
        assert_eq!(status, 200, "a bound family from b refreshes at a: {body}");
        let (status, body, _) = b.post_with_proof(&refresh, &proof(&DpopKey::eddsa(), &nonce));
        assert_eq!(
            (status, &body["error"]),
            (400, &Value::from("invalid_grant"))
        );
    }

    fn body_token(body: &Value) -> String {
        body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned()
    }

    #[test]
    fn the_race_of_a_bound_token_across_two_processes_has_exactly_one_winner() {
        let Some(db) = TestDatabase::postgres() else {
            return;
        };
        let data = tempfile::tempdir().unwrap();
        let (a, b) = two_nonce_servers(&db, data.path());
        let key = DpopKey::es256();
        let (_, _, nonce) = a.post_with_proof(LOGIN, &key.proof("POST", TOKEN_URL, now()).sign());
        let nonce = nonce.expect("DPoP-Nonce");
        let servers = Arc::new([a, b]);
        for round in 0..ROUNDS / 4 {
            let (status, body, _) = servers[round % 2].post_with_proof(LOGIN, &proof(&key, &nonce));
            assert_eq!(status, 200, "{body}");
            let refresh = format!("grantType=RefreshToken&refreshToken={}", body_token(&body));
            // Every racer brings a proof of its own by the family's key.
            race(&servers, round, &refresh, |_| Some(proof(&key, &nonce)));
        }
    }
}
