//! Throwaway databases for tests (feature `test-support`).
//!
//! Each [`TestDatabase`] is isolated by its URL alone, so it can be handed to another process
//! (a spawned `tollgate serve`) as well as to [`Database::connect`](crate::db::Database::connect):
//!
//! - SQLite: a fresh file in a temporary directory (the directory, not a bare temp file, because
//!   WAL mode adds `-wal` and `-shm` files next to the database), removed on drop.
//! - PostgreSQL: a fresh schema in the database named by `TOLLGATE_TEST_POSTGRES_URL`, selected
//!   through libpq's `options=-csearch_path=<schema>` URL parameter and dropped (with everything
//!   in it) on drop. A schema rather than a database: creating one is a cheap transactional
//!   statement, while `CREATE DATABASE` copies a template, takes far longer and fails while any
//!   other session is connected to that template, which parallel tests would trip over.

use crate::db::Backend;

mod dpop_client;
pub use dpop_client::{DpopKey, Proof};

/// The environment variable naming the PostgreSQL database that test schemas are created in.
pub const POSTGRES_URL_VAR: &str = "TOLLGATE_TEST_POSTGRES_URL";

/// A throwaway database, removed when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// Dropping the directory removes the database and its WAL files.
    Sqlite { _dir: tempfile::TempDir },
    /// `DROP SCHEMA … CASCADE` through the base URL.
    #[cfg(feature = "postgres")]
    Postgres { base_url: String, schema: String },
    /// Stop PgBouncer, then drop the schema and its role through the base URL.
    #[cfg(feature = "postgres")]
    PgBouncer {
        base_url: String,
        schema: String,
        bouncer: pgbouncer::PgBouncer,
    },
}

impl TestDatabase {
    /// A fresh SQLite file in a new temporary directory.
    ///
    /// # Panics
    /// When the temporary directory cannot be created (a broken test machine).
    pub fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tollgate-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory for SQLite: {e}"));
        let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
        Self {
            url,
            cleanup: Cleanup::Sqlite { _dir: dir },
        }
    }

    /// A fresh schema in the PostgreSQL database named by `TOLLGATE_TEST_POSTGRES_URL`, or
    /// `None` (after printing one line saying the test is skipped) when the variable is unset.
    ///
    /// # Panics
    /// When the variable is unset and `CI` is set (see [`skip_postgres`]), and when the variable is set but PostgreSQL does not answer or refuses to create the schema:
    /// a configured database that is down must fail the test run, not skip it.
    pub fn postgres() -> Option<Self> {
        let base_url = match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                skip_postgres(&format!("{POSTGRES_URL_VAR} not set"));
                return None;
            }
        };
        Self::postgres_at(base_url)
    }

    #[cfg(feature = "postgres")]
    fn postgres_at(base_url: String) -> Option<Self> {
        use diesel::connection::SimpleConnection;

        let schema = format!("tollgate_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection(&base_url);
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap_or_else(|e| panic!("cannot create test schema {schema}: {e}"));
        // `%3D` is `=`: libpq percent-decodes URI parameters, and `-c` sets search_path at
        // connection start, so every connection made from this URL lands in the schema.
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}options=-csearch_path%3D{schema}");
        Some(Self {
            url,
            cleanup: Cleanup::Postgres { base_url, schema },
        })
    }

    /// Like [`TestDatabase::postgres`], but reached through a PgBouncer in transaction pooling
    /// mode started for this database alone, on a free port; `None` (after printing why) when
    /// the variable is unset or `pgbouncer` is not installed.
    ///
    /// PgBouncer refuses libpq's `options` startup parameter, so the schema is selected another
    /// way: a role of the same name owns it and has `search_path` set to it (`ALTER ROLE … SET`),
    /// which PostgreSQL applies when PgBouncer opens a server connection for that role. Connect
    /// with `statement_cache` off ([`TestDatabase::statement_cache`]).
    ///
    /// # Panics
    /// When PostgreSQL does not answer, or PgBouncer is installed but does not start.
    #[cfg(feature = "postgres")]
    pub fn postgres_via_pgbouncer() -> Option<Self> {
        use diesel::connection::SimpleConnection;

        let base_url = match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                eprintln!("skipped: {POSTGRES_URL_VAR} not set");
                return None;
            }
        };
        let binary = pgbouncer::find()?;
        let schema = format!("tollgate_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection(&base_url);
        admin
            .batch_execute(&format!(
                "CREATE ROLE {schema} LOGIN; \
                 CREATE SCHEMA {schema} AUTHORIZATION {schema}; \
                 ALTER ROLE {schema} SET search_path = {schema};"
            ))
            .unwrap_or_else(|e| panic!("cannot create test role and schema {schema}: {e}"));
        let bouncer = pgbouncer::PgBouncer::start(&binary, &mut admin, &schema);
        let url = bouncer.url(&schema);
        Some(Self {
            url,
            cleanup: Cleanup::PgBouncer {
                base_url,
                schema,
                bouncer,
            },
        })
    }

    /// Whether connections to this database may keep prepared statements: not behind PgBouncer.
    pub fn statement_cache(&self) -> bool {
        match self.cleanup {
            #[cfg(feature = "postgres")]
            Cleanup::PgBouncer { .. } => false,
            _ => true,
        }
    }

    #[cfg(not(feature = "postgres"))]
    fn postgres_at(_base_url: String) -> Option<Self> {
        skip_postgres("built without the `postgres` feature");
        None
    }

    /// A URL [`Database::connect`](crate::db::Database::connect) accepts, naming only this
    /// test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend this database is.
    pub fn backend(&self) -> Backend {
        match self.cleanup {
            Cleanup::Sqlite { .. } => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Cleanup::Postgres { .. } | Cleanup::PgBouncer { .. } => Backend::Postgres,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        #[cfg(feature = "postgres")]
        if let Cleanup::Postgres { base_url, schema } = &self.cleanup {
            use diesel::connection::SimpleConnection;
            use diesel::Connection;

            // Never panic in drop (it may run during a panic); a leftover schema is harmless.
            let dropped = diesel::PgConnection::establish(base_url)
                .map_err(|e| e.to_string())
                .and_then(|mut admin| {
                    admin
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = dropped {
                eprintln!("warning: could not drop test schema {schema}: {e}");
            }
        }
        #[cfg(feature = "postgres")]
        if let Cleanup::PgBouncer {
            base_url,
            schema,
            bouncer,
        } = &mut self.cleanup
        {
            use diesel::connection::SimpleConnection;
            use diesel::Connection;

            // Closing PgBouncer closes its server connections, which the role may not outlive.
            bouncer.stop();
            let dropped = diesel::PgConnection::establish(base_url)
                .map_err(|e| e.to_string())
                .and_then(|mut admin| {
                    admin
                        .batch_execute(&format!(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                             WHERE usename = '{schema}'; \
                             DROP SCHEMA IF EXISTS {schema} CASCADE; DROP ROLE IF EXISTS {schema};"
                        ))
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = dropped {
                eprintln!("warning: could not drop test schema and role {schema}: {e}");
            }
        }
    }
}

#[cfg(feature = "postgres")]
mod pgbouncer {
    //! A PgBouncer process in transaction pooling mode in front of the test database.

    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use diesel::{PgConnection, QueryableByName, RunQueryDsl};

    /// `pgbouncer` on the `PATH` or in Debian's `/usr/sbin`, or `None` after saying so.
    pub(super) fn find() -> Option<PathBuf> {
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default();
        let found = on_path
            .into_iter()
            .chain([PathBuf::from("/usr/sbin")])
            .map(|dir| dir.join("pgbouncer"))
            .find(|p| p.is_file());
        if found.is_none() {
            eprintln!("skipped: pgbouncer is not installed (apt-get install -y pgbouncer)");
        }
        found
    }

    #[derive(QueryableByName)]
    struct Server {
        #[diesel(sql_type = diesel::sql_types::Text)]
        host: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        port: i32,
        #[diesel(sql_type = diesel::sql_types::Text)]
        db: String,
    }

    /// The running process and its configuration directory; killed on [`PgBouncer::stop`].
    #[derive(Debug)]
    pub(crate) struct PgBouncer {
        child: Option<Child>,
        port: u16,
        db: String,
        dir: tempfile::TempDir,
    }

    impl PgBouncer {
        /// Starts PgBouncer for `role` on the server and database `admin` is connected to.
        pub(super) fn start(binary: &Path, admin: &mut PgConnection, role: &str) -> Self {
            let server: Server = diesel::sql_query(
                "SELECT coalesce(host(inet_server_addr()), '127.0.0.1') AS host, \
                        coalesce(inet_server_port(), 5432) AS port, current_database() AS db",
            )
            .get_result(admin)
            .unwrap_or_else(|e| panic!("cannot read the server address: {e}"));
            let dir = tempfile::tempdir()
                .unwrap_or_else(|e| panic!("cannot create a directory for PgBouncer: {e}"));
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap_or_else(|e| panic!("no free port for PgBouncer: {e}"));
            let users = dir.path().join("users.txt");
            std::fs::write(&users, format!("\"{role}\" \"\"\n"))
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", users.display()));
            let ini = dir.path().join("pgbouncer.ini");
            std::fs::write(
                &ini,
                format!(
                    "[databases]\n{db} = host={host} port={server_port} dbname={db}\n\
                     [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                     unix_socket_dir =\nauth_type = trust\nauth_file = {users}\n\
                     pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 20\n\
                     logfile = {log}\n",
                    db = server.db,
                    host = server.host,
                    server_port = server.port,
                    users = users.display(),
                    log = dir.path().join("pgbouncer.log").display(),
                ),
            )
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", ini.display()));
            // PgBouncer refuses to run as root (as CI containers run): drop to `nobody` then, with
            // the directory opened to it (it holds no secret: authentication is `trust`).
            let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.uid() == 0
            });
            let mut command = if as_root {
                use std::os::unix::fs::PermissionsExt;
                let _ =
                    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777));
                let mut c = Command::new("setpriv");
                c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                    .arg(binary);
                c
            } else {
                Command::new(binary)
            };
            let child = command
                .arg(&ini)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut bouncer = Self {
                child: Some(child),
                port,
                db: server.db,
                dir,
            };
            bouncer.wait_until_listening();
            bouncer
        }

        fn wait_until_listening(&mut self) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                let exited = self
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten());
                if exited.is_some() || Instant::now() > deadline {
                    let log = std::fs::read_to_string(self.dir.path().join("pgbouncer.log"))
                        .unwrap_or_default();
                    panic!("PgBouncer did not start ({exited:?}):\n{log}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        /// The URL of the test database through this PgBouncer, as `role`.
        pub(super) fn url(&self, role: &str) -> String {
            format!("postgres://{role}@127.0.0.1:{}/{}", self.port, self.db)
        }

        /// Kills the process and waits for it (idempotent).
        pub(super) fn stop(&mut self) {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    impl Drop for PgBouncer {
        fn drop(&mut self) {
            self.stop();
        }
    }
}

/// Says that a PostgreSQL test is skipped, and why; or fails it when the `CI` environment
/// variable is set (to anything but the empty string), so that a green CI run always means both
/// backends ran. Every Postgres test that cannot run calls this.
///
/// # Panics
/// When `CI` is set.
pub fn skip_postgres(reason: &str) {
    report_skip(std::env::var_os("CI"), reason);
}

fn report_skip(ci: Option<std::ffi::OsString>, reason: &str) {
    if ci.is_some_and(|v| !v.is_empty()) {
        panic!("PostgreSQL test not run under CI: {reason}; a CI run must test both backends");
    }
    eprintln!("skipped: {reason}");
}

#[cfg(test)]
mod skip_tests {
    use super::report_skip;

    #[test]
    fn outside_ci_a_skip_only_says_so() {
        report_skip(None, "no database");
        report_skip(Some("".into()), "no database");
    }

    #[test]
    #[should_panic(expected = "PostgreSQL test not run under CI: no database")]
    fn under_ci_a_skip_fails() {
        report_skip(Some("true".into()), "no database");
    }
}

#[cfg(feature = "postgres")]
fn admin_connection(url: &str) -> diesel::PgConnection {
    use diesel::Connection;

    diesel::PgConnection::establish(url)
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is set but PostgreSQL does not answer: {e}"))
}

#[cfg(feature = "postgres")]
pub use explain::RefreshPathPlans;

#[cfg(feature = "postgres")]
mod explain {
    use diesel::connection::SimpleConnection;
    use diesel::pg::Pg;
    use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
    use diesel::{PgConnection, QueryResult, RunQueryDsl};
    use uuid::Uuid;

    use super::{admin_connection, TestDatabase};
    use crate::db::session_queries as q;
    use crate::db::types::{DbTime, DbUuid};

    /// `EXPLAIN` in front of a query, keeping its bind parameters.
    struct Explain<Q>(Q);

    impl<Q> QueryId for Explain<Q> {
        type QueryId = ();
        const HAS_STATIC_QUERY_ID: bool = false;
    }

    impl<Q> Query for Explain<Q> {
        type SqlType = diesel::sql_types::Text;
    }

    impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Explain<Q> {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
            out.push_sql("EXPLAIN ");
            self.0.walk_ast(out.reborrow())
        }
    }

    impl<Q> RunQueryDsl<PgConnection> for Explain<Q> {}

    fn plan<Q: QueryFragment<Pg>>(conn: &mut PgConnection, query: Q) -> String {
        Explain(query)
            .load::<String>(conn)
            .unwrap_or_else(|e| panic!("EXPLAIN failed: {e}"))
            .join("\n")
    }

    /// The PostgreSQL plans of the statements a refresh (and a reuse) runs, as the stores build
    /// them, planned with sequential scans disabled: a statement that still shows `Seq Scan`
    /// has no usable index.
    #[derive(Debug, Clone)]
    pub struct RefreshPathPlans {
        /// Looking a token up with its family (`find_token`, and `rotate`'s diagnosis).
        pub find_token: String,
        /// Looking a token up with its family and their owner (`find_token_with_owner`, the
        /// refresh grant's read).
        pub find_token_with_owner: String,
        /// Why a token could not be spent (`rotate` when its UPDATE matched nothing).
        pub token_state: String,
        /// The rotation as PostgreSQL runs it: the conditional UPDATE that spends a token and
        /// the successor's INSERT, in one statement.
        pub spend_token: String,
        /// Revoking one family (reuse detected, logout).
        pub revoke_family: String,
        /// Revoking every family of a user.
        pub revoke_user_families: String,
    }

    impl TestDatabase {
        /// Explains the refresh path's statements in this (migrated) PostgreSQL database.
        ///
        /// # Panics
        /// When the database does not answer or a statement cannot be explained.
        pub fn explain_refresh_path(&self) -> RefreshPathPlans {
            let mut conn = admin_connection(self.url());
            conn.batch_execute("SET enable_seqscan = off")
                .unwrap_or_else(|e| panic!("cannot disable sequential scans: {e}"));
            let id = || DbUuid(Uuid::new_v4());
            let at = DbTime::from(chrono::DateTime::UNIX_EPOCH);
            let successor = tollgate_domain::RefreshTokenRecord {
                id: tollgate_domain::TokenId::from_uuid(Uuid::new_v4()),
                family_id: tollgate_domain::FamilyId::from_uuid(Uuid::new_v4()),
                parent_id: Some(tollgate_domain::TokenId::from_uuid(Uuid::new_v4())),
                access_token_id: tollgate_domain::AccessTokenId::from_uuid(Uuid::new_v4()),
                issued_at: chrono::DateTime::UNIX_EPOCH,
                expires_at: chrono::DateTime::UNIX_EPOCH,
                used_at: None,
            };
            RefreshPathPlans {
                find_token: plan(&mut conn, q::token_with_family(id())),
                find_token_with_owner: plan(&mut conn, q::token_with_family_and_owner(id())),
                token_state: plan(&mut conn, q::token_state(id())),
                spend_token: plan(
                    &mut conn,
                    q::spend_and_store(id(), at, &crate::db::rows::TokenRow::from(&successor)),
                ),
                revoke_family: plan(&mut conn, q::revoke_family(id(), at, "admin")),
                revoke_user_families: plan(&mut conn, q::revoke_user_families(id(), at, "admin")),
            }
        }

        /// Explains each purge step's batch statement (as `Database::purge` runs it) in this
        /// (migrated) PostgreSQL database, with sequential scans disabled; returns
        /// `(step, plan)` pairs.
        ///
        /// # Panics
        /// When the database does not answer or a statement cannot be explained.
        pub fn explain_purge(&self) -> Vec<(&'static str, String)> {
            let mut conn = admin_connection(self.url());
            conn.batch_execute("SET enable_seqscan = off")
                .unwrap_or_else(|e| panic!("cannot disable sequential scans: {e}"));
            let at = DbTime::from(chrono::DateTime::UNIX_EPOCH);
            crate::db::purge_statements()
                .into_iter()
                .map(|(step, sql)| {
                    let plan = diesel::sql_query(format!("EXPLAIN {sql}"))
                        .bind::<crate::db::types::sql::Instant, _>(at)
                        .bind::<diesel::sql_types::BigInt, _>(100_i64)
                        .load::<PlanLine>(&mut conn)
                        .unwrap_or_else(|e| panic!("EXPLAIN of the {step} purge failed: {e}"))
                        .into_iter()
                        .map(|l| l.line)
                        .collect::<Vec<_>>()
                        .join("\n");
                    (step, plan)
                })
                .collect()
        }
    }

    /// One line of `EXPLAIN` output.
    #[derive(diesel::QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
}

/// Instantiates each scenario of the calling module once per backend: the store contract
/// (`contract!` in this crate's tests) and the end-to-end suites (`tollgate_tests::backend_tests!`)
/// are both this macro with their own list of backends.
///
/// ```text
/// per_backend! {
///     [sqlite => Some(&TestDatabase::sqlite()), postgres => TestDatabase::postgres().as_ref()]
///     a_scenario, another_scenario,
/// }
/// ```
///
/// makes `sqlite::a_scenario`, `postgres::a_scenario`, … as `#[test]`s, each calling
/// `super::a_scenario(fixture)`. A fixture is an `Option`, evaluated inside the test: `None` means
/// the backend is skipped (the fixture prints why). Paths in a fixture resolve from the generated
/// module, one level below the caller.
#[macro_export]
macro_rules! per_backend {
    ($backends:tt $($name:ident),* $(,)?) => {
        $crate::per_backend!(@backends [$($name),*] $backends);
    };
    (@backends $names:tt [$($backend:ident => $fixture:expr),+ $(,)?]) => {
        $( $crate::per_backend!(@one $backend $fixture; $names); )+
    };
    (@one $backend:ident $fixture:expr; [$($name:ident),*]) => {
        mod $backend {
            $(
                #[test]
                fn $name() {
                    if let Some(fixture) = $fixture {
                        super::$name(fixture);
                    }
                }
            )*
        }
    };
}
