//! The ports: what the use cases need from the outside world. Adapters implement them.
//!
//! Every method that can fail returns [`Error`]; each method's `# Errors` section says which
//! variants an adapter may return. Any adapter may also return [`Error::Unavailable`] when its
//! backing service cannot be reached and [`Error::Unexpected`] for anything else.

use chrono::{DateTime, Utc};
#[cfg(any(test, feature = "mock"))]
use mockall::automock;
use tollgate_domain::{
    AccessClaims, Client, ClientId, ClientSecret, Family, FamilyId, Jkt, Password, PasswordHash,
    RefreshClaims, RefreshTokenRecord, RevokeReason, SecretDigest, ThrottleKey, ThrottlePolicy,
    TokenId, User, UserId, UserName,
};
use uuid::Uuid;

use crate::Error;

/// The only source of the current time.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The only source of new ids.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait IdGenerator: Send + Sync {
    /// A fresh random (v4) UUID; never repeats.
    fn new_uuid(&self) -> Uuid;

    /// 256 fresh bits from a cryptographically secure source, for client secrets.
    fn secret_bytes(&self) -> [u8; 32];
}

/// User accounts.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait UserStore: Send + Sync {
    /// Stores a new user.
    ///
    /// # Errors
    /// [`Error::UserExists`] when the name is taken.
    fn create(&self, user: &User) -> Result<(), Error>;

    /// The user with this exact login name.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; an unknown name is `Ok(None)`.
    fn find_by_name(&self, name: &UserName) -> Result<Option<User>, Error>;

    /// The user with this id.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; an unknown id is `Ok(None)`.
    fn find_by_id(&self, id: UserId) -> Result<Option<User>, Error>;

    /// Every user, ordered by name.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`].
    fn list(&self) -> Result<Vec<User>, Error>;

    /// Enables or disables a user.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] when no user has this id.
    fn set_disabled(&self, id: UserId, disabled: bool) -> Result<(), Error>;

    /// Replaces a user's password hash.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] when no user has this id.
    fn set_password_hash(&self, id: UserId, hash: &PasswordHash) -> Result<(), Error>;

    /// Replaces a user's password hash only if it is still `old` (a rehash on login must never
    /// overwrite a password an administrator set meanwhile). Returns whether it was replaced.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; an unknown user or a changed hash is
    /// `Ok(false)`.
    fn replace_password_hash(
        &self,
        id: UserId,
        old: &PasswordHash,
        new: &PasswordHash,
    ) -> Result<bool, Error>;

    /// Deletes a user; their families and refresh-token records go with them (the storage
    /// cascades), so every token they held becomes unknown.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] when no user has this id.
    fn delete(&self, id: UserId) -> Result<(), Error>;
}

/// What [`SessionStore::rotate`] found when it tried to spend a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was unused and is now spent; the successor is stored.
    Rotated,
    /// Someone spent the token first (a lost race, or plain reuse); nothing was written.
    AlreadyUsed,
    /// The family was revoked meanwhile; nothing was written.
    FamilyRevoked,
    /// No such token; nothing was written.
    NotFound,
}

/// A token record, its family and, when the store read it, the family's owner (see
/// [`SessionStore::find_token_with_owner`]).
pub type TokenWithOwner = (RefreshTokenRecord, Family, Option<User>);

/// Token families (sessions) and the refresh-token records inside them.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait SessionStore: Send + Sync {
    /// Stores a new family with its first refresh token, atomically.
    ///
    /// # Errors
    /// [`Error::Conflict`] when either id exists already.
    fn create_family(&self, family: &Family, first: &RefreshTokenRecord) -> Result<(), Error>;

    /// Stores a login's new family with its first refresh token, atomically, only if the user
    /// still exists, is enabled and still has the password hash `verified` (the one the login
    /// checked). Returns `false`, storing nothing, otherwise.
    ///
    /// This settles a login racing `set-password`, `disable` or `delete` in the database: the
    /// check locks the user's row until the family is stored, so an administrative change
    /// either comes first (the login is refused) or waits, and its revocation then sees the new
    /// family.
    ///
    /// `user_read_at` is the instant, taken just before the login read the user, that a store
    /// which cannot see the user's row (users kept by a host) checks instead: it refuses the
    /// family when [`SessionStore::revoke_user_families`] ran for the user at or after it.
    ///
    /// # Errors
    /// [`Error::Conflict`] when either id exists already.
    fn create_login_family(
        &self,
        family: &Family,
        first: &RefreshTokenRecord,
        verified: &PasswordHash,
        user_read_at: DateTime<Utc>,
    ) -> Result<bool, Error>;

    /// The token record and its family.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; an unknown id is `Ok(None)`.
    fn find_token(&self, id: TokenId) -> Result<Option<(RefreshTokenRecord, Family)>, Error>;

    /// The token record, its family and the family's owner, read together: the refresh grant
    /// needs all three, and a store that keeps the users beside the sessions answers in one
    /// statement instead of two round trips (this and [`UserStore::find_by_id`]).
    ///
    /// The owner is `None` when this store did not read it: by default (the store does not keep
    /// the users, as with a host's own user table) and when the user's row is gone. The caller
    /// then asks its [`UserStore`], as it would without this method.
    ///
    /// # Errors
    /// As [`SessionStore::find_token`].
    fn find_token_with_owner(&self, id: TokenId) -> Result<Option<TokenWithOwner>, Error> {
        Ok(self
            .find_token(id)?
            .map(|(record, family)| (record, family, None)))
    }

    /// The family with this id.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; an unknown id is `Ok(None)`.
    fn find_family(&self, id: FamilyId) -> Result<Option<Family>, Error>;

    /// Every family of a user, newest first (revoked ones included).
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`].
    fn list_user_families(&self, user: UserId) -> Result<Vec<Family>, Error>;

    /// The token that replaced `parent` in a rotation, if any.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; none is `Ok(None)`.
    fn find_successor(&self, parent: TokenId) -> Result<Option<RefreshTokenRecord>, Error>;

    /// Spends `presented` and stores `successor`, as one atomic step.
    ///
    /// Marks `presented` used at `at` only if it is still unused and its family unrevoked, and
    /// inserts `successor` in the same transaction. When several callers race on one token,
    /// exactly one gets [`RotateOutcome::Rotated`], also across processes sharing the database.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the successor's id exists already.
    fn rotate(
        &self,
        presented: TokenId,
        at: DateTime<Utc>,
        successor: &RefreshTokenRecord,
    ) -> Result<RotateOutcome, Error>;

    /// Revokes one family. Returns whether it was live before; revoking twice keeps the first
    /// reason and instant.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; an unknown family is `Ok(false)`.
    fn revoke_family(
        &self,
        id: FamilyId,
        at: DateTime<Utc>,
        reason: RevokeReason,
    ) -> Result<bool, Error>;

    /// Revokes every live family of a user; returns how many were live. Also records `at` as
    /// the user's cut-off: a login that read the user before it stores no family afterwards
    /// (see [`SessionStore::create_login_family`]). Call it after changing a user's password or
    /// disabling them.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`].
    fn revoke_user_families(
        &self,
        user: UserId,
        at: DateTime<Utc>,
        reason: RevokeReason,
    ) -> Result<u64, Error>;
}

/// Configured OAuth clients (API.md §6).
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait ClientStore: Send + Sync {
    /// Stores a new client.
    ///
    /// # Errors
    /// [`Error::Conflict`] when a client with this id exists already.
    fn create(&self, client: &Client) -> Result<(), Error>;

    /// The client with this exact id.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; an unknown id is `Ok(None)`.
    fn find(&self, id: &ClientId) -> Result<Option<Client>, Error>;

    /// Every client, ordered by id (byte order).
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`].
    fn list(&self) -> Result<Vec<Client>, Error>;

    /// Deletes a client. Returns whether it existed.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; an unknown id is `Ok(false)`.
    fn remove(&self, id: &ClientId) -> Result<bool, Error>;
}

/// Client-secret digests (SHA-256) and their comparison.
///
/// A fast hash is right here: secrets are 256 random bits, so there is nothing to guess, and a
/// slow hash would put Argon2 on every authenticated request.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait SecretHasher: Send + Sync {
    /// The digest stored in place of `secret`.
    fn digest(&self, secret: &ClientSecret) -> SecretDigest;

    /// Whether `presented` digests to `stored`; the digests are compared in constant time.
    fn matches(&self, presented: &ClientSecret, stored: &SecretDigest) -> bool;
}

/// Turns claims into signed JWTs.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait TokenSigner: Send + Sync {
    /// Signs an access token (`aud: "access"`) with the current signing key.
    ///
    /// # Errors
    /// [`Error::Unexpected`] when signing fails.
    fn sign_access(&self, claims: &AccessClaims) -> Result<String, Error>;

    /// Signs a refresh token (`aud: "refresh"`) with the current signing key.
    ///
    /// # Errors
    /// [`Error::Unexpected`] when signing fails.
    fn sign_refresh(&self, claims: &RefreshClaims) -> Result<String, Error>;
}

/// Verifies JWTs strictly (RFC 8725): allowed `alg`, our own `kid`, signature, `aud`, `iss`, times.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait TokenVerifier: Send + Sync {
    /// Verifies a refresh token at instant `now`.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] with the first reason found.
    fn verify_refresh(&self, token: &str, now: DateTime<Utc>) -> Result<RefreshClaims, Error>;

    /// Verifies an access token at instant `now`.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] with the first reason found.
    fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, Error>;
}

/// A DPoP proof that verified (RFC 9449 §4.3), as the use cases need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    /// The RFC 7638 thumbprint of the proof's key: what a family is bound to.
    pub jkt: Jkt,
    /// The proof's unique id (`jti`), for the replay cache.
    pub jti: String,
    /// When the client made the proof (`iat`).
    pub iat: DateTime<Utc>,
    /// After this instant the proof is refused as too old anyway: its `jti` must be remembered
    /// until then, and no longer.
    pub expires_at: DateTime<Utc>,
    /// The server nonce the proof carries (`nonce`, RFC 9449 §8), if any.
    pub nonce: Option<String>,
}

/// Verifies DPoP proofs (RFC 9449 §4.3): `typ`, allowed `alg`, a public `jwk`, the signature
/// by that key, `htm`, `htu`, the `iat` window and, for a resource request, `ath`. Whether the
/// proof was seen before is the [`DpopReplayCache`]'s business.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait DpopVerifier: Send + Sync {
    /// Verifies `proof` (the `DPoP` header's value) for a `method` request to `path` below the
    /// server's public base URL, at instant `now`. With `access_token`, the proof must carry its
    /// hash (`ath`).
    ///
    /// # Errors
    /// [`Error::InvalidDpopProof`] with the first reason found.
    #[allow(clippy::needless_lifetimes)] // mockall needs the named lifetime
    fn verify<'a>(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        access_token: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Result<DpopProof, Error>;

    /// The JWS `alg` values a proof may be signed with (the allow-list), as RFC 9449 §5.1
    /// `dpop_signing_alg_values_supported` publishes them.
    ///
    /// # Errors
    /// None: the list is fixed when the verifier is built.
    fn algorithms(&self) -> Vec<String>;
}

/// The `jti`s of accepted DPoP proofs, kept while the proofs could still be accepted, so that
/// each proof is used once.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait DpopReplayCache: Send + Sync {
    /// Remembers proof `jti` of key `jkt` until `expires_at`. Returns `true` the first time and
    /// `false` when the pair is remembered already (a replay). The insert is the check: of
    /// concurrent calls with one pair, also from other processes sharing the cache, exactly one
    /// gets `true`.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`].
    fn remember(&self, jkt: &Jkt, jti: &str, expires_at: DateTime<Utc>) -> Result<bool, Error>;
}

/// Server-provided DPoP nonces (RFC 9449 §8): values a client must put in its proofs, so that
/// a proof cannot have been made in advance. They rotate with time and must be accepted by
/// every process of one deployment, so an adapter derives them from a shared secret and the
/// time rather than storing them.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait DpopNonces: Send + Sync {
    /// The nonce to hand out at instant `now` (the `DPoP-Nonce` header).
    ///
    /// # Errors
    /// Only [`Error::Unexpected`] (the computation failed).
    fn current(&self, now: DateTime<Utc>) -> Result<String, Error>;

    /// Whether `nonce` was handed out recently enough to be accepted at `now`.
    ///
    /// # Errors
    /// None: any defect makes the answer `false`.
    fn accepts(&self, nonce: &str, now: DateTime<Utc>) -> bool;
}

/// Password hashing (Argon2id).
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a password with a fresh salt.
    ///
    /// # Errors
    /// [`Error::Unexpected`] when hashing fails.
    fn hash(&self, password: &Password) -> Result<PasswordHash, Error>;

    /// Whether `password` matches `hash`. With `hash = None` (unknown user) it does the same
    /// amount of work against a dummy hash and returns `false`, so that unknown and known users
    /// take similar time.
    ///
    /// # Errors
    /// [`Error::Unexpected`] when the stored hash cannot be parsed.
    #[allow(clippy::needless_lifetimes)] // mockall needs the named lifetime
    fn verify<'a>(
        &self,
        password: &Password,
        hash: Option<&'a PasswordHash>,
    ) -> Result<bool, Error>;

    /// Whether `hash` was made with other parameters (or another algorithm) than new hashes
    /// are, so that a successful login should store a fresh hash: otherwise old accounts keep
    /// a cost, and so a timing, different from the dummy hash of unknown names.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool;
}

/// Failed-login counters, kept where every server process sees them (the database), so that
/// throttling holds across processes.
#[cfg_attr(any(test, feature = "mock"), automock)]
pub trait LoginThrottle: Send + Sync {
    /// The latest instant until which any of `keys` is blocked, when it lies after `now`.
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; a key never seen is not blocked.
    fn blocked_until(
        &self,
        keys: &[ThrottleKey],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, Error>;

    /// Counts one failed login against `key` at `at` and blocks the key for
    /// `policy.delay_after(count)`. The count restarts at one when the previous failure is older
    /// than `policy.forget_after`. Concurrent calls, also from other processes, each count once.
    /// Returns the instant the key is now blocked until (`None` while failures are free).
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`].
    fn record_failure(
        &self,
        key: &ThrottleKey,
        at: DateTime<Utc>,
        policy: &ThrottlePolicy,
    ) -> Result<Option<DateTime<Utc>>, Error>;

    /// Forgets every failure counted against `key` (after a successful login).
    ///
    /// # Errors
    /// Only [`Error::Unavailable`] / [`Error::Unexpected`]; an unknown key is `Ok(())`.
    fn reset(&self, key: &ThrottleKey) -> Result<(), Error>;
}
