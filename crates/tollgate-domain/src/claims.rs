use chrono::{DateTime, Utc};

use crate::{AccessTokenId, FamilyId, Jkt, TokenId, UserId};

/// The claims of an access token (`aud` is always `"access"`).
///
/// Times are whole seconds; `nbf` equals `iat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// `unique_name`: the user's login name.
    pub unique_name: String,
    /// `sub`: the user's id.
    pub sub: UserId,
    /// `sid`: the session, i.e. the refresh family.
    pub sid: FamilyId,
    /// `jti`: this token's id.
    pub jti: AccessTokenId,
    /// `iat` and `nbf`.
    pub issued_at: DateTime<Utc>,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
    /// `iss`.
    pub issuer: String,
    /// `cnf.jkt` (RFC 9449 §6.1): the thumbprint of the DPoP key the session is bound to;
    /// `None` for a bearer token.
    pub cnf_jkt: Option<Jkt>,
}

/// The claims of a refresh token (`aud` is always `"refresh"`).
///
/// Times are whole seconds; `nbf` equals `iat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshClaims {
    /// `unique_name`: the user's login name.
    pub unique_name: String,
    /// `token_id`: the stored record this token stands for.
    pub token_id: TokenId,
    /// `short_term_expiration`: `true` unless the login asked for a long-lived token.
    pub short_term: bool,
    /// `sub`: the user's id.
    pub sub: UserId,
    /// `iat` and `nbf`.
    pub issued_at: DateTime<Utc>,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
    /// `iss`.
    pub issuer: String,
}
