//! The newcomer path and the file-permission rules, through the real `tollgate` binary: a start
//! with default settings in an empty directory works (the data directory is created), the files
//! it creates are private, and exposed secret files stop start-up with one clear line.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tollgate_infrastructure::jwt::KeySet;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tollgate <args>` in `dir` with only the variables a newcomer would set (plus a free port and
/// cheap Argon2 so the test is quick); nothing else from the test's environment leaks in.
fn tollgate(dir: &Path, port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TOLLGATE__BOOTSTRAP__USER", "administrator")
        .env("TOLLGATE__BOOTSTRAP__PASSWORD", "Password1")
        .env("TOLLGATE__PASSWORD__MEMORY_KIB", "8")
        .env("TOLLGATE__PASSWORD__ITERATIONS", "1")
        .env("TOLLGATE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("TOLLGATE_LOG", "warn");
    cmd
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_ready(child: &mut Child, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("tollgate exited early: {status}");
        }
        match ureq::get(&format!("{base}/.well-known/jwks.json")).call() {
            Ok(_) | Err(ureq::Error::Status(..)) => return,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("tollgate did not come up: {e}"),
        }
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs `serve` and expects it to refuse to start; returns its output.
fn refused_start(dir: &Path) -> Output {
    let output = tollgate(dir, free_port(), &["serve"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "tollgate started anyway");
    output
}

/// The line of stderr that explains the failure.
fn error_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find(|l| l.starts_with("tollgate: "))
        .unwrap_or_else(|| panic!("no error line in {stderr}"))
        .to_owned()
}

#[test]
fn the_readme_command_starts_in_an_empty_directory_and_a_login_works() {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Running(
        tollgate(cwd.path(), port, &["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_ready(&mut server.0, &base);
    let response = ureq::post(&format!("{base}/api/oauth2/token"))
        .send_form(&[
            ("grantType", "Password"),
            ("userName", "administrator"),
            ("password", "Password1"),
        ])
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
    assert!(body["refresh_token"].as_str().is_some());

    let data = cwd.path().join("data");
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&data.join("keys")), 0o700, "key directory");
    // The login wrote, so the WAL and shared-memory files exist too.
    for file in ["tollgate.db", "tollgate.db-wal", "tollgate.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}

#[test]
fn a_database_file_others_can_read_stops_start_up_with_the_chmod_that_fixes_it() {
    let cwd = tempfile::tempdir().unwrap();
    // A first run creates everything private; then an operator's copy or restore loosens it.
    let migrate = tollgate(cwd.path(), free_port(), &["migrate"])
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{migrate:?}");
    let db = cwd.path().join("data/tollgate.db");
    fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).unwrap();

    // The path is the one the settings give (relative to the working directory).
    let line = error_line(&refused_start(cwd.path()));
    assert!(line.contains("`chmod 600 data/tollgate.db`"), "{line}");
}

#[test]
fn a_private_key_others_can_read_stops_start_up_with_the_chmod_that_fixes_it() {
    let cwd = tempfile::tempdir().unwrap();
    let key = KeySet::generate(&cwd.path().join("data/keys")).unwrap();
    let key_file = fs::read_dir(cwd.path().join("data/keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".key.pem"))
        .unwrap();
    fs::set_permissions(&key_file, fs::Permissions::from_mode(0o640)).unwrap();

    let line = error_line(&refused_start(cwd.path()));
    let name = key_file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        line.contains(&name) && line.contains("`chmod 600 "),
        "{line}"
    );
    assert!(name.contains(&key.kid()[..8]));
}

/// The warning lines about plain HTTP a `serve` on `bind` writes before it is stopped.
fn plain_http_warnings(bind_host: &str) -> usize {
    use std::io::Read as _;
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = tollgate(cwd.path(), port, &["serve"])
        .env("TOLLGATE__SERVER__BIND", format!("{bind_host}:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(&mut child, &format!("http://127.0.0.1:{port}"));
    let _ = child.kill();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = child.wait();
    stderr.lines().filter(|l| l.contains("plain HTTP")).count()
}

#[test]
fn plain_http_beyond_loopback_logs_exactly_one_warning() {
    assert_eq!(plain_http_warnings("0.0.0.0"), 1);
    assert_eq!(plain_http_warnings("127.0.0.1"), 0);
}
