use thiserror::Error;

/// Why a value could not become a domain type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A user name was empty, too long or held control characters.
    #[error("user name must be 1 to {max} characters without control characters", max = crate::UserName::MAX_CHARS)]
    InvalidUserName,
    /// A password was empty or longer than the limit.
    #[error("password must be 1 to {max} bytes", max = crate::Password::MAX_BYTES)]
    InvalidPassword,
    /// A lifetime setting was zero, negative or out of range.
    #[error("invalid token policy: {0}")]
    InvalidPolicy(&'static str),
    /// A stored revocation reason was not one this version knows.
    #[error("unknown revocation reason")]
    UnknownRevokeReason,
    /// A client id was empty, too long or held anything but visible ASCII.
    #[error("client id must be 1 to {max} visible ASCII characters", max = crate::ClientId::MAX_CHARS)]
    InvalidClientId,
    /// A client secret was empty or longer than the limit.
    #[error("client secret must be 1 to {max} bytes", max = crate::ClientSecret::MAX_BYTES)]
    InvalidClientSecret,
    /// A grant name was not one this version knows.
    #[error("unknown grant type (known: password, refresh_token)")]
    UnknownGrantType,
    /// A JWK thumbprint was not 43 base64url characters (a SHA-256 digest).
    #[error("a JWK thumbprint must be 43 base64url characters")]
    InvalidThumbprint,
}
