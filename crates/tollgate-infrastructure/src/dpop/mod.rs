//! DPoP (RFC 9449): [`ProofVerifier`], the [`DpopVerifier`](tollgate_application::DpopVerifier)
//! adapter; [`MemoryReplayCache`], a bounded in-process
//! [`DpopReplayCache`](tollgate_application::DpopReplayCache) for hosts that run one process;
//! and [`HmacNonces`], server nonces derived from a shared secret and the time.
//! The database's replay cache, which holds across processes, is `db::DieselDpopReplayCache`.
//!
//! Verification goes through `jsonwebtoken` (`decode_header`, `DecodingKey::from_jwk`, `decode`
//! with a `Validation` pinned to the header's allowed `alg`, `Jwk::thumbprint`), whose
//! cryptography is the OpenSSL provider of [`crate::jwt`].

mod memory;
mod nonce;
mod verifier;

pub use memory::MemoryReplayCache;
pub use nonce::{HmacNonces, DEFAULT_NONCE_LIFETIME_SECS, NONCE_SECRET_FILE};
pub use verifier::{ProofVerifier, DEFAULT_MAX_AGE_SECS, MAX_PROOF_BYTES};

#[cfg(test)]
mod tests;
