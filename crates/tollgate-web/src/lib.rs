#![doc = include_str!("../README.md")]

mod body;
mod error;
mod form;
mod handlers;
mod response;
mod state;

pub use error::OAuthError;
pub use form::{Grant, TokenRequest};
pub use response::format_expiry;
pub use state::{AppState, WebConfig};

use actix_web::web;

/// Registers Tollgate's routes, sharing `state` across workers.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(state).service(
            web::resource("/api/oauth2/token").route(web::post().to(handlers::token::token)),
        );
    }
}
