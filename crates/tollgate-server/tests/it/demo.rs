//! `scripts/demo.sh`, the newcomer's walk-through, runs to the end against the real binary.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

#[test]
fn the_demo_script_runs_every_step() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/demo.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("TOLLGATE_BIN", env!("CARGO_BIN_EXE_tollgate"))
        .env("TOLLGATE_DEMO_PORT", port.to_string())
        .env_remove("RUST_LOG")
        .env_remove("TOLLGATE_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for step in ["== 1.", "== 6.", "== 11.", "== done"] {
        assert!(stdout.contains(step), "missing {step:?} in\n{stdout}");
    }
    assert!(
        stdout.contains("tollgate_refresh_reuse_detected_total 1"),
        "{stdout}"
    );
}
