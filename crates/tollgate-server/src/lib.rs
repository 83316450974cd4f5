#![doc = include_str!("../README.md")]

// The server keeps users and sessions, so it needs storage; the infrastructure crate alone does
// not (a service verifying tokens with the JWKS builds it without any backend).
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!(
    "tollgate-server needs at least one storage backend: enable `sqlite` and/or `postgres`"
);

mod audit_cli;
pub mod cli;
mod client_cli;
mod config_cli;
mod error;
mod keys_cli;
mod log_limit;
mod maintenance;
pub mod operations;
mod settings;
mod startup;
pub mod telemetry;
mod tls;
mod wiring;

pub use error::ServerError;
pub use settings::{
    AuditSettings, AuthSettings, BootstrapSettings, DatabaseSettings, KeySettings, LogFormat,
    LogSettings, LoginSettings, PasswordSettings, PurgeSettings, SecretString, ServerSettings,
    Settings, TlsSettings, TokenSettings,
};
pub use startup::{Application, Overrides};
pub use wiring::{open_services, Services};
