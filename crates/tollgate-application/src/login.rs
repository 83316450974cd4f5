use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tollgate_domain::{
    AccessTokenId, ClientId, Family, FamilyId, Jkt, Password, RefreshTokenRecord, ThrottleKey,
    ThrottlePolicy, TokenId, TokenPolicy, UserName,
};

use crate::issue::sign_pair;
use crate::{
    Clock, Error, IdGenerator, LoginFailure, LoginThrottle, PasswordHasher, RequestOrigin,
    SecurityEvent, SecurityEventKind, SecurityEvents, SessionStore, TokenPair, TokenSigner,
    UserStore,
};

/// What a client sends to log in.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// The login name as sent (validated here).
    pub user_name: String,
    /// The password.
    pub password: Password,
    /// `longLivedRefreshToken=true`: refresh tokens of this family live `refresh_long_ttl`.
    pub long_lived: bool,
    /// The client's address, when known: failures are counted against it as well as the name.
    pub client_address: Option<IpAddr>,
    /// The OAuth client the request authenticated as, if any: the new family is bound to it,
    /// so that only this client can refresh or revoke its tokens (RFC 6749 §6);
    /// security events record it too.
    pub client_id: Option<ClientId>,
}

impl LoginRequest {
    /// The keys this attempt is throttled by: the name exactly as sent (the user store matches
    /// names exactly, so a known and an unknown name are counted alike) and the address.
    fn throttle_keys(&self) -> Vec<ThrottleKey> {
        let mut keys = vec![ThrottleKey::UserName(self.user_name.clone())];
        keys.extend(self.client_address.map(ThrottleKey::address));
        keys
    }

    /// Who sent it, for security events.
    fn origin(&self) -> RequestOrigin {
        RequestOrigin {
            client_id: self.client_id.clone(),
            address: self.client_address,
        }
    }
}

/// The ports [`Login`] uses, and only those.
#[derive(Clone)]
pub struct LoginPorts {
    /// Time source (issue instants, family end).
    pub clock: Arc<dyn Clock>,
    /// Ids of the new family, refresh token and access token.
    pub ids: Arc<dyn IdGenerator>,
    /// Looks the user up by name (a host may bring its own).
    pub users: Arc<dyn UserStore>,
    /// Stores the new family with its first token.
    pub sessions: Arc<dyn SessionStore>,
    /// Signs the pair.
    pub signer: Arc<dyn TokenSigner>,
    /// Checks the password.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Hears about failed and throttled logins.
    pub events: Arc<dyn SecurityEvents>,
    /// Failed-login counters (brute-force throttling).
    pub throttle: Arc<dyn LoginThrottle>,
}

/// The password grant: checks credentials and starts a new family.
#[derive(Clone)]
pub struct Login {
    ports: LoginPorts,
    policy: Arc<TokenPolicy>,
    throttle: ThrottlePolicy,
}

impl Login {
    /// Builds the use case, throttling with [`ThrottlePolicy::default`].
    pub fn new(ports: LoginPorts, policy: Arc<TokenPolicy>) -> Self {
        Self {
            ports,
            policy,
            throttle: ThrottlePolicy::default(),
        }
    }

    /// Replaces the throttling rules.
    #[must_use]
    pub fn with_throttle(mut self, throttle: ThrottlePolicy) -> Self {
        self.throttle = throttle;
        self
    }

    /// Refuses an attempt whose name or address is blocked, without any password hashing, so
    /// that a throttled flood costs one indexed read per request. [`Login::execute`] calls it
    /// first; a caller that queues logins for hashing calls it before queueing. Blocking.
    ///
    /// # Errors
    /// [`Error::Throttled`] with the seconds until the block ends; storage errors as the port
    /// returns them.
    pub fn check_throttle(&self, request: &LoginRequest) -> Result<(), Error> {
        let p = &self.ports;
        let now = p.clock.now();
        match p.throttle.blocked_until(&request.throttle_keys(), now)? {
            Some(until) if until > now => {
                p.events.record(&SecurityEvent {
                    at: now,
                    origin: request.origin(),
                    kind: SecurityEventKind::LoginThrottled {
                        user_name: UserName::parse(&request.user_name).ok(),
                    },
                });
                Err(Error::Throttled {
                    retry_after_secs: seconds_until(now, until),
                })
            }
            _ => Ok(()),
        }
    }

    /// Logs a user in and issues the first pair of a new family. Blocking (hashing, storage).
    ///
    /// # Errors
    /// [`Error::InvalidCredentials`] for an unknown user, a wrong password or a disabled user,
    /// after the same hashing work in every case; [`Error::Throttled`] (before any hashing) as
    /// [`Login::check_throttle`]; storage errors as the ports return them.
    pub fn execute(&self, request: &LoginRequest) -> Result<TokenPair, Error> {
        self.execute_bound(request, None)
    }

    /// As [`Login::execute`], the new family bound to the DPoP key `jkt` when given (the
    /// thumbprint of a proof [`DpopCheck`](crate::DpopCheck) accepted for this request): every
    /// refresh of it then needs a proof by that key (RFC 9449 §5).
    ///
    /// # Errors
    /// As [`Login::execute`].
    pub fn execute_bound(
        &self,
        request: &LoginRequest,
        jkt: Option<Jkt>,
    ) -> Result<TokenPair, Error> {
        self.check_throttle(request)?;
        let p = &self.ports;
        let name = UserName::parse(&request.user_name).ok();
        // Taken before the user is read: a revocation of the user's sessions at or after this
        // instant refuses the family below, in stores that cannot lock the user's row.
        let user_read_at = p.clock.now();
        let user = match &name {
            Some(name) => p.users.find_by_name(name)?,
            None => None,
        };
        let matches = p
            .hasher
            .verify(&request.password, user.as_ref().map(|u| &u.password_hash))?;
        let user = match user {
            Some(user) if matches && !user.disabled => user,
            user => {
                let failure = match &user {
                    Some(_) if matches => LoginFailure::UserDisabled,
                    Some(_) => LoginFailure::WrongPassword,
                    None if name.is_some() => LoginFailure::UnknownUser,
                    None => LoginFailure::InvalidName,
                };
                let at = p.clock.now();
                p.events.record(&SecurityEvent {
                    at,
                    origin: request.origin(),
                    kind: SecurityEventKind::LoginFailed {
                        user_id: user.map(|u| u.id),
                        user_name: name,
                        failure,
                    },
                });
                for key in request.throttle_keys() {
                    p.throttle.record_failure(&key, at, &self.throttle)?;
                }
                return Err(Error::InvalidCredentials);
            }
        };
        // Only the name's counter: the address may be shared with an attacker still trying.
        p.throttle
            .reset(&ThrottleKey::UserName(request.user_name.clone()))?;

        let now = p.clock.now();
        let family = Family {
            id: FamilyId::from_uuid(p.ids.new_uuid()),
            user_id: user.id,
            created_at: now,
            expires_at: now + self.policy.family_max_lifetime,
            long_lived: request.long_lived,
            revoked_at: None,
            revoke_reason: None,
            client_id: request.client_id.clone(),
            jkt,
        };
        let record = RefreshTokenRecord {
            id: TokenId::from_uuid(p.ids.new_uuid()),
            family_id: family.id,
            parent_id: None,
            access_token_id: AccessTokenId::from_uuid(p.ids.new_uuid()),
            issued_at: now,
            expires_at: self
                .policy
                .refresh_expiry(now, request.long_lived, family.expires_at),
            used_at: None,
        };
        // Sign before storing: a signing failure then leaves no orphan family behind.
        let pair = sign_pair(p.signer.as_ref(), &self.policy, &user, &family, &record)?;
        // Stored only if the user still has the hash just verified and is enabled: a password
        // change, disable or delete that raced this login wins.
        if !p
            .sessions
            .create_login_family(&family, &record, &user.password_hash, user_read_at)?
        {
            return Err(Error::InvalidCredentials);
        }
        if p.hasher.needs_rehash(&user.password_hash) {
            // Conditional on the hash just verified: a password set meanwhile is kept.
            let fresh = p.hasher.hash(&request.password)?;
            p.users
                .replace_password_hash(user.id, &user.password_hash, &fresh)?;
        }
        Ok(pair)
    }
}

/// Whole seconds from `now` until `until`, rounded up and at least 1 (for `Retry-After`).
fn seconds_until(now: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    let millis = (until - now).num_milliseconds().max(1);
    u64::try_from(millis.saturating_add(999) / 1000).unwrap_or(1)
}
