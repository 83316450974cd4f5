use std::sync::Arc;

use crate::{
    ClientStore, Clock, IdGenerator, LoginThrottle, PasswordHasher, PublicKeys, SecretHasher,
    SecurityEvents, SessionStore, TokenSigner, TokenVerifier, UserStore,
};

/// One adapter for every port; the use cases take what they need from it.
#[derive(Clone)]
pub struct Ports {
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Id source.
    pub ids: Arc<dyn IdGenerator>,
    /// User accounts.
    pub users: Arc<dyn UserStore>,
    /// Families and refresh-token records.
    pub sessions: Arc<dyn SessionStore>,
    /// JWT signing.
    pub signer: Arc<dyn TokenSigner>,
    /// JWT verification.
    pub verifier: Arc<dyn TokenVerifier>,
    /// The published verification keys (JWKS).
    pub public_keys: Arc<dyn PublicKeys>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Security event sink.
    pub events: Arc<dyn SecurityEvents>,
    /// Configured OAuth clients.
    pub clients: Arc<dyn ClientStore>,
    /// Client-secret digests.
    pub secrets: Arc<dyn SecretHasher>,
    /// Failed-login counters (brute-force throttling).
    pub throttle: Arc<dyn LoginThrottle>,
}
