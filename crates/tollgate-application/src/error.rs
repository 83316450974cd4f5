use thiserror::Error;
use tollgate_domain::{DomainError, DpopRejection, TokenRejection};

/// A boxed error cause, kept for logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a use case or a port can fail with. Only the web layer turns these into HTTP.
#[derive(Debug, Error)]
pub enum Error {
    /// Login refused: unknown user, wrong password or disabled user (deliberately indistinct).
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// Too many failed logins for this user name or client address: refused before any
    /// password hashing (HTTP 429).
    #[error("too many failed logins, retry later")]
    Throttled {
        /// Whole seconds until the block ends (at least 1), for `Retry-After`.
        retry_after_secs: u64,
    },
    /// Client authentication failed: unknown client, wrong secret, no credentials where they
    /// are required, or a configured client that did not authenticate (deliberately indistinct).
    #[error("client authentication failed")]
    InvalidClient,
    /// The authenticated client may not use the requested grant.
    #[error("the client is not allowed to use this grant")]
    UnauthorizedClient,
    /// A presented token was refused; the reason is for logs only.
    #[error("token rejected: {0}")]
    InvalidToken(TokenRejection),
    /// A DPoP proof was refused (RFC 9449 §4.3), or a bound family's refresh came without a
    /// proof of its key; the reason is for logs only.
    #[error("DPoP proof rejected: {0}")]
    InvalidDpopProof(DpopRejection),
    /// The DPoP proof carries no server nonce, or one too old (RFC 9449 §8): the client must
    /// retry with a proof carrying `nonce`.
    #[error("a DPoP proof with a current server nonce is required")]
    UseDpopNonce {
        /// The nonce to send in the `DPoP-Nonce` header.
        nonce: String,
    },
    /// Input that does not make a valid domain value (administration commands).
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// A user with that name already exists.
    #[error("a user with that name already exists")]
    UserExists,
    /// No user with that name or id.
    #[error("no such user")]
    UserNotFound,
    /// A store refused a write because it would break a uniqueness rule.
    #[error("conflicting write: {0}")]
    Conflict(&'static str),
    /// The storage cannot be reached right now (pool exhausted, connection refused or lost);
    /// the caller may retry later.
    #[error("storage unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or a broken environment.
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl Error {
    /// Wraps any error as [`Error::Unexpected`].
    pub fn unexpected(e: impl Into<BoxError>) -> Self {
        Self::Unexpected(e.into())
    }
}
