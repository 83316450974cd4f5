//! The port behind the JWKS endpoint: the public keys other services verify our tokens with.

use chrono::{DateTime, Utc};
#[cfg(any(test, feature = "mock"))]
use mockall::automock;

/// One published verification key, a JSON Web Key (RFC 7517) with every member already
/// encoded, so the web layer only serializes it. Never holds private members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    /// Key type: `RSA`, `EC` or `OKP` (matching [`PublicJwk::params`]).
    pub kty: String,
    /// Intended use, the JWK `use` member: `sig`.
    pub key_use: String,
    /// The algorithm tokens signed with this key use: `RS512`, `ES256` or `EdDSA`.
    pub alg: String,
    /// The key id tokens name in their header.
    pub kid: String,
    /// The key's own members.
    pub params: JwkParams,
    /// base64url SHA-1 thumbprint of the key's DER certificate.
    pub x5t: String,
}

/// The members of a public JWK that depend on its key type, base64url-encoded without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwkParams {
    /// `kty: RSA` (RFC 7518 §6.3.1).
    Rsa {
        /// Modulus, big-endian, without leading zero bytes.
        n: String,
        /// Public exponent, encoded like `n`.
        e: String,
    },
    /// `kty: EC` (RFC 7518 §6.2.1).
    Ec {
        /// Curve: `P-256`.
        crv: String,
        /// X coordinate, the full 32 bytes.
        x: String,
        /// Y coordinate, the full 32 bytes.
        y: String,
    },
    /// `kty: OKP` (RFC 8037 §2).
    Okp {
        /// Curve: `Ed25519`.
        crv: String,
        /// The 32-byte public key.
        x: String,
    },
}

impl JwkParams {
    /// The JWK `kty` of these members.
    pub fn kty(&self) -> &'static str {
        match self {
            Self::Rsa { .. } => "RSA",
            Self::Ec { .. } => "EC",
            Self::Okp { .. } => "OKP",
        }
    }
}

/// The keys a verifier needs to check our tokens offline.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait PublicKeys: Send + Sync {
    /// Every key that can still verify a live token at `now`: the signing key and each older key
    /// whose tokens may not have expired yet; never a key whose tokens all have.
    ///
    /// Infallible: adapters prepare the encoded keys when they load them, so answering needs no
    /// I/O.
    fn jwks(&self, now: DateTime<Utc>) -> Vec<PublicJwk>;
}

/// The ports [`PublishedKeys`] uses, and only those.
#[derive(Clone)]
pub struct PublishedKeysPorts {
    /// The keys that verify tokens.
    pub public_keys: std::sync::Arc<dyn PublicKeys>,
    /// Time source: a key leaves the set when its trust window ends.
    pub clock: std::sync::Arc<dyn crate::Clock>,
}

/// The JWKS use case: every key that can still verify a live token, right now.
#[derive(Clone)]
pub struct PublishedKeys {
    ports: PublishedKeysPorts,
}

impl PublishedKeys {
    /// Builds the use case.
    pub fn new(ports: PublishedKeysPorts) -> Self {
        Self { ports }
    }

    /// The keys to publish now. Answered from memory: no blocking work.
    pub fn current(&self) -> Vec<PublicJwk> {
        self.ports.public_keys.jwks(self.ports.clock.now())
    }

    /// The distinct `alg` of the keys published now, in the order of [`current`](Self::current)
    /// (the signing key's first): what tokens from this server may be signed with.
    pub fn signing_algorithms(&self) -> Vec<String> {
        let mut algorithms: Vec<String> = Vec::new();
        for key in self.current() {
            if !algorithms.contains(&key.alg) {
                algorithms.push(key.alg);
            }
        }
        algorithms
    }
}
