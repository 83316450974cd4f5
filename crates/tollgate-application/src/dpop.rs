use std::sync::Arc;

use crate::{Clock, DpopProof, DpopReplayCache, DpopVerifier, Error};
use tollgate_domain::DpopRejection;

/// The ports [`DpopCheck`] uses, and only those.
#[derive(Clone)]
pub struct DpopPorts {
    /// The instant the proof's `iat` is judged against.
    pub clock: Arc<dyn Clock>,
    /// Checks the proof itself.
    pub verifier: Arc<dyn DpopVerifier>,
    /// Makes each proof single-use (the database for Tollgate, memory for a one-process host).
    pub replay: Arc<dyn DpopReplayCache>,
}

/// Accepts a DPoP proof (RFC 9449 §4.3) for one request: verified, then remembered, so that a
/// replayed proof is refused. The token endpoint binds or checks the key it names; a resource
/// route checks it against the access token's `cnf.jkt`.
#[derive(Clone)]
pub struct DpopCheck {
    ports: DpopPorts,
}

impl DpopCheck {
    /// Builds the use case.
    pub fn new(ports: DpopPorts) -> Self {
        Self { ports }
    }

    /// The JWS algorithms a proof may be signed with (RFC 9449 §5.1 metadata).
    pub fn algorithms(&self) -> Vec<String> {
        self.ports.verifier.algorithms()
    }

    /// Accepts `proof` for a `method` request to `path` (below the public base URL), with
    /// `access_token` when one is presented (the proof must then carry its `ath`). Blocking
    /// (the replay cache may be the database).
    ///
    /// The proof is remembered only once it verified, so garbage costs no write; a verified
    /// proof is spent even if the request then fails for another reason, as RFC 9449 §11.1
    /// allows: a client makes a fresh proof for every request.
    ///
    /// # Errors
    /// [`Error::InvalidDpopProof`] for a proof that does not verify, or
    /// [`DpopRejection::Replayed`] for one seen before; replay-cache errors as the port returns
    /// them.
    pub fn check(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        access_token: Option<&str>,
    ) -> Result<DpopProof, Error> {
        let p = &self.ports;
        let accepted = p
            .verifier
            .verify(proof, method, path, access_token, p.clock.now())?;
        if p.replay
            .remember(&accepted.jkt, &accepted.jti, accepted.expires_at)?
        {
            Ok(accepted)
        } else {
            Err(Error::InvalidDpopProof(DpopRejection::Replayed))
        }
    }
}
