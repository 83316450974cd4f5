//! JWTs: the on-disk [`KeySet`] and the RS512 [`JwtCodec`] (API.md §2).
//!
//! Signing and verifying use OpenSSL directly, with the signing key parsed once at load, so the
//! hot path never re-reads PEM and there is one crypto stack in the build.

mod claims_wire;
mod codec;
mod keys;

pub use codec::JwtCodec;
pub use keys::{KeyInfo, KeySet};

#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod keys_tests;
#[cfg(test)]
mod test_support;
