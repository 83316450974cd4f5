#![doc = include_str!("../README.md")]

mod access;
mod error;
mod issue;
mod login;
mod ports;
mod refresh;
mod services;
mod users;

pub use access::AccessGuard;
pub use error::{BoxError, Error};
pub use issue::TokenPair;
pub use login::{Login, LoginRequest};
pub use ports::*;
pub use refresh::Refresh;
pub use services::Ports;
pub use users::UserAdmin;
