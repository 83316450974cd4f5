//! The real binary's request logs: one JSON line per request with its id, route, status and
//! latency, and never the password or a token that went through it.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const PASSWORD: &str = "correct-horse-battery";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn json_logs_carry_one_line_per_request_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    // Creating a missing data directory is another change's business; this test is about logs.
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env_remove("TOLLGATE_LOG")
        .env("TOLLGATE__DATA_DIR", dir.path().join("data"))
        .env("TOLLGATE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("TOLLGATE__SERVER__WORKERS", "1")
        .env("TOLLGATE__PASSWORD__MEMORY_KIB", "8")
        .env("TOLLGATE__PASSWORD__ITERATIONS", "1")
        .env("TOLLGATE__BOOTSTRAP__USER", "alice")
        .env("TOLLGATE__BOOTSTRAP__PASSWORD", PASSWORD)
        .env("TOLLGATE__LOG__FORMAT", "json")
        .env("TOLLGATE__LOG__LEVEL", "info")
        .stdout(Stdio::null())
        .stderr(File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ureq::get(&format!("{base}/healthz")).call().is_err() {
        if child.try_wait().unwrap().is_some() {
            panic!(
                "tollgate exited early:\n{}",
                std::fs::read_to_string(&log_path).unwrap()
            );
        }
        assert!(Instant::now() < deadline, "tollgate did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    ureq::get(&format!("{base}/readyz"))
        .set("X-Request-Id", "probe-1")
        .call()
        .unwrap();
    let login: Value = serde_json::from_str(
        &ureq::post(&format!("{base}/api/oauth2/token"))
            .send_form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
            ])
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    // A token in the query string must not reach the log either.
    let _ = ureq::get(&format!("{base}/healthz?token={refresh}")).call();
    child.kill().unwrap();
    child.wait().unwrap();

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(!log.contains(PASSWORD), "password in the log:\n{log}");
    assert!(!log.contains(&refresh), "refresh token in the log:\n{log}");
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let finished: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "request finished")
        .collect();
    let probe = finished
        .iter()
        .find(|l| l["span"]["request_id"] == "probe-1")
        .unwrap_or_else(|| panic!("no line for the probe in\n{log}"));
    assert_eq!(probe["span"]["route"], "/readyz");
    assert_eq!(probe["status"], 200);
    assert!(probe["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    let token_line = finished
        .iter()
        .find(|l| l["span"]["route"] == "/api/oauth2/token")
        .unwrap_or_else(|| panic!("no line for the login in\n{log}"));
    assert_eq!(token_line["span"]["method"], "POST");
    assert!(token_line["span"]["request_id"]
        .as_str()
        .is_some_and(|id| id.len() == 36));
}

#[test]
fn an_invalid_log_level_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("migrate")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env_remove("TOLLGATE_LOG")
        .env("TOLLGATE__LOG__LEVEL", "info,=")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("log.level"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}
