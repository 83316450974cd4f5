use tollgate_application::{SecurityEvent, SecurityEvents};

/// Writes security events to the log (target `tollgate::security`), never a secret.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSecurityEvents;

impl SecurityEvents for LogSecurityEvents {
    fn record(&self, event: &SecurityEvent) {
        match event {
            SecurityEvent::LoginFailed { user_name } => tracing::warn!(
                target: "tollgate::security",
                user_name = user_name.as_ref().map(|n| n.as_str()).unwrap_or("<invalid>"),
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
