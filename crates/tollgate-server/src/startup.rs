//! Binding the listener and running the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use tollgate_application::{Clock, DpopCheck, DpopPorts, PasswordHasher, UserAdmin};
use tollgate_infrastructure::db::Backend;
use tollgate_infrastructure::dpop::{HmacNonces, ProofVerifier};
use tollgate_infrastructure::SystemClock;
use tollgate_web::{AppState, Operations, WebConfig};

use tollgate_domain::UserName;

use crate::operations::ServiceReadiness;
use crate::tls;
use crate::wiring::{open_services, Services};
use crate::{ServerError, Settings};

/// DPoP proofs as the `[dpop]` settings ask: checked against the issuer's URL, remembered in
/// the database (so a proof replayed to another process is refused too), and with server nonces
/// from the key directory's secret when `dpop.require_nonce` is on.
fn dpop_check(settings: &Settings, services: &Services) -> Result<DpopCheck, ServerError> {
    let check = DpopCheck::new(DpopPorts {
        clock: services.ports.clock.clone(),
        verifier: Arc::new(ProofVerifier::new(
            &services.policy.issuer,
            settings.dpop_max_age()?,
            settings.leeway(),
        )?),
        replay: Arc::new(services.database.dpop_replay_cache()),
    });
    Ok(if settings.dpop.require_nonce {
        check.require_nonces(Arc::new(HmacNonces::from_key_dir(
            &settings.keys_dir(),
            settings.dpop_nonce_lifetime()?,
        )?))
    } else {
        check
    })
}

/// What tests (or embedders) may replace.
#[derive(Clone, Default)]
pub struct Overrides {
    /// The time source; the system clock when `None`.
    pub clock: Option<Arc<dyn Clock>>,
    /// The password hasher; Argon2id with the `[password]` settings when `None`.
    pub hasher: Option<Arc<dyn PasswordHasher>>,
    /// How long a new key is published before it signs, without `keys.publish_ahead`'s lower
    /// bound (tests that restart a server on a new key and sign with it at once).
    pub publish_ahead: Option<chrono::Duration>,
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: Server,
    metrics_server: Option<Server>,
    services: Services,
}

impl Application {
    /// Binds `server.bind`, opens every adapter and prepares the HTTP server.
    /// Must be called inside an actix (tokio) runtime; blocks while the database and keys open.
    ///
    /// # Errors
    /// [`ServerError`] when binding, the settings or an adapter fail.
    pub fn build(settings: &Settings, overrides: Overrides) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(&settings.server.bind)?;
        let address = listener.local_addr()?;
        let tls = match settings.tls_files()? {
            Some((cert, key)) => Some(tls::acceptor(&cert, &key)?),
            None => None,
        };
        let https = tls.is_some();
        let scheme = if https { "https" } else { "http" };
        let metrics_listener = match &settings.server.metrics_bind {
            Some(bind) => Some(TcpListener::bind(bind)?),
            None => None,
        };
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let mut services = open_services(
            settings,
            &format!("{scheme}://{address}"),
            clock.clone(),
            overrides.publish_ahead,
        )?;
        if let Some(hasher) = overrides.hasher {
            services.ports.hasher = hasher;
        }
        bootstrap_user(settings, &services)?;
        crate::maintenance::spawn(settings, &services.database, clock.clone());
        crate::maintenance::spawn_key_rescan(
            settings.rescan_interval()?,
            services.key_directory.clone(),
            clock.clone(),
        );
        if let Some(warning) = issuer_warning(settings, services.database.backend()) {
            tracing::warn!(issuer = %services.policy.issuer, "{warning}");
        }
        let operations = Operations {
            readiness: Some(Arc::new(ServiceReadiness::new(
                services.database.clone(),
                services.codec.clone(),
                clock,
            ))),
            metrics: Some(services.metrics.clone()),
            serve_metrics: metrics_listener.is_none(),
            ids: Some(services.ports.ids.clone()),
        };

        let state = web::Data::new(
            AppState::new(
                services.ports.clone(),
                services.policy.clone(),
                WebConfig {
                    max_body_bytes: settings.server.max_body_bytes,
                    require_client: settings.auth.require_client,
                    trusted_proxies: settings.trusted_proxies()?,
                    throttle: settings.throttle_policy()?,
                    max_concurrent_hashes: settings.max_concurrent_hashes(),
                    hash_queue_timeout: settings.hash_queue_timeout()?,
                    max_concurrent_refreshes: Some(
                        settings.max_concurrent_refreshes(services.database.backend()),
                    ),
                    refresh_queue_timeout: settings.refresh_queue_timeout()?,
                    jwks_max_age: settings.keys.jwks_max_age,
                    ..WebConfig::default()
                },
            )
            .with_operations(operations)
            .with_dpop(dpop_check(settings, &services)?, settings.dpop.required),
        );
        let metrics_server = match metrics_listener {
            Some(listener) => {
                let state = state.clone();
                let metrics_address = listener.local_addr()?;
                let server = HttpServer::new(move || {
                    App::new().configure(tollgate_web::configure_metrics(state.clone()))
                })
                .workers(1)
                .shutdown_timeout(settings.server.shutdown_timeout)
                .listen(listener)?;
                tracing::info!(address = %metrics_address, "metrics listening");
                Some((metrics_address.port(), server.run()))
            }
            None => None,
        };
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(tollgate_web::SecurityHeaders::new(https))
                // One span and one log line per request; never the query string or the body.
                .wrap(from_fn(tollgate_web::observe))
                .configure(tollgate_web::configure(state.clone()))
        })
        .shutdown_timeout(settings.server.shutdown_timeout);
        server = match tls {
            Some(acceptor) => server.listen_openssl(listener, acceptor)?,
            None => {
                if !address.ip().is_loopback() {
                    tracing::warn!(
                        %address,
                        "serving plain HTTP on a non-loopback address: passwords and tokens cross \
                         the network in clear; set server.tls.cert and server.tls.key, or \
                         terminate TLS in front of this server"
                    );
                }
                server.listen(listener)?
            }
        };
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        if settings.server.blocking_threads > 0 {
            server = server.worker_max_blocking_threads(settings.server.blocking_threads);
        }
        tracing::info!(%address, %scheme, database = ?services.database.backend(), kid = services.keys().signing_kid(), "tollgate listening");
        let (metrics_port, metrics_server) = match metrics_server {
            Some((port, server)) => (Some(port), Some(server)),
            None => (None, None),
        };
        Ok(Self {
            port: address.port(),
            metrics_port,
            server: server.run(),
            metrics_server,
            services,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the `server.metrics_bind` listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// The adapters this server runs on (administration in tests and embedders).
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM or SIGINT start a graceful shutdown).
    ///
    /// # Errors
    /// I/O errors of the server.
    pub async fn run_until_stopped(self) -> Result<(), ServerError> {
        match self.metrics_server {
            Some(metrics) => {
                let metrics_handle = metrics.handle();
                let metrics = actix_web::rt::spawn(metrics);
                let served = self.server.await;
                // The metrics listener lives exactly as long as the service it describes.
                metrics_handle.stop(true).await;
                let _ = metrics.await;
                served?;
            }
            None => self.server.await?,
        }
        Ok(())
    }
}

/// A shared PostgreSQL suggests sibling processes; with `tokens.issuer` left at its default each
/// process puts its own address in `iss` and refuses the others' tokens as `invalid_grant`.
fn issuer_warning(settings: &Settings, backend: Backend) -> Option<&'static str> {
    (backend == Backend::Postgres && settings.tokens.issuer.is_empty()).then_some(
        "tokens.issuer is not set, so it defaults to this process's own address: other \
         processes sharing this database will refuse its tokens unless every one sets the same \
         tokens.issuer",
    )
}

/// Creates the `[bootstrap]` user when configured and the user table is empty, so a fresh
/// install is usable. Only then: an administrator who was deleted or renamed must not come back
/// with the bootstrap password at the next start.
fn bootstrap_user(settings: &Settings, services: &Services) -> Result<(), ServerError> {
    let (Some(name), Some(password)) = (&settings.bootstrap.user, &settings.bootstrap.password)
    else {
        return Ok(());
    };
    UserName::parse(name).map_err(tollgate_application::Error::from)?;
    // Look first: hashing a password on every start for nothing would slow restarts.
    if !services.ports.users.list()?.is_empty() {
        return Ok(());
    }
    match UserAdmin::new(services.ports.user_admin()).add(name, password.expose()) {
        Ok(user) => {
            // Login names stay out of logs (a name field may hold a mistyped password).
            tracing::info!(
                user = %tollgate_infrastructure::redact::user_name_digest(user.name.as_str()),
                "bootstrap user created"
            );
            Ok(())
        }
        // Another process sharing the database created it first.
        Err(tollgate_application::Error::UserExists) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_with_the_default_issuer_warns_about_siblings() {
        let mut s = Settings::default();
        assert!(issuer_warning(&s, Backend::Postgres).is_some());
        assert!(issuer_warning(&s, Backend::Sqlite).is_none());
        s.tokens.issuer = "https://auth.example".into();
        assert!(issuer_warning(&s, Backend::Postgres).is_none());
    }
}
