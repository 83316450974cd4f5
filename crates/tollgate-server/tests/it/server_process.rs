//! A real `tollgate serve` child process on a free port, shared by the suites that run several.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `tollgate serve` child process, killed on drop. Suites add their own request helpers in
/// `impl Server` blocks of their own.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    /// A server on `db_url` with data (and keys) in `data_dir`, bootstrap user `alice`/`pw`, the
    /// issuer `https://tollgate.test` and cheap hashing; `extra` environment variables on top.
    pub(crate) fn start_with(db_url: &str, data_dir: &Path, extra: &[(&str, &str)]) -> Self {
        // Ask the OS for a free port; the tiny window before the child binds it is harmless here.
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("serve")
            .env("TOLLGATE__DATA_DIR", data_dir)
            .env("TOLLGATE__DATABASE__URL", db_url)
            .env("TOLLGATE__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("TOLLGATE__SERVER__WORKERS", "2")
            // Processes behind one name must agree on the issuer (its default is per address).
            .env("TOLLGATE__TOKENS__ISSUER", "https://tollgate.test")
            .env("TOLLGATE__PASSWORD__MEMORY_KIB", "8")
            .env("TOLLGATE__PASSWORD__ITERATIONS", "1")
            .env("TOLLGATE__BOOTSTRAP__USER", "alice")
            .env("TOLLGATE__BOOTSTRAP__PASSWORD", "pw")
            .env("TOLLGATE_LOG", "warn")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Self::on_port(child, port)
    }

    /// A server already spawned as `child`, listening on `port`.
    pub(crate) fn on_port(child: Child, port: u16) -> Self {
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits (up to a minute) until the server answers HTTP; panics if it exits first.
    pub(crate) fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("tollgate exited early: {status}");
            }
            // Any HTTP answer means the listener is up (GET on the token endpoint is a 404/405).
            match ureq::get(&format!("{}/api/oauth2/token", self.base)).call() {
                Ok(_) | Err(ureq::Error::Status(..)) => return,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("tollgate did not come up: {e}"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port the OS just had free on the loopback interface.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
