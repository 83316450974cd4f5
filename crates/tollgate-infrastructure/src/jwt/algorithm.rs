//! The signature algorithms of our keys.

use std::fmt;
use std::str::FromStr;

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

/// The algorithm of a key pair (API.md §2): each key signs, and verifies, with exactly this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-512, RSA of at least 2048 bits (generated: 2048).
    #[default]
    #[serde(rename = "RS512")]
    Rs512,
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// EdDSA with Ed25519 (RFC 8037).
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl SigningAlgorithm {
    /// Every algorithm, in the order the documentation lists them.
    pub const ALL: [SigningAlgorithm; 3] = [Self::Rs512, Self::Es256, Self::EdDsa];

    /// The JOSE name: `RS512`, `ES256` or `EdDSA`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs512 => "RS512",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The same algorithm as `jsonwebtoken` names it.
    pub fn jws(self) -> Algorithm {
        match self {
            Self::Rs512 => Algorithm::RS512,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signing algorithm {0:?} (use RS512, ES256 or EdDSA)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for SigningAlgorithm {
    type Err = UnknownAlgorithm;

    /// The JOSE name, exactly (`RS512`, `ES256`, `EdDSA`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.name() == s)
            .ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}
