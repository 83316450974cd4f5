use std::fmt;

use chrono::{DateTime, Utc};

use crate::{DomainError, UserId};

/// A login name: 1 to 256 characters, no control characters, kept exactly as given.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserName(String);

impl UserName {
    /// The longest accepted name, in characters.
    pub const MAX_CHARS: usize = 256;

    /// Validates a login name.
    ///
    /// # Errors
    /// [`DomainError::InvalidUserName`] when it is empty, too long or holds a control character.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let chars = raw.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS || raw.chars().any(char::is_control) {
            return Err(DomainError::InvalidUserName);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plaintext password on its way to the hasher. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The longest accepted password, in bytes; bounds the hashing work one request can cause.
    pub const MAX_BYTES: usize = 1024;

    /// Validates a password.
    ///
    /// # Errors
    /// [`DomainError::InvalidPassword`] when it is empty or longer than [`Self::MAX_BYTES`].
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.is_empty() || raw.len() > Self::MAX_BYTES {
            return Err(DomainError::InvalidPassword);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A password hash in PHC string format (Argon2id). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by a hasher or read from storage.
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id, the tokens' `sub`.
    pub id: UserId,
    /// Login name, the tokens' `unique_name`.
    pub name: UserName,
    /// Argon2id hash of the password.
    pub password_hash: PasswordHash,
    /// A disabled user can neither log in nor refresh.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}
