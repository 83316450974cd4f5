//! Decorators that count what passes through a port, then hand it on unchanged.
//!
//! Counting at the ports (rather than in each use case) means every path that revokes a family
//! or reports an event is counted, including ones added later.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tollgate_application::{Error, RotateOutcome, SecurityEvent, SecurityEvents, SessionStore};
use tollgate_domain::{Family, FamilyId, RefreshTokenRecord, RevokeReason, TokenId, UserId};

use super::PrometheusMetrics;

/// [`SecurityEvents`] that counts refresh-token reuse detections, then records as `inner` does.
pub struct CountingEvents {
    inner: Arc<dyn SecurityEvents>,
    metrics: Arc<PrometheusMetrics>,
}

impl CountingEvents {
    /// Counts into `metrics`, records with `inner`.
    pub fn new(inner: Arc<dyn SecurityEvents>, metrics: Arc<PrometheusMetrics>) -> Self {
        Self { inner, metrics }
    }
}

impl SecurityEvents for CountingEvents {
    fn record(&self, event: &SecurityEvent) {
        // Exhaustive on purpose: a new event kind must decide here whether it is counted
        // (login throttling feeds `tollgate_login_throttled_total` once it reports an event).
        match event {
            SecurityEvent::RefreshTokenReused { .. } => self.metrics.reuse_detected(),
            SecurityEvent::LoginFailed { .. }
            | SecurityEvent::ClientAuthenticationFailed { .. }
            | SecurityEvent::SessionsRevoked { .. } => {}
        }
        self.inner.record(event);
    }
}

/// [`SessionStore`] that counts revoked families by reason. Only families that were live count,
/// so revoking twice (or a lost race revoking a family already revoked) counts once.
pub struct CountingSessions {
    inner: Arc<dyn SessionStore>,
    metrics: Arc<PrometheusMetrics>,
}

impl CountingSessions {
    /// Counts into `metrics`, stores with `inner`.
    pub fn new(inner: Arc<dyn SessionStore>, metrics: Arc<PrometheusMetrics>) -> Self {
        Self { inner, metrics }
    }
}

impl SessionStore for CountingSessions {
    fn create_family(&self, family: &Family, first: &RefreshTokenRecord) -> Result<(), Error> {
        self.inner.create_family(family, first)
    }

    fn find_token(&self, id: TokenId) -> Result<Option<(RefreshTokenRecord, Family)>, Error> {
        self.inner.find_token(id)
    }

    fn find_family(&self, id: FamilyId) -> Result<Option<Family>, Error> {
        self.inner.find_family(id)
    }

    fn list_user_families(&self, user: UserId) -> Result<Vec<Family>, Error> {
        self.inner.list_user_families(user)
    }

    fn find_successor(&self, parent: TokenId) -> Result<Option<RefreshTokenRecord>, Error> {
        self.inner.find_successor(parent)
    }

    fn rotate(
        &self,
        presented: TokenId,
        at: DateTime<Utc>,
        successor: &RefreshTokenRecord,
    ) -> Result<RotateOutcome, Error> {
        self.inner.rotate(presented, at, successor)
    }

    fn revoke_family(
        &self,
        id: FamilyId,
        at: DateTime<Utc>,
        reason: RevokeReason,
    ) -> Result<bool, Error> {
        let was_live = self.inner.revoke_family(id, at, reason)?;
        if was_live {
            self.metrics.families_revoked(reason, 1);
        }
        Ok(was_live)
    }

    fn revoke_user_families(
        &self,
        user: UserId,
        at: DateTime<Utc>,
        reason: RevokeReason,
    ) -> Result<u64, Error> {
        let count = self.inner.revoke_user_families(user, at, reason)?;
        self.metrics.families_revoked(reason, count);
        Ok(count)
    }
}
