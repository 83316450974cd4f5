use std::sync::Arc;

use tollgate_domain::{
    AccessTokenId, Family, FamilyId, Password, RefreshTokenRecord, TokenId, TokenPolicy, UserName,
};

use crate::issue::sign_pair;
use crate::{
    Clock, Error, IdGenerator, PasswordHasher, SecurityEvent, SecurityEvents, SessionStore,
    TokenPair, TokenSigner, UserStore,
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
    /// Hears about failed logins.
    pub events: Arc<dyn SecurityEvents>,
}

/// The password grant: checks credentials and starts a new family.
#[derive(Clone)]
pub struct Login {
    ports: LoginPorts,
    policy: Arc<TokenPolicy>,
}

impl Login {
    /// Builds the use case.
    pub fn new(ports: LoginPorts, policy: Arc<TokenPolicy>) -> Self {
        Self { ports, policy }
    }

    /// Logs a user in and issues the first pair of a new family. Blocking (hashing, storage).
    ///
    /// # Errors
    /// [`Error::InvalidCredentials`] for an unknown user, a wrong password or a disabled user,
    /// after the same hashing work in every case; storage errors as the ports return them.
    pub fn execute(&self, request: &LoginRequest) -> Result<TokenPair, Error> {
        let p = &self.ports;
        let name = UserName::parse(&request.user_name).ok();
        let user = match &name {
            Some(name) => p.users.find_by_name(name)?,
            None => None,
        };
        let matches = p
            .hasher
            .verify(&request.password, user.as_ref().map(|u| &u.password_hash))?;
        let user = match user {
            Some(user) if matches && !user.disabled => user,
            _ => {
                p.events
                    .record(&SecurityEvent::LoginFailed { user_name: name });
                return Err(Error::InvalidCredentials);
            }
        };

        let now = p.clock.now();
        let family = Family {
            id: FamilyId::from_uuid(p.ids.new_uuid()),
            user_id: user.id,
            created_at: now,
            expires_at: now + self.policy.family_max_lifetime,
            long_lived: request.long_lived,
            revoked_at: None,
            revoke_reason: None,
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
        p.sessions.create_family(&family, &record)?;
        Ok(pair)
    }
}
