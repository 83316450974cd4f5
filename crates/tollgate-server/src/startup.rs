//! Binding the listener and running the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::Logger;
use actix_web::{web, App, HttpServer};
use tollgate_application::{Clock, UserAdmin};
use tollgate_infrastructure::SystemClock;
use tollgate_web::{AppState, WebConfig};

use tollgate_domain::UserName;

use crate::tls;
use crate::wiring::{open_services, Services};
use crate::{ServerError, Settings};

/// What tests (or embedders) may replace.
#[derive(Clone, Default)]
pub struct Overrides {
    /// The time source; the system clock when `None`.
    pub clock: Option<Arc<dyn Clock>>,
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
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
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let services = open_services(settings, &format!("{scheme}://{address}"), clock)?;
        bootstrap_user(settings, &services)?;

        let state = web::Data::new(AppState::new(
            services.ports.clone(),
            services.policy.clone(),
            WebConfig {
                max_body_bytes: settings.server.max_body_bytes,
                require_client: settings.auth.require_client,
                ..WebConfig::default()
            },
        ));
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(tollgate_web::SecurityHeaders::new(https))
                // Path only: a query string is never logged, whatever a client puts there.
                .wrap(
                    Logger::new("%a \"%{method}xi %U\" %s %b %Dms")
                        .custom_request_replace("method", |req| req.method().to_string()),
                )
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
        tracing::info!(%address, %scheme, database = ?services.database.backend(), kid = services.keys.signing_kid(), "tollgate listening");
        Ok(Self {
            port: address.port(),
            server: server.run(),
            services,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
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
        self.server.await?;
        Ok(())
    }
}

/// Creates the `[bootstrap]` user when configured and absent, so a fresh install is usable.
fn bootstrap_user(settings: &Settings, services: &Services) -> Result<(), ServerError> {
    let (Some(name), Some(password)) = (&settings.bootstrap.user, &settings.bootstrap.password)
    else {
        return Ok(());
    };
    let parsed = UserName::parse(name).map_err(tollgate_application::Error::from)?;
    // Look first: hashing a password on every start for nothing would slow restarts.
    if services.ports.users.find_by_name(&parsed)?.is_some() {
        return Ok(());
    }
    match UserAdmin::new(services.ports.clone()).add(name, password.expose()) {
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
