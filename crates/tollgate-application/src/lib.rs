#![doc = include_str!("../README.md")]

mod access;
mod audit;
mod clients;
mod dpop;
mod error;
mod events;
mod introspection;
mod issue;
mod login;
mod operations;
mod ports;
mod public_keys;
mod refresh;
mod revocation;
mod services;
mod users;

pub use access::{AccessGuard, TokenCheckPorts};
pub use audit::{AuditTrail, AuditTrailPorts};
pub use clients::{
    ClientAdmin, ClientAdminPorts, ClientAuthenticator, ClientAuthenticatorPorts,
    ClientCredentials, NewClient,
};
pub use dpop::{DpopCheck, DpopPorts};
pub use error::{BoxError, Error};
pub use events::*;
pub use introspection::{Introspected, Introspection};
pub use issue::TokenPair;
pub use login::{Login, LoginPorts, LoginRequest};
pub use operations::{Metrics, NotReady, Readiness};
#[cfg(any(test, feature = "mock"))]
pub use operations::{MockMetrics, MockReadiness};
pub use ports::*;
pub use public_keys::*;
pub use refresh::{Refresh, RefreshPorts};
pub use revocation::{Revocation, TokenTypeHint};
pub use services::Ports;
pub use users::{UserAdmin, UserAdminPorts};
