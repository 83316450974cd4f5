#![doc = include_str!("../README.md")]

mod clock;
pub mod dpop;
// Storage is optional so that a service verifying tokens with `jwt::JwksVerifier` builds
// neither diesel nor a database client library.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod db;
mod error;
mod events;
pub mod files;
mod ids;
pub mod jwt;
mod password;
pub mod redact;
mod secrets;
#[cfg(all(
    feature = "test-support",
    any(feature = "sqlite", feature = "postgres")
))]
pub mod testing;

pub use clock::SystemClock;
pub use error::InfraError;
pub use events::{FanOutSecurityEvents, LogSecurityEvents};
pub use ids::RandomIds;
pub use password::{Argon2Hasher, Argon2Params};
pub use secrets::Sha256Secrets;
