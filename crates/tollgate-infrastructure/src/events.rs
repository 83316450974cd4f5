use tollgate_application::{SecurityEvent, SecurityEvents};

use crate::redact::user_name_digest;

/// Writes security events to the log (target `tollgate::security`), never a secret.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSecurityEvents;

impl SecurityEvents for LogSecurityEvents {
    fn record(&self, event: &SecurityEvent) {
        match event {
            SecurityEvent::LoginFailed { user_name } => tracing::warn!(
                target: "tollgate::security",
                // A digest, never the name: it may be a password typed in the wrong field.
                user = user_name.as_ref().map_or_else(|| "<invalid>".to_owned(), |n| user_name_digest(n.as_str())),
                "login failed"
            ),
            SecurityEvent::LoginThrottled { address, .. } => tracing::warn!(
                target: "tollgate::security",
                address = address.map(|a| a.to_string()).unwrap_or_default(),
                "login refused: too many failed logins for this name or address"
            ),
            SecurityEvent::RefreshTokenReused {
                user_id,
                family_id,
                token_id,
            } => tracing::warn!(
                target: "tollgate::security",
                %user_id, %family_id, %token_id,
                "refresh token reuse detected; family revoked"
            ),
            SecurityEvent::ClientAuthenticationFailed { client_id } => tracing::warn!(
                target: "tollgate::security",
                client_id = client_id.as_ref().map(|c| c.as_str()).unwrap_or("<none or invalid>"),
                "client authentication failed"
            ),
            SecurityEvent::SessionsRevoked {
                user_id,
                reason,
                count,
            } => tracing::info!(
                target: "tollgate::security",
                %user_id, %reason, count,
                "sessions revoked"
            ),
        }
    }
}
