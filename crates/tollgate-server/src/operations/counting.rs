//! Decorators that count what passes through a port, then hand it on unchanged.
//!
//! Counting at the ports (rather than in each use case) means every path that revokes a family
//! or reports an event is counted, including ones added later.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tollgate_application::{
    Error, RotateOutcome, SecurityEvent, SecurityEventKind, SecurityEvents, SessionStore,
    TokenWithOwner,
};
use tollgate_domain::{
    Family, FamilyId, PasswordHash, RefreshTokenRecord, RevokeReason, TokenId, UserId,
};

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
        match &event.kind {
            SecurityEventKind::RefreshTokenReused { .. } => self.metrics.reuse_detected(),
            SecurityEventKind::LoginThrottled { .. } => self.metrics.login_throttled(),
            // Revocations are counted at the session store, by reason.
            SecurityEventKind::LoginFailed { .. }
            | SecurityEventKind::ClientAuthenticationFailed
            | SecurityEventKind::FamilyRevoked { .. }
            | SecurityEventKind::KeyGenerated { .. }
            | SecurityEventKind::KeyRetired { .. }
            | SecurityEventKind::UserDisabled { .. }
            | SecurityEventKind::UserEnabled { .. }
            | SecurityEventKind::UserDeleted { .. }
            | SecurityEventKind::PasswordChanged { .. } => {}
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

    fn create_login_family(
        &self,
        family: &Family,
        first: &RefreshTokenRecord,
        verified: &PasswordHash,
        user_read_at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        self.inner
            .create_login_family(family, first, verified, user_read_at)
    }

    fn find_token(&self, id: TokenId) -> Result<Option<(RefreshTokenRecord, Family)>, Error> {
        self.inner.find_token(id)
    }

    fn find_token_with_owner(&self, id: TokenId) -> Result<Option<TokenWithOwner>, Error> {
        self.inner.find_token_with_owner(id)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone as _;
    use tollgate_application::{Metrics as _, MockClock, MockSecurityEvents, MockSessionStore};
    use tollgate_infrastructure::db::{Database, PoolOptions};
    use tollgate_infrastructure::jwt::{JwtCodec, KeySet};
    use tollgate_infrastructure::testing::TestDatabase;
    use uuid::Uuid;

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    /// Real gauge sources (a throwaway SQLite file and key directory), mocked ports around them.
    fn metrics() -> (Arc<PrometheusMetrics>, TestDatabase, tempfile::TempDir) {
        let db = TestDatabase::sqlite();
        let database = Database::connect(db.url(), &PoolOptions::default()).unwrap();
        let keys_dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(JwtCodec::new(
            Arc::new(KeySet::load_or_generate(keys_dir.path()).unwrap()),
            "https://auth.example",
            chrono::Duration::zero(),
        ));
        let mut clock = MockClock::new();
        clock.expect_now().returning(at);
        let metrics = PrometheusMetrics::new(database, keys, Arc::new(clock));
        (Arc::new(metrics), db, keys_dir)
    }

    fn sample(text: &str, name: &str) -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned))
    }

    #[test]
    fn only_families_that_were_live_count_as_revoked() {
        let (metrics, _db, _keys) = metrics();
        let mut inner = MockSessionStore::new();
        let mut answers = [true, false].into_iter();
        inner
            .expect_revoke_family()
            .times(2)
            .returning(move |_, _, _| Ok(answers.next().unwrap()));
        inner
            .expect_revoke_user_families()
            .times(1)
            .returning(|_, _, _| Ok(3));
        let store = CountingSessions::new(Arc::new(inner), metrics.clone());
        let family = FamilyId::from_uuid(Uuid::from_u128(1));
        assert!(store
            .revoke_family(family, at(), RevokeReason::Logout)
            .unwrap());
        assert!(!store
            .revoke_family(family, at(), RevokeReason::Logout)
            .unwrap());
        let user = UserId::from_uuid(Uuid::from_u128(2));
        assert_eq!(
            store
                .revoke_user_families(user, at(), RevokeReason::Admin)
                .unwrap(),
            3
        );
        let text = metrics.render().unwrap();
        let logout = r#"tollgate_families_revoked_total{reason="logout"}"#;
        let admin = r#"tollgate_families_revoked_total{reason="admin"}"#;
        assert_eq!(sample(&text, logout).as_deref(), Some("1"), "{text}");
        assert_eq!(sample(&text, admin).as_deref(), Some("3"), "{text}");
    }

    #[test]
    fn reuse_events_are_counted_and_every_event_is_still_recorded() {
        let (metrics, _db, _keys) = metrics();
        let mut inner = MockSecurityEvents::new();
        inner.expect_record().times(2).return_const(());
        let events = CountingEvents::new(Arc::new(inner), metrics.clone());
        let event = |kind| SecurityEvent {
            at: chrono::DateTime::UNIX_EPOCH,
            origin: tollgate_application::RequestOrigin::default(),
            kind,
        };
        events.record(&event(SecurityEventKind::RefreshTokenReused {
            user_id: UserId::from_uuid(Uuid::from_u128(1)),
            family_id: FamilyId::from_uuid(Uuid::from_u128(2)),
            token_id: TokenId::from_uuid(Uuid::from_u128(3)),
        }));
        events.record(&event(SecurityEventKind::LoginFailed {
            user_id: None,
            user_name: None,
            failure: tollgate_application::LoginFailure::InvalidName,
        }));
        let text = metrics.render().unwrap();
        assert_eq!(
            sample(&text, "tollgate_refresh_reuse_detected_total").as_deref(),
            Some("1"),
            "{text}"
        );
    }
}
