//! JWTs: the on-disk [`KeySet`] with its rotation rules, the RS512 [`JwtCodec`] (API.md §2) that
//! also publishes the JWKS, and [`JwksVerifier`] for services that only have the JWKS.
//!
//! Signing and verifying use OpenSSL directly, with the signing key parsed once at load, so the
//! hot path never re-reads PEM and there is one crypto stack in the build.

mod claims_wire;
mod codec;
mod jwks_verifier;
mod keys;
mod lifecycle;
mod publish;
mod strict_json;
mod verify;

pub use codec::JwtCodec;
pub use jwks_verifier::JwksVerifier;
pub use keys::{KeyInfo, KeySet};
pub use lifecycle::{key_trust_window, KeyStatus, Retirement};

#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod jwks_tests;
#[cfg(test)]
mod keys_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod test_support;
