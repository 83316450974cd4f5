use tollgate_domain::{AccessClaims, Family, RevokeReason, TokenRejection};

use std::sync::Arc;

use crate::{
    Clock, Error, RequestOrigin, SecurityEvent, SecurityEventKind, SecurityEvents, SessionStore,
    TokenVerifier,
};

/// The ports of the use cases that check a presented token against its session and nothing
/// else: [`AccessGuard`], [`Revocation`](crate::Revocation) and
/// [`Introspection`](crate::Introspection).
#[derive(Clone)]
pub struct TokenCheckPorts {
    /// Time source (expiry checks, revocation instants).
    pub clock: Arc<dyn Clock>,
    /// Verifies the presented JWT.
    pub verifier: Arc<dyn TokenVerifier>,
    /// Finds (and for logout and revocation, revokes) the token's family.
    pub sessions: Arc<dyn SessionStore>,
    /// Hears about revocations (logout, RFC 7009). Introspection and the bearer check share
    /// this set and record nothing.
    pub events: Arc<dyn SecurityEvents>,
}

impl TokenCheckPorts {
    /// Revokes one family and, when it was live, records that.
    pub(crate) fn revoke_and_record(
        &self,
        family: &tollgate_domain::Family,
        now: chrono::DateTime<chrono::Utc>,
        reason: RevokeReason,
        origin: &RequestOrigin,
    ) -> Result<(), Error> {
        if self.sessions.revoke_family(family.id, now, reason)? {
            self.events.record(&SecurityEvent {
                at: now,
                origin: origin.clone(),
                kind: SecurityEventKind::FamilyRevoked {
                    user_id: family.user_id,
                    family_id: Some(family.id),
                    reason,
                    count: 1,
                },
            });
        }
        Ok(())
    }
}

/// Bearer access tokens at this server: who is calling, and is their session still live.
///
/// Offline verification (signature and claims) is all another service can do with the JWKS;
/// here we also refuse tokens whose session (`sid`) was revoked, so that logout, reuse
/// detection or a password change take effect before the access token expires.
#[derive(Clone)]
pub struct AccessGuard {
    ports: TokenCheckPorts,
}

impl AccessGuard {
    /// Builds the use case.
    pub fn new(ports: TokenCheckPorts) -> Self {
        Self { ports }
    }

    /// Verifies an access token and checks that its session is live. Blocking (storage).
    ///
    /// # Errors
    /// [`Error::InvalidToken`] when the token is refused or its session is revoked, expired or
    /// not the subject's; storage errors as the ports return them.
    pub fn authenticate(&self, token: &str) -> Result<AccessClaims, Error> {
        self.session(token).map(|(claims, _)| claims)
    }

    /// [`AccessGuard::authenticate`], also returning the live family the token belongs to.
    pub(crate) fn session(&self, token: &str) -> Result<(AccessClaims, Family), Error> {
        let p = &self.ports;
        let now = p.clock.now();
        let claims = p.verifier.verify_access(token, now)?;
        let family = p
            .sessions
            .find_family(claims.sid)?
            .ok_or(Error::InvalidToken(TokenRejection::Revoked))?;
        if family.user_id != claims.sub {
            return Err(Error::InvalidToken(TokenRejection::SubjectMismatch));
        }
        if family.is_revoked() {
            return Err(Error::InvalidToken(TokenRejection::Revoked));
        }
        if now >= family.expires_at {
            return Err(Error::InvalidToken(TokenRejection::Expired));
        }
        Ok((claims, family))
    }

    /// Ends the caller's session: revokes the `sid` family, refresh tokens included, and
    /// records that (with `origin`) when it was live.
    ///
    /// # Errors
    /// Storage errors as the ports return them.
    pub fn logout(&self, claims: &AccessClaims, origin: &RequestOrigin) -> Result<(), Error> {
        let p = &self.ports;
        let now = p.clock.now();
        if p.sessions
            .revoke_family(claims.sid, now, RevokeReason::Logout)?
        {
            p.events.record(&SecurityEvent {
                at: now,
                origin: origin.clone(),
                kind: SecurityEventKind::FamilyRevoked {
                    user_id: claims.sub,
                    family_id: Some(claims.sid),
                    reason: RevokeReason::Logout,
                    count: 1,
                },
            });
        }
        Ok(())
    }
}
