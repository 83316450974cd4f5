//! Key rotation across real `tollgate serve` processes sharing one key directory (and one
//! PostgreSQL database): a key generated with the CLI is published by both before either signs
//! with it, both switch once `keys.publish_ahead` has passed, and no token of either is refused
//! by the other throughout. And two processes starting at once on an empty key directory leave
//! exactly one key.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;
use tollgate_infrastructure::testing::TestDatabase;

use super::server_process::{free_port, Server};

/// Short enough for a test, and at least the JWKS max-age, as start-up demands.
const PUBLISH_AHEAD_SECS: u64 = 3;
const KEY_ENV: [(&str, &str); 3] = [
    ("TOLLGATE__KEYS__PUBLISH_AHEAD", "3"),
    ("TOLLGATE__KEYS__JWKS_MAX_AGE", "1"),
    ("TOLLGATE__KEYS__RESCAN_INTERVAL", "1"),
];

impl Server {
    fn start_rotating(db_url: &str, data_dir: &Path) -> Self {
        Self::start_with(db_url, data_dir, &KEY_ENV)
    }

    /// A login: (access token, refresh token).
    fn login_pair(&self) -> (String, String) {
        let r = ureq::post(&format!("{}/api/oauth2/token", self.base))
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string("grantType=Password&userName=alice&password=pw")
            .unwrap();
        let body: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
        (
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    fn status(r: Result<ureq::Response, ureq::Error>) -> u16 {
        match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
            Err(e) => panic!("request failed: {e}"),
        }
    }

    /// The status of `GET /api/users/me` with `access`.
    fn me(&self, access: &str) -> u16 {
        Self::status(
            ureq::get(&format!("{}/api/users/me", self.base))
                .set("Authorization", &format!("Bearer {access}"))
                .call(),
        )
    }

    /// The status of a refresh with `refresh`.
    fn refresh_status(&self, refresh: &str) -> u16 {
        Self::status(
            ureq::post(&format!("{}/api/oauth2/token", self.base))
                .set("Content-Type", "application/x-www-form-urlencoded")
                .send_string(&format!("grantType=RefreshToken&refreshToken={refresh}")),
        )
    }

    fn published_kids(&self) -> Vec<String> {
        let r = ureq::get(&format!("{}/.well-known/jwks.json", self.base))
            .call()
            .unwrap();
        assert_eq!(r.header("cache-control"), Some("public, max-age=1"));
        let set: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn kid_of(token: &str) -> String {
    let header = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// Two processes started at once on `data` (an empty key directory: they race for it).
fn two_servers(db: &TestDatabase, data: &Path) -> (Server, Server) {
    let mut a = Server::start_rotating(db.url(), data);
    let mut b = Server::start_rotating(db.url(), data);
    a.wait_ready();
    b.wait_ready();
    (a, b)
}

fn key_files(data: &Path) -> usize {
    std::fs::read_dir(data.join("keys"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".key.pem")
        })
        .count()
}

#[test]
fn two_servers_starting_at_once_on_an_empty_key_directory_leave_one_key() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(&db, data.path());
    assert_eq!(key_files(data.path()), 1);
    let kids = a.published_kids();
    assert_eq!(kids.len(), 1);
    assert_eq!(b.published_kids(), kids);
    assert_eq!(kid_of(&a.login_pair().0), kids[0]);
    assert_eq!(kid_of(&b.login_pair().0), kids[0]);
}

#[test]
fn a_generated_key_is_published_by_both_before_either_signs_and_no_token_is_refused() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(&db, data.path());
    let old = kid_of(&a.login_pair().0);

    let generated_after = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["keys", "generate"])
        .env("TOLLGATE__DATA_DIR", data.path())
        .envs(KEY_ENV)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("sign with it from"), "{stdout}");
    let new = stdout
        .split_whitespace()
        .find(|w| w.len() == 40 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap()
        .to_owned();
    assert_ne!(new, old);

    let servers = [&a, &b];
    let mut published_at: [Option<Duration>; 2] = [None, None];
    let mut signed_at: [Option<Duration>; 2] = [None, None];
    let deadline = Duration::from_secs(PUBLISH_AHEAD_SECS + 15);
    while signed_at.iter().any(Option::is_none) {
        let elapsed = generated_after.elapsed();
        assert!(
            elapsed < deadline,
            "published {published_at:?}, signing {signed_at:?}"
        );
        for (i, server) in servers.iter().enumerate() {
            if published_at[i].is_none() && server.published_kids().contains(&new) {
                published_at[i] = Some(generated_after.elapsed());
            }
            let (access, refresh) = server.login_pair();
            let kid = kid_of(&access);
            assert!(kid == old || kid == new, "{kid}");
            if kid == new {
                // Never before the window, and never before every server publishes it.
                assert!(
                    elapsed >= Duration::from_secs(PUBLISH_AHEAD_SECS),
                    "server {i} signed with the new key {elapsed:?} after it was made"
                );
                assert!(
                    published_at.iter().all(Option::is_some),
                    "server {i} signs with a key not yet published everywhere: {published_at:?}"
                );
                signed_at[i].get_or_insert(elapsed);
            }
            // The other server takes this server's tokens, whichever key signed them.
            let other = servers[1 - i];
            assert_eq!(other.me(&access), 200, "{kid} refused by server {}", 1 - i);
            assert_eq!(
                other.refresh_status(&refresh),
                200,
                "{kid} refused by server {}",
                1 - i
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(a.published_kids(), [new.clone(), old.clone()]);
    assert_eq!(b.published_kids(), [new, old]);
}

#[test]
fn sighup_rescans_the_key_directory_at_once() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    // SQLite, and periodic rescans a day apart: only the signal can make it see the new key.
    let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("serve")
        .env("TOLLGATE__DATA_DIR", data.path())
        .env("TOLLGATE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("TOLLGATE__SERVER__WORKERS", "1")
        .env("TOLLGATE__KEYS__RESCAN_INTERVAL", "86400")
        .env("TOLLGATE_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server::on_port(child, port);
    server.wait_ready();
    let jwks = || -> Vec<String> {
        let r = ureq::get(&format!("{}/.well-known/jwks.json", server.base))
            .call()
            .unwrap();
        let set: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(jwks().len(), 1);
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["keys", "generate"])
        .env("TOLLGATE__DATA_DIR", data.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(jwks().len(), 1, "no rescan without the signal");

    let hup = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while jwks().len() < 2 {
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "SIGHUP ended the server"
        );
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not publish the new key"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
