use std::sync::Arc;

use chrono::{DateTime, Utc};

use tollgate_domain::rotation::{self, Assessment};
use tollgate_domain::{
    AccessTokenId, Family, RefreshTokenRecord, RevokeReason, TokenId, TokenPolicy, TokenRejection,
};

use crate::issue::sign_pair;
use crate::{Error, Ports, RotateOutcome, SecurityEvent, TokenPair};

/// The refresh grant: spends a refresh token and issues its successor pair.
#[derive(Clone)]
pub struct Refresh {
    ports: Ports,
    policy: Arc<TokenPolicy>,
}

impl Refresh {
    /// Builds the use case.
    pub fn new(ports: Ports, policy: Arc<TokenPolicy>) -> Self {
        Self { ports, policy }
    }

    /// Exchanges a refresh token for a new pair. Blocking (storage).
    ///
    /// A token that was already spent, including by a concurrent request that won the race,
    /// revokes its whole family.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] when the token is refused for any reason; storage errors as the
    /// ports return them (a storage error never leaves a half-done rotation).
    pub fn execute(&self, token: &str) -> Result<TokenPair, Error> {
        let p = &self.ports;
        let now = p.clock.now();
        let claims = p.verifier.verify_refresh(token, now)?;
        let (record, family) = p
            .sessions
            .find_token(claims.token_id)?
            .ok_or(Error::InvalidToken(TokenRejection::UnknownTokenId))?;

        match rotation::assess(&claims, &record, &family, now) {
            Assessment::Rotate => {}
            Assessment::Reuse => return Err(self.reuse_detected(&record, &family, now)),
            Assessment::Reject(reason) => return Err(Error::InvalidToken(reason)),
        }

        let user = match p.users.find_by_id(family.user_id)? {
            Some(user) if !user.disabled => user,
            _ => return Err(Error::InvalidToken(TokenRejection::UserDisabled)),
        };

        let successor = rotation::successor(
            &record,
            &family,
            &self.policy,
            now,
            TokenId::from_uuid(p.ids.new_uuid()),
            AccessTokenId::from_uuid(p.ids.new_uuid()),
        );
        // Sign first, so that once the token is spent nothing can fail before we answer.
        let pair = sign_pair(p.signer.as_ref(), &self.policy, &user, &family, &successor)?;
        match p.sessions.rotate(record.id, now, &successor)? {
            RotateOutcome::Rotated => Ok(pair),
            // Someone spent it between our read and our write: that is reuse too.
            RotateOutcome::AlreadyUsed => Err(self.reuse_detected(&record, &family, now)),
            RotateOutcome::FamilyRevoked => Err(Error::InvalidToken(TokenRejection::Revoked)),
            RotateOutcome::NotFound => Err(Error::InvalidToken(TokenRejection::UnknownTokenId)),
        }
    }

    /// Revokes the family of a spent token that came back, and reports it.
    fn reuse_detected(
        &self,
        record: &RefreshTokenRecord,
        family: &Family,
        now: DateTime<Utc>,
    ) -> Error {
        let p = &self.ports;
        let revoked = p
            .sessions
            .revoke_family(family.id, now, RevokeReason::Reuse);
        // The theft signal is reported even when the revocation itself failed.
        p.events.record(&SecurityEvent::RefreshTokenReused {
            user_id: family.user_id,
            family_id: family.id,
            token_id: record.id,
        });
        match revoked {
            Ok(_) => Error::InvalidToken(TokenRejection::Reused),
            // The client is refused either way; the operator must see the storage failure.
            Err(e) => e,
        }
    }
}
