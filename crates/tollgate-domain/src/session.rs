use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::{AccessTokenId, ClientId, DomainError, FamilyId, Jkt, TokenId, UserId};

/// One login session: the chain of refresh tokens descending from one login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Family id, the access tokens' `sid`.
    pub id: FamilyId,
    /// Whose session this is.
    pub user_id: UserId,
    /// The login instant.
    pub created_at: DateTime<Utc>,
    /// Absolute end of the family; no refresh token outlives it.
    pub expires_at: DateTime<Utc>,
    /// Whether the login asked for long-lived refresh tokens; copied to every successor.
    pub long_lived: bool,
    /// When the family was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked.
    pub revoke_reason: Option<RevokeReason>,
    /// The client the login authenticated as, if any (RFC 6749 §6): only that client may then
    /// refresh, revoke or (unless `introspect_any`) introspect the family's tokens. `None` for
    /// a login without client authentication (the product dialect): such a family is unbound.
    pub client_id: Option<ClientId>,
    /// The DPoP key (RFC 9449) the family is bound to: every refresh needs a proof by it.
    /// `None` for a bearer family.
    pub jkt: Option<Jkt>,
}

impl Family {
    /// Whether the family is revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// Whether a caller authenticated as `client` (`None`: no client authentication) may use
    /// this family's tokens: refresh them (RFC 6749 §6), revoke them (RFC 7009 §2.1) or see
    /// them at introspection (RFC 7662 §2.1).
    ///
    /// A bound family accepts only its own client. An unbound family accepts every caller,
    /// authenticated or not: its tokens are bearer credentials anyone holding them could use
    /// anonymously, so refusing them when a client *does* authenticate would protect nothing
    /// and would break the sessions of confidential clients created before tokens were bound.
    pub fn accepts_client(&self, client: Option<&ClientId>) -> bool {
        match &self.client_id {
            None => true,
            Some(bound) => client == Some(bound),
        }
    }
}

/// The stored record of one refresh token: ids and times only, never the token string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// The token's `token_id`.
    pub id: TokenId,
    /// The family it belongs to.
    pub family_id: FamilyId,
    /// The token it replaced (`None` for the login's first token).
    pub parent_id: Option<TokenId>,
    /// The `jti` of the access token issued with it.
    pub access_token_id: AccessTokenId,
    /// Issue instant (full precision).
    pub issued_at: DateTime<Utc>,
    /// Expiry instant (full precision; the JWT `exp` is this truncated to seconds).
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for a successor; a used token that comes back is reuse.
    pub used_at: Option<DateTime<Utc>>,
}

/// Why a family was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevokeReason {
    /// A spent refresh token was presented again (theft signal).
    Reuse,
    /// The user logged out of this session.
    Logout,
    /// A client revoked a token (RFC 7009).
    Revoked,
    /// An administrator disabled the user.
    UserDisabled,
    /// The user's password changed.
    PasswordChanged,
    /// An administrator revoked the user's sessions.
    Admin,
    /// An administrator deleted the user.
    UserDeleted,
}

impl RevokeReason {
    /// Stable text form, as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Reuse => "reuse",
            Self::Logout => "logout",
            Self::Revoked => "revoked",
            Self::UserDisabled => "user_disabled",
            Self::PasswordChanged => "password_changed",
            Self::Admin => "admin",
            Self::UserDeleted => "user_deleted",
        }
    }
}

impl fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevokeReason {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "reuse" => Self::Reuse,
            "logout" => Self::Logout,
            "revoked" => Self::Revoked,
            "user_disabled" => Self::UserDisabled,
            "password_changed" => Self::PasswordChanged,
            "admin" => Self::Admin,
            "user_deleted" => Self::UserDeleted,
            _ => return Err(DomainError::UnknownRevokeReason),
        })
    }
}

/// Why a presented token was not accepted. Kept for logs and events; clients only ever see
/// `invalid_grant` / `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRejection {
    /// Not a well-formed JWS compact JWT, or claims missing or of the wrong type.
    Malformed,
    /// The `alg` is not on the allow-list.
    Algorithm,
    /// The `kid` names no key of ours.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// The `aud` does not match the use.
    Audience,
    /// The `iss` is not ours.
    Issuer,
    /// Past `exp` (plus leeway), or past the family's absolute end.
    Expired,
    /// Before `nbf` (minus leeway).
    NotYetValid,
    /// The `token_id` names no stored token.
    UnknownTokenId,
    /// The token's `sub` is not the owner of its family.
    SubjectMismatch,
    /// The family is revoked.
    Revoked,
    /// A spent refresh token came back.
    Reused,
    /// The user is disabled or gone.
    UserDisabled,
    /// The token's family is bound to another client than the caller (or the caller did not
    /// authenticate as the client it is bound to).
    ClientMismatch,
    /// A DPoP-bound access token (`cnf.jkt`) presented as a bearer token, or an unbound one
    /// presented with the `DPoP` scheme (RFC 9449 §7.1).
    SchemeMismatch,
}

impl TokenRejection {
    /// Stable text form for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm not allowed",
            Self::UnknownKey => "unknown key",
            Self::Signature => "bad signature",
            Self::Audience => "wrong audience",
            Self::Issuer => "wrong issuer",
            Self::Expired => "expired",
            Self::NotYetValid => "not yet valid",
            Self::UnknownTokenId => "unknown token id",
            Self::SubjectMismatch => "subject mismatch",
            Self::Revoked => "revoked",
            Self::Reused => "reused",
            Self::UserDisabled => "user disabled",
            Self::ClientMismatch => "client mismatch",
            Self::SchemeMismatch => "wrong authorization scheme for its binding",
        }
    }
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn family(client_id: Option<&str>) -> Family {
        Family {
            id: FamilyId::from_uuid(Uuid::from_u128(1)),
            user_id: UserId::from_uuid(Uuid::from_u128(2)),
            created_at: DateTime::UNIX_EPOCH,
            expires_at: DateTime::UNIX_EPOCH,
            long_lived: false,
            revoked_at: None,
            revoke_reason: None,
            client_id: client_id.map(|c| ClientId::parse(c).unwrap()),
            jkt: None,
        }
    }

    #[test]
    fn a_bound_family_accepts_only_its_own_client() {
        let a = ClientId::parse("a").unwrap();
        let b = ClientId::parse("b").unwrap();
        let bound = family(Some("a"));
        assert!(bound.accepts_client(Some(&a)));
        assert!(!bound.accepts_client(Some(&b)));
        assert!(!bound.accepts_client(None));
    }

    #[test]
    fn an_unbound_family_accepts_every_caller() {
        let unbound = family(None);
        assert!(unbound.accepts_client(None));
        assert!(unbound.accepts_client(Some(&ClientId::parse("a").unwrap())));
    }
}
