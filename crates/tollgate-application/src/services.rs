use std::sync::Arc;

use crate::{
    ClientAdminPorts, ClientAuthenticatorPorts, ClientStore, Clock, IdGenerator, LoginPorts,
    LoginThrottle, PasswordHasher, PublicKeys, PublishedKeysPorts, RefreshPorts, SecretHasher,
    SecurityEvents, SessionStore, TokenCheckPorts, TokenSigner, TokenVerifier, UserAdminPorts,
    UserStore,
};

/// One adapter for every port: a wiring convenience for a server that runs every use case.
///
/// Use cases never take it; each takes its own small set (`LoginPorts`, `RefreshPorts`, ...),
/// which the methods below cut out of it. A host that runs only some use cases builds those sets
/// directly and never needs the adapters of the others.
#[derive(Clone)]
pub struct Ports {
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Id source.
    pub ids: Arc<dyn IdGenerator>,
    /// User accounts.
    pub users: Arc<dyn UserStore>,
    /// Families and refresh-token records.
    pub sessions: Arc<dyn SessionStore>,
    /// JWT signing.
    pub signer: Arc<dyn TokenSigner>,
    /// JWT verification.
    pub verifier: Arc<dyn TokenVerifier>,
    /// The published verification keys (JWKS).
    pub public_keys: Arc<dyn PublicKeys>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Security event sink.
    pub events: Arc<dyn SecurityEvents>,
    /// Configured OAuth clients.
    pub clients: Arc<dyn ClientStore>,
    /// Client-secret digests.
    pub secrets: Arc<dyn SecretHasher>,
    /// Failed-login counters (brute-force throttling).
    pub throttle: Arc<dyn LoginThrottle>,
}

impl Ports {
    /// The ports of [`Login`](crate::Login).
    pub fn login(&self) -> LoginPorts {
        LoginPorts {
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            users: self.users.clone(),
            sessions: self.sessions.clone(),
            signer: self.signer.clone(),
            hasher: self.hasher.clone(),
            events: self.events.clone(),
            throttle: self.throttle.clone(),
        }
    }

    /// The ports of [`Refresh`](crate::Refresh).
    pub fn refresh(&self) -> RefreshPorts {
        RefreshPorts {
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            users: self.users.clone(),
            sessions: self.sessions.clone(),
            signer: self.signer.clone(),
            verifier: self.verifier.clone(),
            events: self.events.clone(),
        }
    }

    /// The ports of [`AccessGuard`](crate::AccessGuard), [`Revocation`](crate::Revocation) and
    /// [`Introspection`](crate::Introspection).
    pub fn token_check(&self) -> TokenCheckPorts {
        TokenCheckPorts {
            clock: self.clock.clone(),
            verifier: self.verifier.clone(),
            sessions: self.sessions.clone(),
            events: self.events.clone(),
        }
    }

    /// The ports of [`UserAdmin`](crate::UserAdmin).
    pub fn user_admin(&self) -> UserAdminPorts {
        UserAdminPorts {
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            users: self.users.clone(),
            sessions: self.sessions.clone(),
            hasher: self.hasher.clone(),
            events: self.events.clone(),
        }
    }

    /// The ports of [`ClientAdmin`](crate::ClientAdmin).
    pub fn client_admin(&self) -> ClientAdminPorts {
        ClientAdminPorts {
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            clients: self.clients.clone(),
            secrets: self.secrets.clone(),
        }
    }

    /// The ports of [`ClientAuthenticator`](crate::ClientAuthenticator).
    pub fn client_authenticator(&self) -> ClientAuthenticatorPorts {
        ClientAuthenticatorPorts {
            clock: self.clock.clone(),
            clients: self.clients.clone(),
            secrets: self.secrets.clone(),
            events: self.events.clone(),
        }
    }

    /// The ports of [`PublishedKeys`](crate::PublishedKeys).
    pub fn published_keys(&self) -> PublishedKeysPorts {
        PublishedKeysPorts {
            public_keys: self.public_keys.clone(),
            clock: self.clock.clone(),
        }
    }
}
