//! End-to-end suites: the real actix app, through HTTP, on SQLite and PostgreSQL.
//!
//! One test binary per package: every file that used to be its own binary under `tests/` is a
//! module here, so the package's dependencies are linked once instead of once per file.

mod bearer_endpoints;
mod bootstrap_once;
mod bounded_hashing;
mod clients_and_revocation;
mod dpop;
mod guard_example;
mod hostile_input;
mod keys_and_discovery;
mod load_tool;
mod login_race;
mod login_throttle;
mod openapi;
mod operations;
mod postgres_outage;
mod purge;
mod refresh_admission;
mod refresh_race;
mod rehash_on_login;
mod response_headers;
mod retry_grace;
mod security_events;
mod tls;
mod token_endpoint;
