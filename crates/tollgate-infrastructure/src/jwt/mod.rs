//! JWTs: the on-disk [`KeySet`] with its rotation rules, the [`JwtCodec`] (API.md §2; RS512, ES256
//! or EdDSA per key) that also publishes the JWKS, and [`JwksVerifier`] for services that only have the JWKS.
//!
//! Verification goes through `jsonwebtoken` (`decode_header`, `decode` with a pinned
//! `Validation`), whose cryptography is OpenSSL through [`OPENSSL_PROVIDER`]; signing calls
//! OpenSSL directly with the signing key parsed once at load. One crypto stack in the build.

mod algorithm;
mod claims_wire;
mod codec;
mod jwks_verifier;
mod key_dir;
mod keys;
mod lifecycle;
mod provider;
mod publish;
mod rescan;
mod verify;
mod x509;

pub use algorithm::{SigningAlgorithm, UnknownAlgorithm};
pub use codec::JwtCodec;
pub use jwks_verifier::JwksVerifier;
pub use key_dir::{shared_secret, Retirement, SHARED_SECRET_BYTES};
pub use keys::{KeyInfo, KeySet, SigningSchedule};
pub use lifecycle::KeyStatus;
pub(crate) use provider::ensure_installed as ensure_provider_installed;
pub use provider::OPENSSL_PROVIDER;
pub use rescan::KeyDirectory;
pub(crate) use verify::Present;

#[cfg(test)]
mod tests;
