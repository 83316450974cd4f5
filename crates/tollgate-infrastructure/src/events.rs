//! Security event adapters: the log ([`LogSecurityEvents`]) and the fan-out that stores each
//! event and logs it too ([`FanOutSecurityEvents`]).

use std::sync::Arc;

use tollgate_application::{SecurityEvent, SecurityEventKind, SecurityEventLog, SecurityEvents};

use crate::redact::user_name_digest;

/// Writes security events to the log (target `tollgate::security`), never a secret.
///
/// The instant is left to the log's own timestamp: a field that differs on every line would
/// defeat the server's limit on repeated identical warnings.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSecurityEvents;

impl SecurityEvents for LogSecurityEvents {
    fn record(&self, event: &SecurityEvent) {
        let client_id = event
            .origin
            .client_id
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default();
        let address = event
            .origin
            .address
            .map(|a| a.to_string())
            .unwrap_or_default();
        match &event.kind {
            SecurityEventKind::LoginFailed {
                user_name, failure, ..
            } => tracing::warn!(
                target: "tollgate::security",
                // A digest, never the name: it may be a password typed in the wrong field.
                user = user_name.as_ref().map_or_else(|| "<invalid>".to_owned(), |n| user_name_digest(n.as_str())),
                cause = failure.as_str(), client_id, address,
                "login failed"
            ),
            SecurityEventKind::LoginThrottled { .. } => tracing::warn!(
                target: "tollgate::security",
                client_id, address,
                "login refused: too many failed logins for this name or address"
            ),
            SecurityEventKind::RefreshTokenReused {
                user_id,
                family_id,
                token_id,
            } => tracing::warn!(
                target: "tollgate::security",
                %user_id, %family_id, %token_id, client_id, address,
                "refresh token reuse detected; family revoked"
            ),
            SecurityEventKind::ClientAuthenticationFailed => tracing::warn!(
                target: "tollgate::security",
                client_id = if client_id.is_empty() { "<none or invalid>" } else { client_id.as_str() },
                address,
                "client authentication failed"
            ),
            SecurityEventKind::FamilyRevoked {
                user_id,
                family_id,
                reason,
                count,
            } => tracing::info!(
                target: "tollgate::security",
                %user_id, family_id = family_id.map(|f| f.to_string()).unwrap_or_default(),
                %reason, count, client_id, address,
                "sessions revoked"
            ),
            SecurityEventKind::KeyGenerated { kid } => tracing::info!(
                target: "tollgate::security", kid, "token signing key generated"
            ),
            SecurityEventKind::KeyRetired { kid } => tracing::info!(
                target: "tollgate::security", kid, "token signing key retired"
            ),
            SecurityEventKind::UserDisabled { user_id } => tracing::info!(
                target: "tollgate::security", %user_id, "user disabled"
            ),
            SecurityEventKind::UserEnabled { user_id } => tracing::info!(
                target: "tollgate::security", %user_id, "user enabled"
            ),
            SecurityEventKind::UserDeleted { user_id } => tracing::info!(
                target: "tollgate::security", %user_id, "user deleted"
            ),
            SecurityEventKind::PasswordChanged { user_id } => tracing::info!(
                target: "tollgate::security", %user_id, "password changed"
            ),
        }
    }
}

#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(dead_code) // only the stores use it
)]
/// The short note stored with an event (`security_events.detail`). Never a token, password,
/// secret or raw user name: a name that was tried appears only as the log's salted digest.
pub(crate) fn event_detail(kind: &SecurityEventKind) -> Option<String> {
    let digest = |name: &Option<tollgate_domain::UserName>| {
        name.as_ref().map(|n| user_name_digest(n.as_str()))
    };
    match kind {
        SecurityEventKind::LoginFailed {
            user_id,
            user_name,
            failure,
        } => Some(match (user_id, digest(user_name)) {
            // Unknown names are kept as a digest only, so attempts can be told apart.
            (None, Some(d)) => format!("{} {d}", failure.as_str()),
            _ => failure.as_str().to_owned(),
        }),
        SecurityEventKind::LoginThrottled { user_name } => digest(user_name),
        SecurityEventKind::RefreshTokenReused { token_id, .. } => {
            Some(format!("token_id {token_id}"))
        }
        SecurityEventKind::FamilyRevoked {
            family_id, reason, ..
        } if family_id.is_some() => Some(reason.as_str().to_owned()),
        SecurityEventKind::FamilyRevoked { reason, count, .. } => {
            Some(format!("{reason} ({count} sessions)"))
        }
        SecurityEventKind::KeyGenerated { kid } | SecurityEventKind::KeyRetired { kid } => {
            Some(format!("kid {kid}"))
        }
        SecurityEventKind::ClientAuthenticationFailed
        | SecurityEventKind::UserDisabled { .. }
        | SecurityEventKind::UserEnabled { .. }
        | SecurityEventKind::UserDeleted { .. }
        | SecurityEventKind::PasswordChanged { .. } => None,
    }
}

/// [`SecurityEvents`] that stores every event in a [`SecurityEventLog`] and logs it as
/// [`LogSecurityEvents`] does, so operators who ship logs keep their lines.
///
/// Recording never fails the request that caused the event: a store error is logged (as a
/// warning, which the server's limit on repeated warnings keeps from flooding the log during an
/// outage) and dropped. The log line is written whatever the store did.
#[derive(Clone)]
pub struct FanOutSecurityEvents {
    store: Arc<dyn SecurityEventLog>,
    log: LogSecurityEvents,
}

impl FanOutSecurityEvents {
    /// Stores in `store` and logs.
    pub fn new(store: Arc<dyn SecurityEventLog>) -> Self {
        Self {
            store,
            log: LogSecurityEvents,
        }
    }
}

impl SecurityEvents for FanOutSecurityEvents {
    fn record(&self, event: &SecurityEvent) {
        self.log.record(event);
        if let Err(e) = self.store.append(event) {
            tracing::warn!(
                target: "tollgate::security",
                kind = event.kind.name(),
                error = %e,
                "security event not stored (logged only)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use tollgate_application::{
        Error, LoginFailure, MockSecurityEventLog, RequestOrigin, SecurityEventKind,
    };
    use tollgate_domain::{UserId, UserName};

    /// Everything logged while `f` runs, as text.
    fn capture(f: impl FnOnce()) -> String {
        use std::sync::Mutex;

        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
            type Writer = Buf;
            fn make_writer(&'a self) -> Buf {
                self.clone()
            }
        }
        let buf = Buf::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buf.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn failed_login(name: &str) -> SecurityEvent {
        SecurityEvent {
            at: chrono::Utc.with_ymd_and_hms(2026, 5, 2, 0, 0, 0).unwrap(),
            origin: RequestOrigin::default(),
            kind: SecurityEventKind::LoginFailed {
                user_id: None,
                user_name: Some(UserName::parse(name).unwrap()),
                failure: LoginFailure::UnknownUser,
            },
        }
    }

    #[test]
    fn a_store_error_is_swallowed_and_the_event_still_logged() {
        let mut store = MockSecurityEventLog::new();
        store
            .expect_append()
            .times(2)
            .returning(|_| Err(Error::unexpected("disk full")));
        let events = FanOutSecurityEvents::new(Arc::new(store));
        let logs = capture(|| {
            // Twice: neither call may panic or fail; both are still logged.
            events.record(&failed_login("mallory"));
            events.record(&failed_login("mallory"));
        });
        assert_eq!(logs.matches("login failed").count(), 2, "{logs}");
        assert!(logs.contains("security event not stored"), "{logs}");
        assert!(!logs.contains("mallory"), "{logs}");
    }

    #[test]
    fn each_event_is_stored_once() {
        let mut store = MockSecurityEventLog::new();
        let event = failed_login("bob");
        store
            .expect_append()
            .with(mockall::predicate::eq(event.clone()))
            .times(1)
            .returning(|_| Ok(()));
        FanOutSecurityEvents::new(Arc::new(store)).record(&event);
    }

    #[test]
    fn the_detail_names_no_user_name_and_no_token() {
        let detail = event_detail(&failed_login("Password1").kind).unwrap();
        assert!(detail.starts_with("unknown_user u:"), "{detail}");
        assert!(!detail.contains("Password1"));
        let known = SecurityEventKind::LoginFailed {
            user_id: Some(UserId::from_uuid(uuid::Uuid::nil())),
            user_name: Some(UserName::parse("alice").unwrap()),
            failure: LoginFailure::WrongPassword,
        };
        assert_eq!(event_detail(&known).as_deref(), Some("wrong_password"));
    }
}
