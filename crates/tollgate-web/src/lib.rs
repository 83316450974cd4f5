#![doc = include_str!("../README.md")]

mod auth;
mod body;
mod client_auth;
mod error;
mod form;
mod handlers;
mod headers;
mod operation_form;
mod response;
mod state;

pub use auth::{Authenticated, BearerAuth, BearerError};
pub use client_auth::parse_basic;
pub use error::OAuthError;
pub use form::{Grant, TokenRequest};
pub use headers::{SecurityHeaders, SecurityHeadersService};
pub use response::format_expiry;
pub use state::{AppState, WebConfig};

use actix_web::web;

/// Registers Tollgate's routes, sharing `state` across workers.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        // Bearer-protected routes here also check that the token's session is still live.
        let bearer = web::Data::new(BearerAuth::with_session_check(state.guard.clone()));
        cfg.app_data(state)
            .app_data(bearer)
            .service(
                web::resource("/api/oauth2/token").route(web::post().to(handlers::token::token)),
            )
            .service(
                web::resource("/api/oauth2/logout").route(web::post().to(handlers::logout::logout)),
            )
            .service(
                web::resource("/api/oauth2/revoke").route(web::post().to(handlers::revoke::revoke)),
            )
            .service(
                web::resource("/api/oauth2/introspect")
                    .route(web::post().to(handlers::introspect::introspect)),
            )
            .service(web::resource("/api/users/me").route(web::get().to(handlers::me::me)))
            .service(
                web::resource("/.well-known/jwks.json").route(web::get().to(handlers::jwks::jwks)),
            )
            .service(
                web::resource("/.well-known/oauth-authorization-server")
                    .route(web::get().to(handlers::discovery::discovery)),
            );
    }
}
