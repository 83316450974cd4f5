use std::sync::Arc;

use crate::{Clock, DpopNonces, DpopProof, DpopReplayCache, DpopVerifier, Error};
use tollgate_domain::{AccessClaims, DpopRejection, TokenRejection};

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
/// route checks it against the access token's `cnf.jkt` ([`DpopCheck::check_presented`]).
#[derive(Clone)]
pub struct DpopCheck {
    ports: DpopPorts,
    /// Server nonces (RFC 9449 §8), when proofs must carry one.
    nonces: Option<Arc<dyn DpopNonces>>,
}

impl DpopCheck {
    /// Builds the use case; proofs need no server nonce.
    pub fn new(ports: DpopPorts) -> Self {
        Self {
            ports,
            nonces: None,
        }
    }

    /// Requires every proof to carry a nonce `nonces` accepts (RFC 9449 §8); a proof without
    /// one is refused with [`Error::UseDpopNonce`], which hands the client a fresh nonce.
    #[must_use]
    pub fn require_nonces(mut self, nonces: Arc<dyn DpopNonces>) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// The JWS algorithms a proof may be signed with (RFC 9449 §5.1 metadata).
    pub fn algorithms(&self) -> Vec<String> {
        self.ports.verifier.algorithms()
    }

    /// The nonce to hand out now (`DPoP-Nonce`), when nonces are required. Sent on successful
    /// answers too, so a client learns the next nonce without a failed request (§8.2).
    ///
    /// # Errors
    /// As the [`DpopNonces`] port.
    pub fn current_nonce(&self) -> Result<Option<String>, Error> {
        self.nonces
            .as_ref()
            .map(|nonces| nonces.current(self.ports.clock.now()))
            .transpose()
    }

    /// Accepts `proof` for a `method` request to `path` (below the public base URL), with
    /// `access_token` when one is presented (the proof must then carry its `ath`). Blocking
    /// (the replay cache may be the database).
    ///
    /// The proof is remembered only once it verified (and carried an accepted nonce, when
    /// nonces are required), so garbage costs no write; a verified proof is spent even if the
    /// request then fails for another reason, as RFC 9449 §11.1 allows: a client makes a fresh
    /// proof for every request.
    ///
    /// # Errors
    /// [`Error::InvalidDpopProof`] for a proof that does not verify, or
    /// [`DpopRejection::Replayed`] for one seen before; [`Error::UseDpopNonce`] for a missing or
    /// stale nonce; replay-cache errors as the port returns them.
    pub fn check(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        access_token: Option<&str>,
    ) -> Result<DpopProof, Error> {
        let p = &self.ports;
        let now = p.clock.now();
        let accepted = p.verifier.verify(proof, method, path, access_token, now)?;
        if let Some(nonces) = &self.nonces {
            let fresh = accepted
                .nonce
                .as_deref()
                .is_some_and(|nonce| nonces.accepts(nonce, now));
            if !fresh {
                return Err(Error::UseDpopNonce {
                    nonce: nonces.current(now)?,
                });
            }
        }
        if p.replay
            .remember(&accepted.jkt, &accepted.jti, accepted.expires_at)?
        {
            Ok(accepted)
        } else {
            Err(Error::InvalidDpopProof(DpopRejection::Replayed))
        }
    }

    /// A protected-resource request that presented the verified access token `token` (with
    /// `claims`) under the `DPoP` scheme with `proof` (RFC 9449 §7.1): the token must be bound
    /// (`cnf.jkt`), and the proof must verify for this request, carry the token's hash (`ath`),
    /// be new, and be signed by the bound key. Blocking (replay cache).
    ///
    /// # Errors
    /// [`Error::InvalidToken`] with [`TokenRejection::SchemeMismatch`] for an unbound token;
    /// [`Error::InvalidDpopProof`] with [`DpopRejection::KeyMismatch`] for a proof by another
    /// key; otherwise as [`DpopCheck::check`].
    pub fn check_presented(
        &self,
        claims: &AccessClaims,
        token: &str,
        proof: &str,
        method: &str,
        path: &str,
    ) -> Result<DpopProof, Error> {
        let Some(bound) = &claims.cnf_jkt else {
            return Err(Error::InvalidToken(TokenRejection::SchemeMismatch));
        };
        let accepted = self.check(proof, method, path, Some(token))?;
        if accepted.jkt == *bound {
            Ok(accepted)
        } else {
            Err(Error::InvalidDpopProof(DpopRejection::KeyMismatch))
        }
    }
}
