#![doc = include_str!("../README.md")]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!(
    "tollgate-infrastructure needs at least one storage backend: enable `sqlite` and/or `postgres`"
);

mod clock;
pub mod db;
mod error;
mod events;
mod ids;
pub mod jwt;
mod password;
#[cfg(feature = "test-support")]
pub mod testing;

pub use clock::SystemClock;
pub use error::InfraError;
pub use events::LogSecurityEvents;
pub use ids::RandomIds;
pub use password::{Argon2Hasher, Argon2Params};
