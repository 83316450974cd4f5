use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use tempfile::TempDir;
use tollgate_application::{PasswordHasher, UserAdmin};
use tollgate_infrastructure::testing::TestDatabase;
use tollgate_server::cli::{run_client_command, ClientCommand};
use tollgate_server::{Application, Overrides, Services, Settings};

use crate::http::{agent, send};
use crate::{Response, TestClock};

/// Which storage backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL through PgBouncer in transaction pooling mode (skipped when not installed).
    PgBouncer,
}

/// What outlives one server process: the database and the data directory (keys).
pub struct TestEnv {
    pub backend: Backend,
    pub db: TestDatabase,
    pub data: TempDir,
}

impl TestEnv {
    /// A fresh database and data directory; `None` when Postgres tests are skipped.
    pub fn new(backend: Backend) -> Option<Arc<Self>> {
        let db = match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres()?,
            Backend::PgBouncer => TestDatabase::postgres_via_pgbouncer()?,
        };
        Some(Arc::new(Self {
            backend,
            db,
            data: tempfile::tempdir().unwrap(),
        }))
    }

    /// Settings for a server on this environment: port 0, cheap Argon2, two workers.
    pub fn settings(&self) -> Settings {
        let mut s = Settings {
            data_dir: self.data.path().to_path_buf(),
            ..Settings::default()
        };
        s.database.url = self.db.url().to_owned();
        s.database.statement_cache = self.db.statement_cache();
        s.server.bind = "127.0.0.1:0".into();
        s.server.workers = 2;
        s.server.shutdown_timeout = 1;
        s.password.memory_kib = 8;
        s.password.iterations = 1;
        s.tokens.issuer = "https://tollgate.test".into();
        // Every suite logs in from 127.0.0.1, many with wrong passwords on purpose; throttling
        // is out of reach except in the suites about it, which restore the defaults.
        s.login.max_failures = 1_000_000;
        s
    }
}

/// The real server, in-process on a random port, with an adjustable clock.
pub struct TestApp {
    pub base_url: String,
    pub clock: TestClock,
    pub services: Services,
    pub env: Arc<TestEnv>,
    /// The `server.metrics_bind` listener's port, when set.
    pub metrics_port: Option<u16>,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
    agent: ureq::Agent,
}

impl TestApp {
    /// A server on a fresh environment; `None` when Postgres tests are skipped.
    pub fn spawn(backend: Backend) -> Option<Self> {
        Some(Self::spawn_in(TestEnv::new(backend)?, |_| {}))
    }

    /// Like [`spawn`](Self::spawn), with settings adjusted first.
    pub fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Option<Self> {
        Some(Self::spawn_in(TestEnv::new(backend)?, tweak))
    }

    /// A server on an existing environment (e.g. to restart on the same database and keys).
    pub fn spawn_in(env: Arc<TestEnv>, tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start(env, None, tweak)
    }

    /// Like [`spawn_with`](Self::spawn_with), with the password hasher replaced.
    pub fn spawn_with_hasher(
        backend: Backend,
        hasher: Arc<dyn PasswordHasher>,
        tweak: impl FnOnce(&mut Settings),
    ) -> Option<Self> {
        Some(Self::start(TestEnv::new(backend)?, Some(hasher), tweak))
    }

    fn start(
        env: Arc<TestEnv>,
        hasher: Option<Arc<dyn PasswordHasher>>,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut settings = env.settings();
        tweak(&mut settings);
        let clock = TestClock::default();
        let overrides = Overrides {
            clock: Some(Arc::new(clock.clone())),
            hasher,
            // Tests restart a server on a freshly generated key and expect it to sign at once;
            // publishing ahead is tested by itself (tollgate-server's key_rotation tests).
            publish_ahead: Some(chrono::Duration::zero()),
        };
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match Application::build(&settings, overrides) {
                    Ok(app) => {
                        let _ = tx.send(Ok((
                            app.port(),
                            app.metrics_port(),
                            app.handle(),
                            app.services().clone(),
                        )));
                        app.run_until_stopped().await.unwrap();
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                }
            });
        });
        let (port, metrics_port, handle, services) =
            rx.recv().unwrap().expect("server failed to start");
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            clock,
            services,
            env,
            metrics_port,
            handle,
            thread: Some(thread),
            agent: agent(),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            actix_web::rt::System::new().block_on(self.handle.stop(true));
            thread.join().unwrap();
        }
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.env.data.path().join("keys")
    }

    pub fn admin(&self) -> UserAdmin {
        UserAdmin::new(self.services.ports.user_admin())
    }

    /// Creates a user (through the same use case as `tollgate user add`).
    pub fn add_user(&self, name: &str, password: &str) {
        self.admin().add(name, password).unwrap();
    }

    /// POSTs a form body to the token endpoint.
    pub fn post_token(&self, body: &str) -> Response {
        self.post_raw(
            "/api/oauth2/token",
            "application/x-www-form-urlencoded",
            body.as_bytes(),
        )
    }

    /// POSTs a form body to the token endpoint with one extra header.
    pub fn post_token_with_header(&self, body: &str, name: &str, value: &str) -> Response {
        send(
            self.agent
                .post(&format!("{}/api/oauth2/token", self.base_url))
                .set(name, value),
            Some(("application/x-www-form-urlencoded", body.as_bytes())),
        )
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Response {
        send(
            self.agent.post(&format!("{}{path}", self.base_url)),
            Some((content_type, body)),
        )
    }

    /// A request with any method, extra headers and an optional form body.
    pub fn send_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        form: Option<&str>,
    ) -> Response {
        let mut request = self
            .agent
            .request(method, &format!("{}{path}", self.base_url));
        for (name, value) in headers {
            request = request.set(name, value);
        }
        send(
            request,
            form.map(|f| ("application/x-www-form-urlencoded", f.as_bytes())),
        )
    }

    /// A GET, with an optional `Authorization` header value.
    pub fn get(&self, path: &str, authorization: Option<&str>) -> Response {
        let mut request = self.agent.get(&format!("{}{path}", self.base_url));
        if let Some(value) = authorization {
            request = request.set("Authorization", value);
        }
        send(request, None)
    }

    /// A request with any method (upper- or lower-case) and, except for GET, an empty form body.
    pub fn request(&self, method: &str, path: &str) -> Response {
        let method = method.to_ascii_uppercase();
        let request = self
            .agent
            .request(&method, &format!("{}{path}", self.base_url));
        let body = (method != "GET").then_some(("application/x-www-form-urlencoded", &b""[..]));
        send(request, body)
    }

    /// A POST with an empty form body and an optional `Authorization` header value.
    pub fn post_authorized(&self, path: &str, authorization: Option<&str>) -> Response {
        let mut request = self.agent.post(&format!("{}{path}", self.base_url));
        if let Some(value) = authorization {
            request = request.set("Authorization", value);
        }
        send(request, Some(("application/x-www-form-urlencoded", b"")))
    }

    /// POSTs a form body to `path`, with HTTP Basic client credentials (RFC 6749 §2.3.1: each
    /// part form-urlencoded, then base64).
    pub fn post_with_basic(&self, path: &str, id: &str, secret: &str, body: &str) -> Response {
        use base64::Engine as _;
        let pair = format!("{}:{}", encode(id), encode(secret));
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        );
        send(
            self.agent
                .post(&format!("{}{path}", self.base_url))
                .set("Authorization", &value),
            Some(("application/x-www-form-urlencoded", body.as_bytes())),
        )
    }

    /// Creates a client through the code of `tollgate client add <id> --grants <grants>` and
    /// returns what it printed: the secret.
    pub fn add_client(&self, id: &str, grants: &str) -> String {
        self.add_client_with(id, grants, false)
    }

    /// As [`TestApp::add_client`], with `--introspect-any` when `introspect_any` is set.
    pub fn add_client_with(&self, id: &str, grants: &str, introspect_any: bool) -> String {
        let mut out = Vec::new();
        let cmd = ClientCommand::Add {
            id: id.to_owned(),
            grants: grants.to_owned(),
            introspect_any,
        };
        run_client_command(&self.env.settings(), cmd, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .trim_end_matches('\n')
            .to_owned()
    }

    /// Product-dialect login.
    pub fn login(&self, user: &str, password: &str) -> Response {
        self.post_token(&format!(
            "grantType=Password&userName={}&password={}",
            encode(user),
            encode(password)
        ))
    }

    /// Product-dialect refresh.
    pub fn refresh(&self, refresh_token: &str) -> Response {
        self.post_token(&format!(
            "grantType=RefreshToken&refreshToken={refresh_token}"
        ))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
