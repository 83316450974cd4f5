#![doc = include_str!("../README.md")]

mod claims;
mod client;
mod dpop;
mod error;
mod ids;
mod policy;
pub mod rotation;
mod session;
mod throttle;
mod user;

pub use claims::{AccessClaims, RefreshClaims};
pub use client::{Client, ClientId, ClientSecret, GrantType, SecretDigest};
pub use dpop::{DpopRejection, Jkt};
pub use error::DomainError;
pub use ids::{AccessTokenId, FamilyId, TokenId, UserId};
pub use policy::{key_trusted_until, whole_seconds, TokenPolicy};
pub use session::{Family, RefreshTokenRecord, RevokeReason, TokenRejection};
pub use throttle::{ThrottleKey, ThrottlePolicy};
pub use user::{Password, PasswordHash, User, UserName};
