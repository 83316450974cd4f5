//! [`TokenService`]: the token endpoint assembled from the use cases a host wants.
//!
//! Each handler takes only the use case it runs as `web::Data<…>`, and a route is mounted only
//! when its use case was given, so a route can never run without what it needs.

use std::sync::Arc;

use actix_web::web;
use tokio::sync::Semaphore;
use tollgate_application::{
    AccessGuard, ClientAuthenticator, ClientCredentials, DpopCheck, Error as AppError,
    Introspection, Login, PublishedKeys, Refresh, Revocation,
};
use tollgate_domain::{Client, GrantType};

use crate::handlers::{self, discovery::Metadata};
use crate::{BearerAuth, Operations, WebConfig};

/// What every mounted handler shares: the HTTP limits and, if the host has clients, how to
/// authenticate them.
pub(crate) struct Endpoint {
    pub(crate) config: WebConfig,
    clients: Option<ClientAuthenticator>,
}

impl Endpoint {
    /// The client behind `credentials` (see [`ClientAuthenticator::identify`]). A host without
    /// clients accepts only requests that name no client: credentials it cannot check are
    /// refused rather than ignored, and a required client can never be satisfied.
    pub(crate) fn identify(
        &self,
        credentials: &ClientCredentials,
        required: bool,
    ) -> Result<Option<Client>, AppError> {
        match &self.clients {
            Some(clients) => clients.identify(credentials, required),
            None if required || credentials.id.is_some() || credentials.secret.is_some() => {
                Err(AppError::InvalidClient)
            }
            None => Ok(None),
        }
    }

    /// The client address of `req` (see `client_addr`), for throttling and security events.
    pub(crate) fn address_of(&self, req: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
        crate::client_addr::client_address(req, &self.config.trusted_proxies)
    }

    /// Whether `client` may use `grant` (anonymous callers may use every grant).
    pub(crate) fn authorize_grant(
        &self,
        client: Option<&Client>,
        grant: GrantType,
    ) -> Result<(), AppError> {
        match &self.clients {
            Some(clients) => clients.authorize_grant(client, grant),
            None => Ok(()),
        }
    }
}

/// The two grants of the token endpoint.
pub(crate) struct Grants {
    pub(crate) login: Login,
    pub(crate) refresh: Refresh,
    /// Hashing slots: a login holds one while it runs on the blocking pool, so at most
    /// `max_concurrent_hashes` Argon2 computations (and their memory) exist at once, and the
    /// blocking threads left over serve refresh, revocation and introspection.
    pub(crate) hashing: Arc<Semaphore>,
    /// Refresh turns (`max_concurrent_refreshes`; `None` when unlimited): a refresh grant holds
    /// one while it runs on the blocking pool. tokio's semaphore is fair, so requests start in
    /// the order they arrived.
    pub(crate) refreshing: Option<Arc<Semaphore>>,
    /// DPoP proofs (RFC 9449) at the token endpoint; without it a `DPoP` header is ignored.
    pub(crate) dpop: Option<Dpop>,
}

/// What the token endpoint does with `DPoP` proofs.
#[derive(Clone)]
pub(crate) struct Dpop {
    pub(crate) check: DpopCheck,
    /// Refuse logins without a proof (`dpop.required`).
    pub(crate) required: bool,
}

/// Tollgate's HTTP routes, built from the use cases a host runs.
///
/// Mount it with [`TokenService::configure`], at the application's root or inside a scope
/// (`web::scope("/auth").configure(service.configure())`).
#[derive(Clone)]
pub struct TokenService {
    endpoint: web::Data<Endpoint>,
    grants: web::Data<Grants>,
    guard: Option<AccessGuard>,
    revocation: Option<web::Data<Revocation>>,
    introspection: Option<web::Data<Introspection>>,
    keys: Option<web::Data<PublishedKeys>>,
    metadata: Option<web::Data<Metadata>>,
    operations: web::Data<Operations>,
}

/// Collects the use cases of a [`TokenService`]; see [`TokenService::builder`].
pub struct TokenServiceBuilder {
    login: Login,
    refresh: Refresh,
    config: WebConfig,
    clients: Option<ClientAuthenticator>,
    guard: Option<AccessGuard>,
    revocation: Option<Revocation>,
    introspection: Option<Introspection>,
    keys: Option<PublishedKeys>,
    metadata: Option<(String, String)>,
    operations: Operations,
    dpop: Option<Dpop>,
}

impl TokenService {
    /// Starts a service with the one route every host needs: `POST /api/oauth2/token` with the
    /// password and refresh-token grants. Everything else is added when its use case is given.
    pub fn builder(login: Login, refresh: Refresh) -> TokenServiceBuilder {
        TokenServiceBuilder {
            login,
            refresh,
            config: WebConfig::default(),
            clients: None,
            guard: None,
            revocation: None,
            introspection: None,
            keys: None,
            metadata: None,
            operations: Operations::default(),
            dpop: None,
        }
    }

    /// Registers the routes. Call it once per actix worker (inside the `HttpServer::new` closure);
    /// the use cases are shared, not copied.
    pub fn configure(&self) -> impl FnOnce(&mut web::ServiceConfig) + 'static {
        let service = self.clone();
        move |cfg| service.register(cfg)
    }

    /// Replaces the operations ports (readiness, metrics) after the build.
    pub(crate) fn set_operations(&mut self, operations: Operations) {
        self.operations = web::Data::new(operations);
    }

    /// Turns DPoP on at the token endpoint after the build (see [`TokenServiceBuilder::dpop`]).
    pub(crate) fn set_dpop(&mut self, check: DpopCheck, required: bool) {
        self.grants = web::Data::new(Grants {
            login: self.grants.login.clone(),
            refresh: self.grants.refresh.clone(),
            hashing: self.grants.hashing.clone(),
            refreshing: self.grants.refreshing.clone(),
            dpop: Some(Dpop { check, required }),
        });
    }

    /// The operations ports this service records to.
    pub(crate) fn operations(&self) -> web::Data<Operations> {
        self.operations.clone()
    }

    fn register(self, cfg: &mut web::ServiceConfig) {
        let dpop = self.grants.dpop.as_ref().map(|d| d.check.clone());
        cfg.app_data(self.operations)
            .app_data(self.endpoint)
            .app_data(self.grants)
            .service(
                web::resource("/api/oauth2/token").route(web::post().to(handlers::token::token)),
            );
        if let Some(guard) = self.guard {
            // Protected routes here also check that the token's session is still live, and take
            // DPoP-bound tokens with a proof when the token endpoint issues them.
            let mut bearer = BearerAuth::with_session_check(guard.clone());
            if let Some(dpop) = dpop {
                bearer = bearer.dpop(dpop);
            }
            let bearer = web::Data::new(bearer);
            cfg.app_data(bearer)
                .app_data(web::Data::new(guard))
                .service(
                    web::resource("/api/oauth2/logout")
                        .route(web::post().to(handlers::logout::logout)),
                )
                .service(web::resource("/api/users/me").route(web::get().to(handlers::me::me)));
        }
        if let Some(revocation) = self.revocation {
            cfg.app_data(revocation).service(
                web::resource("/api/oauth2/revoke").route(web::post().to(handlers::revoke::revoke)),
            );
        }
        if let Some(introspection) = self.introspection {
            cfg.app_data(introspection).service(
                web::resource("/api/oauth2/introspect")
                    .route(web::post().to(handlers::introspect::introspect)),
            );
        }
        if let Some(keys) = self.keys {
            cfg.app_data(keys).service(
                web::resource("/.well-known/jwks.json").route(web::get().to(handlers::jwks::jwks)),
            );
        }
        if let Some(metadata) = self.metadata {
            cfg.app_data(metadata).service(
                web::resource("/.well-known/oauth-authorization-server")
                    .route(web::get().to(handlers::discovery::discovery)),
            );
        }
    }
}

impl TokenServiceBuilder {
    /// HTTP limits and `require_client` (default: [`WebConfig::default`]).
    pub fn config(mut self, config: WebConfig) -> Self {
        self.config = config;
        self
    }

    /// Authenticates OAuth clients (API.md §6). Without it, requests that present client
    /// credentials are refused with `invalid_client`, as is every request when
    /// [`WebConfig::require_client`] is set.
    pub fn clients(mut self, clients: ClientAuthenticator) -> Self {
        self.clients = Some(clients);
        self
    }

    /// Adds `POST /api/oauth2/logout` and `GET /api/users/me`, both bearer-protected with a
    /// session check.
    pub fn logout(mut self, guard: AccessGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Adds `POST /api/oauth2/revoke` (RFC 7009).
    pub fn revocation(mut self, revocation: Revocation) -> Self {
        self.revocation = Some(revocation);
        self
    }

    /// Adds `POST /api/oauth2/introspect` (RFC 7662). It always requires a configured client,
    /// so it also needs [`clients`](Self::clients).
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Adds `GET /.well-known/jwks.json` (RFC 7517).
    pub fn jwks(mut self, keys: PublishedKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Adds `GET /.well-known/oauth-authorization-server` (RFC 8414) for tokens saying
    /// `iss = issuer`, with endpoint URLs under `endpoint_base` (the issuer itself when mounted at
    /// the root; `https://host/auth` when mounted in a `/auth` scope). Only the endpoints this
    /// service mounts are listed, so add the others first.
    pub fn metadata(mut self, issuer: &str, endpoint_base: &str) -> Self {
        self.metadata = Some((issuer.to_owned(), endpoint_base.to_owned()));
        self
    }

    /// Records token requests in `operations.metrics` (and serves readiness and metrics where
    /// the host mounts those routes). Default: none.
    pub fn operations(mut self, operations: Operations) -> Self {
        self.operations = operations;
        self
    }

    /// Accepts DPoP proofs (RFC 9449) at the token endpoint: a login with a valid proof starts a
    /// family bound to the proof's key, and a bound family is refreshed only with a proof by that
    /// key. With `required`, logins without a proof are refused. The proof's `htu` is checked
    /// against the base URL `check`'s verifier was given plus the request's path.
    pub fn dpop(mut self, check: DpopCheck, required: bool) -> Self {
        self.dpop = Some(Dpop { check, required });
        self
    }

    /// The service, ready to mount.
    pub fn build(self) -> TokenService {
        let metadata = self.metadata.map(|(issuer, base)| {
            web::Data::new(Metadata::new(
                &issuer,
                &base,
                self.config.require_client,
                handlers::discovery::Mounted {
                    jwks: self.keys.is_some(),
                    revocation: self.revocation.is_some(),
                    introspection: self.introspection.is_some(),
                },
            ))
        });
        let hashing = Arc::new(Semaphore::new(self.config.max_concurrent_hashes.max(1)));
        let refreshing = self
            .config
            .max_concurrent_refreshes
            .map(|turns| Arc::new(Semaphore::new(turns.max(1))));
        TokenService {
            endpoint: web::Data::new(Endpoint {
                config: self.config,
                clients: self.clients,
            }),
            grants: web::Data::new(Grants {
                login: self.login,
                refresh: self.refresh,
                hashing,
                refreshing,
                dpop: self.dpop,
            }),
            guard: self.guard,
            revocation: self.revocation.map(web::Data::new),
            introspection: self.introspection.map(web::Data::new),
            keys: self.keys.map(web::Data::new),
            metadata,
            operations: web::Data::new(self.operations),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn without_clients() -> Endpoint {
        Endpoint {
            config: WebConfig::default(),
            clients: None,
        }
    }

    fn creds(id: Option<&str>, secret: Option<&str>) -> ClientCredentials {
        ClientCredentials {
            id: id.map(str::to_owned),
            secret: secret.map(str::to_owned),
            address: None,
        }
    }

    #[test]
    fn without_clients_only_anonymous_requests_pass() {
        let endpoint = without_clients();
        assert!(matches!(
            endpoint.identify(&creds(None, None), false),
            Ok(None)
        ));
        assert!(endpoint
            .authorize_grant(None, GrantType::RefreshToken)
            .is_ok());
    }

    #[test]
    fn without_clients_presented_credentials_are_refused_not_ignored() {
        let endpoint = without_clients();
        for presented in [
            creds(Some("app"), Some("secret")),
            creds(Some("app"), None),
            creds(None, Some("secret")),
        ] {
            assert!(matches!(
                endpoint.identify(&presented, false),
                Err(AppError::InvalidClient)
            ));
        }
    }

    #[test]
    fn without_clients_a_required_client_is_never_satisfied() {
        assert!(matches!(
            without_clients().identify(&creds(None, None), true),
            Err(AppError::InvalidClient)
        ));
    }
}
