//! JWS compact signing and strict verification (RFC 7515, RFC 8725).

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use tollgate_application::{Error as AppError, TokenSigner, TokenVerifier};
use tollgate_domain::{AccessClaims, RefreshClaims, TokenPolicy};

use super::claims_wire;
use super::provider;
use super::verify::{Rules, VerifyingKey, MAX_TOKEN_BYTES};
use super::{KeyInfo, KeySet};
use crate::InfraError;

/// Signs and verifies Tollgate's JWTs with the keys of a [`KeySet`].
///
/// Implements [`TokenSigner`] and [`TokenVerifier`], and
/// [`PublicKeys`](tollgate_application::PublicKeys) (the JWKS). Signing uses the set's signing
/// key, parsed once at load; verification accepts the keys of the set that are still trusted at
/// the instant given (see [`JwtCodec::with_trust_window`]), and the JWKS lists exactly those.
/// Reads no clock.
///
/// The key set can be swapped while the codec is in use ([`JwtCodec::replace_keys`], what a
/// rescan of the key directory does); every signature or verification uses one set throughout.
pub struct JwtCodec {
    /// Behind a lock only to be swapped: readers take it for one `Arc` clone, writers once per
    /// rescan that changed something, so it is never contended in practice.
    current: RwLock<Arc<Loaded>>,
    rules: Rules,
    /// How long a key keeps verifying after it stopped signing; `None`: as long as it is in the
    /// set.
    trust_window: Option<Duration>,
}

/// A key set with what signing derives from it once.
struct Loaded {
    keys: Arc<KeySet>,
    /// `base64url(header) "."`: the same for every token of the signing key, so made once.
    signing_prefix: String,
}

impl Loaded {
    fn new(keys: Arc<KeySet>) -> Self {
        // The kid is 40 hex digits, so formatting needs no JSON escaping; the bytes are exactly
        // those of API.md §2.
        let header = format!(
            r#"{{"alg":"{}","kid":"{}","typ":"JWT"}}"#,
            keys.signing().algorithm().name(),
            keys.signing_kid()
        );
        let mut signing_prefix = URL_SAFE_NO_PAD.encode(header);
        signing_prefix.push('.');
        Self {
            keys,
            signing_prefix,
        }
    }
}

impl JwtCodec {
    /// The longest token looked at; ours are well under 1 KiB. Bounds the work an attacker can
    /// cause before the signature is checked.
    pub const MAX_TOKEN_BYTES: usize = MAX_TOKEN_BYTES;

    /// A codec issuing tokens with `iss = issuer` and accepting only that issuer, with `leeway`
    /// of clock skew on `exp` and `nbf` (a negative leeway counts as zero).
    ///
    /// Every key of the set verifies, however long ago it stopped signing; the server uses
    /// [`JwtCodec::for_policy`], which bounds that.
    pub fn new(keys: Arc<KeySet>, issuer: impl Into<String>, leeway: Duration) -> Self {
        Self {
            current: RwLock::new(Arc::new(Loaded::new(keys))),
            rules: Rules::new(issuer.into(), leeway),
            trust_window: None,
        }
    }

    /// The codec for `policy`: its issuer, its leeway, and a key trust window of
    /// [`TokenPolicy::key_trust_window`].
    pub fn for_policy(keys: Arc<KeySet>, policy: &TokenPolicy) -> Self {
        Self::new(keys, policy.issuer.clone(), policy.leeway)
            .with_trust_window(policy.key_trust_window())
    }

    /// Keys that stopped signing verify (and are published) only until `window` after that
    /// instant (see [`KeyInfo::trusted_until`]). The set's signing key always verifies.
    #[must_use]
    pub fn with_trust_window(mut self, window: Duration) -> Self {
        self.trust_window = Some(window.max(Duration::zero()));
        self
    }

    /// The key set this codec signs and verifies with now.
    pub fn key_set(&self) -> Arc<KeySet> {
        self.loaded().keys.clone()
    }

    /// Signs and verifies with `keys` from now on (tokens being signed or verified finish with
    /// the set they started with).
    pub fn replace_keys(&self, keys: Arc<KeySet>) {
        let loaded = Arc::new(Loaded::new(keys));
        // A writer cannot panic while holding the lock (it only moves an `Arc`), so a poisoned
        // lock still holds a whole value.
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded;
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Signs `payload` (JSON) with the signing key: `prefix || b64(payload) || "." || b64(sig)`.
    fn sign_payload(&self, payload: &[u8]) -> Result<String, InfraError> {
        let loaded = self.loaded();
        // 4/3 for base64 of the payload, plus at most a 2048-bit (256-byte) signature's 342
        // characters (ES256 and EdDSA signatures are 64 bytes).
        let mut token =
            String::with_capacity(loaded.signing_prefix.len() + payload.len() * 4 / 3 + 4 + 350);
        token.push_str(&loaded.signing_prefix);
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        // Straight to OpenSSL with the key parsed once at load: `jsonwebtoken::encode` would
        // re-serialize the header (its member order is not the contract's) and its provider
        // would re-parse the private key for every token.
        let signature = provider::sign(
            loaded.keys.signing().algorithm().jws(),
            loaded.keys.signing_key(),
            token.as_bytes(),
        )?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// Whether `key` verifies at `now`.
    pub(super) fn trusts(&self, key: &KeyInfo, now: DateTime<Utc>) -> bool {
        self.trust_window
            .is_none_or(|window| key.is_trusted_at(now, window))
    }

    /// The key of `keys` with this `kid` if this codec trusts it at `now`, for the rules.
    fn trusted_key<'k>(
        &self,
        keys: &'k KeySet,
        kid: &str,
        now: DateTime<Utc>,
    ) -> Option<&'k VerifyingKey> {
        keys.find(kid)
            .filter(|key| self.trusts(key, now))
            .map(KeyInfo::verifying_key)
    }
}

impl fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtCodec")
            .field("issuer", &self.rules.issuer)
            .field("leeway", &self.rules.leeway)
            .field("trust_window", &self.trust_window)
            .field("signing_kid", &self.key_set().signing_kid())
            .finish_non_exhaustive()
    }
}

impl TokenSigner for JwtCodec {
    fn sign_access(&self, claims: &AccessClaims) -> Result<String, AppError> {
        let payload = claims_wire::access_payload(claims).map_err(AppError::unexpected)?;
        Ok(self.sign_payload(&payload)?)
    }

    fn sign_refresh(&self, claims: &RefreshClaims) -> Result<String, AppError> {
        let payload = claims_wire::refresh_payload(claims).map_err(AppError::unexpected)?;
        Ok(self.sign_payload(&payload)?)
    }
}

impl TokenVerifier for JwtCodec {
    fn verify_refresh(&self, token: &str, now: DateTime<Utc>) -> Result<RefreshClaims, AppError> {
        let keys = self.key_set();
        self.rules
            .refresh(token, now, |kid| self.trusted_key(&keys, kid, now))
    }

    fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, AppError> {
        let keys = self.key_set();
        self.rules
            .access(token, now, |kid| self.trusted_key(&keys, kid, now))
    }
}
