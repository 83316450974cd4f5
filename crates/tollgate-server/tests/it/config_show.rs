//! `tollgate config show` and start-up's answer to an invalid setting.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn tollgate(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("TOLLGATE") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied()).output().unwrap()
}

#[test]
fn config_show_prints_each_value_with_its_source_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tollgate.toml"),
        "[server]\nbind = \"127.0.0.1:9000\"\n[tokens]\naccess_ttl = 600\n",
    )
    .unwrap();
    let out = tollgate(
        dir.path(),
        &["config", "show"],
        &[
            ("TOLLGATE__TOKENS__ACCESS_TTL", "300"),
            ("TOLLGATE__DATABASE__URL", "postgres://tg:pg-secret@db/tg"),
            ("TOLLGATE__BOOTSTRAP__USER", "admin"),
            ("TOLLGATE__BOOTSTRAP__PASSWORD", "hunter2"),
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "server.bind = \"127.0.0.1:9000\"  # file",
        "tokens.access_ttl = 300  # environment",
        "tokens.refresh_ttl = 86400  # default",
        "database.url = \"postgres://tg:[redacted]@db/tg\"  # environment",
        "bootstrap.password = \"[redacted]\"  # environment",
        "server.metrics_bind = (unset)  # default",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    assert!(
        !text.contains("hunter2") && !text.contains("pg-secret"),
        "{text}"
    );
}

#[test]
fn an_invalid_value_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (var, key) in [
        ("TOLLGATE__SERVER__WORKERS", "server.workers"),
        ("TOLLGATE__TOKENS__LEEWAY", "tokens.leeway"),
    ] {
        let out = tollgate(dir.path(), &["serve"], &[(var, "many")]);
        assert!(!out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(key), "{key} not named in {stderr}");
    }
}

#[test]
fn a_publish_ahead_shorter_than_the_jwks_max_age_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = tollgate(
        dir.path(),
        &["serve"],
        &[
            ("TOLLGATE__KEYS__PUBLISH_AHEAD", "60"),
            ("TOLLGATE__SERVER__BIND", "127.0.0.1:0"),
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("keys.publish_ahead"), "{stderr}");
    assert!(stderr.contains("300"), "names the max-age: {stderr}");
}
