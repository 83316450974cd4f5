//! Security events: what a security team wants to know about, the port they are reported to
//! ([`SecurityEvents`]) and the port they are read back from ([`SecurityEventLog`]).

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
#[cfg(any(test, feature = "mock"))]
use mockall::automock;
use tollgate_domain::{ClientId, FamilyId, RevokeReason, TokenId, UserId, UserName};

use crate::Error;

/// Where a request came from, as far as the server can tell. Attached to the security events it
/// causes; empty for administrative commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    /// The client the request authenticated as, or, for
    /// [`SecurityEventKind::ClientAuthenticationFailed`], the well-formed id it tried.
    pub client_id: Option<ClientId>,
    /// The client address (the socket's peer, or what a trusted proxy reported).
    pub address: Option<IpAddr>,
}

/// One security event: when, from where, what. Never carries a token, password or secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    /// When it happened (from the `Clock` port).
    pub at: DateTime<Utc>,
    /// Who sent the request that caused it.
    pub origin: RequestOrigin,
    /// What happened.
    pub kind: SecurityEventKind,
}

/// Why a login failed. Recorded, never answered: the client always sees the same error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// The name is not a valid user name (it may be a password typed in the wrong field).
    InvalidName,
    /// No user has this name.
    UnknownUser,
    /// The password did not match.
    WrongPassword,
    /// The user is disabled.
    UserDisabled,
}

impl LoginFailure {
    /// Stable text form, as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidName => "invalid_name",
            Self::UnknownUser => "unknown_user",
            Self::WrongPassword => "wrong_password",
            Self::UserDisabled => "user_disabled",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEventKind {
    /// A login failed.
    LoginFailed {
        /// The user, when the name was known.
        user_id: Option<UserId>,
        /// The name that was tried, when valid. Adapters store or log only a digest of it: it
        /// may be a password typed in the wrong field.
        user_name: Option<UserName>,
        /// Why.
        failure: LoginFailure,
    },
    /// A login was refused unchecked because its name or address is throttled.
    LoginThrottled {
        /// The name that was tried, when valid (a digest of it only is stored or logged).
        user_name: Option<UserName>,
    },
    /// A spent refresh token was presented again; its family is revoked.
    RefreshTokenReused {
        /// The family's owner.
        user_id: UserId,
        /// The revoked family.
        family_id: FamilyId,
        /// The record id of the token that came back (an id, not the token).
        token_id: TokenId,
    },
    /// Live sessions (families) were revoked: one (`family_id` set: logout, RFC 7009
    /// revocation, reuse) or all of a user's (administrative actions).
    FamilyRevoked {
        /// Whose.
        user_id: UserId,
        /// The family, when one was revoked.
        family_id: Option<FamilyId>,
        /// Why.
        reason: RevokeReason,
        /// How many were live.
        count: u64,
    },
    /// A client failed to authenticate (unknown id, wrong secret, or a configured client that
    /// sent no secret); the id tried, when well-formed, is the origin's `client_id`.
    ClientAuthenticationFailed,
    /// A token signing key was generated (`tollgate keys generate`, or at start-up when no key
    /// could sign).
    KeyGenerated {
        /// Its `kid`.
        kid: String,
    },
    /// A token signing key was retired (`tollgate keys retire`).
    KeyRetired {
        /// Its `kid`.
        kid: String,
    },
    /// An administrator disabled a user.
    UserDisabled {
        /// Who.
        user_id: UserId,
    },
    /// An administrator enabled a user again.
    UserEnabled {
        /// Who.
        user_id: UserId,
    },
    /// An administrator deleted a user.
    UserDeleted {
        /// Who.
        user_id: UserId,
    },
    /// An administrator set a user's password.
    PasswordChanged {
        /// Whose.
        user_id: UserId,
    },
}

/// Every kind's stable name, as stored and as `tollgate audit --kind` takes it.
pub const EVENT_KINDS: &[&str] = &[
    "login_failed",
    "login_throttled",
    "refresh_reuse",
    "family_revoked",
    "client_auth_failed",
    "key_generated",
    "key_retired",
    "user_disabled",
    "user_enabled",
    "user_deleted",
    "password_changed",
];

impl SecurityEventKind {
    /// The kind's stable name (one of [`EVENT_KINDS`]).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::LoginFailed { .. } => "login_failed",
            Self::LoginThrottled { .. } => "login_throttled",
            Self::RefreshTokenReused { .. } => "refresh_reuse",
            Self::FamilyRevoked { .. } => "family_revoked",
            Self::ClientAuthenticationFailed => "client_auth_failed",
            Self::KeyGenerated { .. } => "key_generated",
            Self::KeyRetired { .. } => "key_retired",
            Self::UserDisabled { .. } => "user_disabled",
            Self::UserEnabled { .. } => "user_enabled",
            Self::UserDeleted { .. } => "user_deleted",
            Self::PasswordChanged { .. } => "password_changed",
        }
    }

    /// The user concerned, when known.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::LoginFailed { user_id, .. } => *user_id,
            Self::RefreshTokenReused { user_id, .. }
            | Self::FamilyRevoked { user_id, .. }
            | Self::UserDisabled { user_id }
            | Self::UserEnabled { user_id }
            | Self::UserDeleted { user_id }
            | Self::PasswordChanged { user_id } => Some(*user_id),
            Self::LoginThrottled { .. }
            | Self::ClientAuthenticationFailed
            | Self::KeyGenerated { .. }
            | Self::KeyRetired { .. } => None,
        }
    }

    /// The family concerned, when one is.
    pub fn family_id(&self) -> Option<FamilyId> {
        match self {
            Self::RefreshTokenReused { family_id, .. } => Some(*family_id),
            Self::FamilyRevoked { family_id, .. } => *family_id,
            _ => None,
        }
    }
}

impl fmt::Display for SecurityEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where security events go. The server fans out to its database and its log.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait SecurityEvents: Send + Sync {
    /// Records an event. Must not fail the request: adapters swallow and log their own errors.
    fn record(&self, event: &SecurityEvent);
}

/// A stored security event, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEventRecord {
    /// Storage order: larger is later among events of the same instant.
    pub id: i64,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// One of [`EVENT_KINDS`].
    pub kind: String,
    /// The user concerned, when known.
    pub user_id: Option<UserId>,
    /// The client (authenticated, or the id tried).
    pub client_id: Option<String>,
    /// The client address.
    pub address: Option<String>,
    /// The family concerned.
    pub family_id: Option<FamilyId>,
    /// A short note: a revocation reason, a login failure's cause, a key id, a digest of a
    /// name tried. Never a token, password, secret or raw user name.
    pub detail: Option<String>,
}

/// Which stored events to list. Every field narrows; the default lists the newest
/// [`EventFilter::DEFAULT_LIMIT`] events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this user's.
    pub user_id: Option<UserId>,
    /// Only those at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only this kind (one of [`EVENT_KINDS`]).
    pub kind: Option<String>,
    /// At most this many, newest first.
    pub limit: u32,
}

impl EventFilter {
    /// How many events a listing returns unless told otherwise.
    pub const DEFAULT_LIMIT: u32 = 100;
}

impl Default for EventFilter {
    fn default() -> Self {
        Self {
            user_id: None,
            since: None,
            kind: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// The stored trail of security events (the `security_events` table).
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait SecurityEventLog: Send + Sync {
    /// Stores one event.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`].
    fn append(&self, event: &SecurityEvent) -> Result<(), Error>;

    /// The events `filter` selects, newest first (by instant, then by id).
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`].
    fn list(&self, filter: &EventFilter) -> Result<Vec<SecurityEventRecord>, Error>;
}
