#![doc = include_str!("../README.md")]

mod auth;
mod body;
mod client_auth;
mod error;
mod form;
mod handlers;
mod operation_form;
mod response;
mod service;
mod state;

pub use auth::{Authenticated, BearerAuth, BearerError};
pub use error::OAuthError;
pub use form::{parse_token_request, Grant, TokenRequest};
pub use response::format_expiry;
pub use service::{TokenService, TokenServiceBuilder};
pub use state::{AppState, WebConfig};

use actix_web::web;

/// Registers every Tollgate route, sharing `state` across workers.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    state.service().configure()
}
