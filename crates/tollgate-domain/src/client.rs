use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::{DomainError, Family};

/// A client's id: 1 to 128 visible ASCII characters (RFC 6749 `VSCHAR` without the space).
///
/// Spaces and non-ASCII are refused so that ids print unambiguously in `tollgate client list`
/// and in logs, and compare byte for byte on every backend.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    /// The longest accepted id, in characters.
    pub const MAX_CHARS: usize = 128;

    /// Validates a client id.
    ///
    /// # Errors
    /// [`DomainError::InvalidClientId`] when it is empty, too long, or holds anything but
    /// visible ASCII.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.is_empty()
            || raw.len() > Self::MAX_CHARS
            || !raw.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(DomainError::InvalidClientId);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client secret in transit: freshly generated, or presented by a caller. `Debug` never
/// shows it, and it is never stored (only its [`SecretDigest`] is).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// The longest accepted secret, in bytes; bounds the hashing work one request can cause.
    pub const MAX_BYTES: usize = 512;

    /// Validates a secret.
    ///
    /// # Errors
    /// [`DomainError::InvalidClientSecret`] when it is empty or longer than [`Self::MAX_BYTES`].
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.is_empty() || raw.len() > Self::MAX_BYTES {
            return Err(DomainError::InvalidClientSecret);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for the digest and for showing once to the operator.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The SHA-256 digest of a client secret, which is all that is stored.
///
/// A plain (fast) hash suffices because secrets are 256 random bits: there is nothing to guess,
/// and a slow hash would put Argon2 on every authenticated request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    /// Wraps the 32 bytes of a digest (from the hasher or from storage).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretDigest {
    // Not secret by itself, but nothing gains from seeing it in a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretDigest([redacted])")
    }
}

/// A grant a client may be allowed to use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    /// The resource owner password grant.
    Password,
    /// The refresh token grant.
    RefreshToken,
}

impl GrantType {
    /// Every grant this version knows.
    pub const ALL: [Self; 2] = [Self::Password, Self::RefreshToken];

    /// The RFC 6749 name, as stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// Parses a comma- or space-separated list of grant names; empty items are skipped, so an
    /// empty list is an empty set (a client that may only introspect and revoke).
    ///
    /// # Errors
    /// [`DomainError::UnknownGrantType`] for a name that is not a grant of [`Self::ALL`].
    pub fn parse_set(list: &str) -> Result<BTreeSet<Self>, DomainError> {
        list.split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect()
    }

    /// A set as its stored form: names in order, separated by single spaces.
    pub fn format_set(set: &BTreeSet<Self>) -> String {
        set.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GrantType {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "password" => Self::Password,
            "refresh_token" => Self::RefreshToken,
            _ => return Err(DomainError::UnknownGrantType),
        })
    }
}

/// A configured OAuth client (API.md §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The id it authenticates with.
    pub id: ClientId,
    /// SHA-256 of its secret; the secret itself is shown once at creation and never kept.
    pub secret_digest: SecretDigest,
    /// The grants it may use at the token endpoint.
    pub allowed_grants: BTreeSet<GrantType>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Whether introspection shows it the tokens of every client (a resource server checking
    /// access tokens issued to others), not only unbound ones and its own (RFC 7662 §2.1).
    pub introspect_any: bool,
}

impl Client {
    /// Whether this client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.allowed_grants.contains(&grant)
    }

    /// Whether introspection by this client may report the tokens of `family` as active: its
    /// own family or an unbound one, or any family for an `introspect_any` client. Otherwise
    /// the token is reported inactive, as RFC 7662 §2.2 allows, so that a client learns
    /// nothing about another client's tokens.
    pub fn may_introspect(&self, family: &Family) -> bool {
        self.introspect_any || family.accepts_client(Some(&self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_visible_ascii_of_bounded_length() {
        assert!(ClientId::parse("my-app_1.0:web~").is_ok());
        assert!(ClientId::parse(&"a".repeat(ClientId::MAX_CHARS)).is_ok());
        for bad in ["", "has space", "tab\t", "nön-ascii", &"a".repeat(129)] {
            assert_eq!(
                ClientId::parse(bad),
                Err(DomainError::InvalidClientId),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn secrets_are_bounded_and_never_printed() {
        assert_eq!(
            ClientSecret::parse(""),
            Err(DomainError::InvalidClientSecret)
        );
        assert_eq!(
            ClientSecret::parse(&"s".repeat(ClientSecret::MAX_BYTES + 1)),
            Err(DomainError::InvalidClientSecret)
        );
        let secret = ClientSecret::parse("hunter2").unwrap();
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert!(!format!("{:?}", SecretDigest::from_bytes([7; 32])).contains('7'));
    }

    #[test]
    fn grant_sets_parse_from_lists_and_format_in_order() {
        let both = GrantType::parse_set("refresh_token, password").unwrap();
        assert_eq!(GrantType::format_set(&both), "password refresh_token");
        assert_eq!(
            GrantType::parse_set(&GrantType::format_set(&both)),
            Ok(both)
        );
        assert_eq!(GrantType::parse_set(""), Ok(BTreeSet::new()));
        assert_eq!(
            GrantType::parse_set("password,client_credentials"),
            Err(DomainError::UnknownGrantType)
        );
        // Names are exact, as stored; the product dialect's spellings are the web layer's job.
        assert_eq!(
            GrantType::parse_set("Password"),
            Err(DomainError::UnknownGrantType)
        );
    }

    #[test]
    fn a_client_allows_only_its_grants() {
        let client = Client {
            id: ClientId::parse("app").unwrap(),
            secret_digest: SecretDigest::from_bytes([0; 32]),
            allowed_grants: BTreeSet::from([GrantType::RefreshToken]),
            created_at: DateTime::UNIX_EPOCH,
            introspect_any: false,
        };
        assert!(client.allows(GrantType::RefreshToken));
        assert!(!client.allows(GrantType::Password));
    }
}
