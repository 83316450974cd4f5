use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use tollgate_domain::{Client, ClientId, ClientSecret, GrantType};

use std::sync::Arc;

use crate::{
    ClientStore, Clock, Error, IdGenerator, RequestOrigin, SecretHasher, SecurityEvent,
    SecurityEventKind, SecurityEvents,
};

/// The ports [`ClientAdmin`] uses, and only those.
#[derive(Clone)]
pub struct ClientAdminPorts {
    /// Time source (creation instants).
    pub clock: Arc<dyn Clock>,
    /// Random bytes for new secrets.
    pub ids: Arc<dyn IdGenerator>,
    /// The configured clients.
    pub clients: Arc<dyn ClientStore>,
    /// Digests new secrets.
    pub secrets: Arc<dyn SecretHasher>,
}

/// The ports [`ClientAuthenticator`] uses, and only those.
#[derive(Clone)]
pub struct ClientAuthenticatorPorts {
    /// Time source (the instants of failed authentications).
    pub clock: Arc<dyn Clock>,
    /// The configured clients.
    pub clients: Arc<dyn ClientStore>,
    /// Compares presented secrets with stored digests.
    pub secrets: Arc<dyn SecretHasher>,
    /// Hears about failed client authentications.
    pub events: Arc<dyn SecurityEvents>,
}

/// A client as just created, with its secret: the only time the secret exists outside the
/// caller's hands. `Debug` never shows the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// The stored client (its digest, never the secret).
    pub client: Client,
    /// The secret, to be shown once to the operator: 256 random bits as 43 base64url characters.
    pub secret: ClientSecret,
}

/// Client administration: what the `tollgate client …` commands do.
#[derive(Clone)]
pub struct ClientAdmin {
    ports: ClientAdminPorts,
}

impl ClientAdmin {
    /// Builds the use case.
    pub fn new(ports: ClientAdminPorts) -> Self {
        Self { ports }
    }

    /// Creates a client with a fresh 256-bit secret; only the secret's digest is stored.
    /// `introspect_any` lets it introspect the tokens of every client, not only its own and
    /// unbound ones (for a resource server).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad id, [`Error::Conflict`] when the id is taken.
    pub fn add(
        &self,
        id: &str,
        grants: BTreeSet<GrantType>,
        introspect_any: bool,
    ) -> Result<NewClient, Error> {
        let p = &self.ports;
        let id = ClientId::parse(id)?;
        // base64url without padding: 43 characters that survive URLs, forms and Basic
        // credentials without escaping.
        let secret = ClientSecret::parse(&URL_SAFE_NO_PAD.encode(p.ids.secret_bytes()))?;
        let client = Client {
            id,
            secret_digest: p.secrets.digest(&secret),
            allowed_grants: grants,
            created_at: p.clock.now(),
            introspect_any,
        };
        p.clients.create(&client)?;
        Ok(NewClient { client, secret })
    }

    /// Every client, ordered by id.
    ///
    /// # Errors
    /// Storage errors only.
    pub fn list(&self) -> Result<Vec<Client>, Error> {
        self.ports.clients.list()
    }

    /// Deletes a client. Returns whether it existed.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed id; storage errors.
    pub fn remove(&self, id: &str) -> Result<bool, Error> {
        self.ports.clients.remove(&ClientId::parse(id)?)
    }
}

/// The client credentials a request carried, by whichever method (HTTP Basic or body
/// parameters); absent and empty values are `None`. `Debug` never shows the secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientCredentials {
    /// `client_id`, as sent.
    pub id: Option<String>,
    /// `client_secret`, as sent.
    pub secret: Option<String>,
    /// Where the request came from, reported with a failed authentication.
    pub address: Option<IpAddr>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("address", &self.address)
            .finish()
    }
}

/// Client authentication (API.md §6): who the calling client is, if anyone, and what it may do.
#[derive(Clone)]
pub struct ClientAuthenticator {
    ports: ClientAuthenticatorPorts,
}

impl ClientAuthenticator {
    /// Builds the use case.
    pub fn new(ports: ClientAuthenticatorPorts) -> Self {
        Self { ports }
    }

    /// Checks a client id and presented secret. Blocking (storage).
    ///
    /// # Errors
    /// [`Error::InvalidClient`] for a malformed or unknown id or a wrong secret (reported as a
    /// security event); storage errors as the ports return them.
    pub fn authenticate(&self, id: &str, secret: &str) -> Result<Client, Error> {
        self.authenticate_from(id, secret, None)
    }

    /// [`ClientAuthenticator::authenticate`] for a request from `address`.
    fn authenticate_from(
        &self,
        id: &str,
        secret: &str,
        address: Option<IpAddr>,
    ) -> Result<Client, Error> {
        let p = &self.ports;
        let id = ClientId::parse(id).ok();
        let found = match (&id, ClientSecret::parse(secret)) {
            (Some(id), Ok(secret)) => p
                .clients
                .find(id)?
                .filter(|c| p.secrets.matches(&secret, &c.secret_digest)),
            _ => None,
        };
        found.ok_or_else(|| self.refused(id, address))
    }

    /// Applies API.md §6 to what a request presented; `required` is `auth.require_client` at
    /// the token and revocation endpoints, and always `true` at introspection.
    ///
    /// - nothing presented: anonymous (`Ok(None)`) unless `required`;
    /// - an id and a secret: they must authenticate;
    /// - a secret without an id: refused, since it cannot authenticate;
    /// - an id without a secret: refused if it names a configured client (a configured client
    ///   must authenticate) or if `required`; otherwise ignored, because stock OAuth libraries
    ///   send one for public clients.
    ///
    /// # Errors
    /// [`Error::InvalidClient`] as above; storage errors as the ports return them.
    pub fn identify(
        &self,
        credentials: &ClientCredentials,
        required: bool,
    ) -> Result<Option<Client>, Error> {
        let address = credentials.address;
        match (&credentials.id, &credentials.secret) {
            (None, None) if !required => Ok(None),
            // Nothing was tried, so there is no failed attempt to report.
            (None, None) => Err(Error::InvalidClient),
            (Some(id), Some(secret)) => self.authenticate_from(id, secret, address).map(Some),
            (Some(id), None) if !required => {
                let id = ClientId::parse(id).ok();
                let configured = match &id {
                    Some(id) => self.ports.clients.find(id)?.is_some(),
                    None => false,
                };
                if configured {
                    Err(self.refused(id, address))
                } else {
                    Ok(None)
                }
            }
            (id, _) => Err(self.refused(
                id.as_deref().and_then(|id| ClientId::parse(id).ok()),
                address,
            )),
        }
    }

    /// Whether `client` (or an anonymous caller, `None`) may use `grant`. Anonymous callers get
    /// here only when `auth.require_client` is off, and may use every grant.
    ///
    /// # Errors
    /// [`Error::UnauthorizedClient`] when the client's allowed grants exclude `grant`.
    pub fn authorize_grant(&self, client: Option<&Client>, grant: GrantType) -> Result<(), Error> {
        match client {
            Some(client) if !client.allows(grant) => Err(Error::UnauthorizedClient),
            _ => Ok(()),
        }
    }

    /// Reports a failed client authentication and returns the error for it.
    fn refused(&self, client_id: Option<ClientId>, address: Option<IpAddr>) -> Error {
        self.ports.events.record(&SecurityEvent {
            at: self.ports.clock.now(),
            origin: RequestOrigin { client_id, address },
            kind: SecurityEventKind::ClientAuthenticationFailed,
        });
        Error::InvalidClient
    }
}
