//! The `tollgate` command line, run as a real process on a SQLite data directory.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `tollgate ARGS` on the data directory `data` (cheap hashing), feeding it `stdin`.
pub(super) fn tollgate(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env("TOLLGATE__DATA_DIR", data)
        .env("TOLLGATE__PASSWORD__MEMORY_KIB", "8")
        .env("TOLLGATE__PASSWORD__ITERATIONS", "1")
        .env("TOLLGATE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn users_are_added_listed_disabled_and_refused_twice() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let added = tollgate(
        d,
        &["user", "add", "alice", "--password-stdin"],
        Some("S3cret-pass\n"),
    );
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(stdout(&added).starts_with("created user alice"));

    let again = tollgate(
        d,
        &["user", "add", "alice", "--password-stdin"],
        Some("other\n"),
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let empty = tollgate(d, &["user", "add", "bob", "--password-stdin"], Some("\n"));
    assert!(!empty.status.success(), "an empty password is refused");

    let listed = stdout(&tollgate(d, &["user", "list"], None));
    assert!(listed.contains("\talice\tenabled\t"), "{listed}");
    assert!(!listed.contains("bob"));
    // The hash (or anything like it) is never printed.
    assert!(!listed.contains("argon2"));

    let disabled = tollgate(d, &["user", "disable", "alice"], None);
    assert!(disabled.status.success(), "{}", stderr(&disabled));
    assert!(stdout(&tollgate(d, &["user", "list"], None)).contains("\talice\tdisabled\t"));

    let deleted = tollgate(d, &["user", "delete", "alice"], None);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert!(!stdout(&tollgate(d, &["user", "list"], None)).contains("alice"));

    let unknown = tollgate(d, &["user", "disable", "nobody"], None);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("no such user"));
}

#[test]
fn migrate_and_sessions_commands_work_on_a_fresh_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let migrated = tollgate(d, &["migrate"], None);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    assert!(d.join("tollgate.db").exists());

    tollgate(
        d,
        &["user", "add", "carol", "--password-stdin"],
        Some("pw\n"),
    );
    let listed = tollgate(d, &["sessions", "list", "carol"], None);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let revoked = tollgate(d, &["sessions", "revoke", "carol"], None);
    assert_eq!(stdout(&revoked).trim(), "revoked 0 session(s) of carol");
    let changed = tollgate(
        d,
        &["user", "set-password", "carol", "--password-stdin"],
        Some("new-pw\n"),
    );
    assert!(changed.status.success(), "{}", stderr(&changed));
}

#[test]
fn a_bad_setting_is_refused_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["user", "list"])
        .env("TOLLGATE__DATA_DIR", data.path())
        .env("TOLLGATE__TOKENS__ACCESS_TTL", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("access lifetime"), "{}", stderr(&out));

    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["migrate"])
        .env("TOLLGATE__DATA_DIR", data.path())
        .env("TOLLGATE__DATABASE__URL", "mysql://localhost/x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unsupported database URL"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_stops_gracefully_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("serve")
        .env("TOLLGATE__DATA_DIR", data.path())
        .env("TOLLGATE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("TOLLGATE__SERVER__WORKERS", "1")
        .env("TOLLGATE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Ready means answering HTTP: the socket is bound (and accepts into its backlog) while the
    // database and keys still open, before the server and its signal handlers run.
    let url = format!("http://127.0.0.1:{port}/api/users/me");
    loop {
        match ureq::get(&url).call() {
            Ok(_) | Err(ureq::Error::Status(..)) => break,
            Err(_) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "serve did not come up"
                );
                assert!(child.try_wait().unwrap().is_none(), "serve exited early");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn purge_counts_then_deletes_and_a_dry_run_deletes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    // A fresh database has nothing to purge, but both forms run and report.
    let dry = tollgate(d, &["purge", "--dry-run"], None);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert_eq!(
        stdout(&dry),
        "would purge 0 session(s), 0 refresh token(s), 0 security event(s), 0 failed-login counter(s) and 0 DPoP proof(s)\n"
    );
    let real = tollgate(d, &["purge"], None);
    assert!(real.status.success(), "{}", stderr(&real));
    assert_eq!(
        stdout(&real),
        "purged 0 session(s), 0 refresh token(s), 0 security event(s), 0 failed-login counter(s) and 0 DPoP proof(s) in 6 batch(es)\n"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("purge")
        .env("TOLLGATE__DATA_DIR", d)
        .env("TOLLGATE__PURGE__BATCH", "0")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("purge.batch"), "{}", stderr(&bad));
}
