#![doc = include_str!("../README.md")]

mod auth;
mod body;
mod client_addr;
mod client_auth;
mod dpop;
mod error;
mod form;
mod handlers;
mod headers;
mod observe;
mod openapi;
mod operation_form;
mod response;
mod service;
mod state;

pub use auth::{Authenticated, BearerAuth, BearerError, Challenge, Scheme};
pub use client_auth::parse_basic;
pub use error::OAuthError;
pub use form::{parse_token_request, Grant, TokenRequest};
pub use handlers::jwks::JWKS_MAX_AGE_SECONDS;
pub use headers::{SecurityHeaders, SecurityHeadersService};
pub use observe::{observe, REQUEST_ID};
pub use openapi::{openapi_json, ApiDoc, DOCS_PATH, OPENAPI_PATH};
pub use response::format_expiry;
pub use service::{TokenService, TokenServiceBuilder};
pub use state::{AppState, Operations, WebConfig};

use actix_web::web;

/// Registers every Tollgate route, sharing `state` across workers, including the OpenAPI
/// document (`GET /api/openapi.json`) and its Swagger page (`/api/docs`).
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    let service = state.service().clone();
    move |cfg| {
        let serve_metrics = service.operations().serve_metrics;
        cfg.configure(service.configure())
            .service(web::resource("/healthz").route(web::get().to(handlers::health::healthz)))
            .service(web::resource("/readyz").route(web::get().to(handlers::health::readyz)))
            .configure(openapi::register);
        if serve_metrics {
            cfg.service(web::resource("/metrics").route(web::get().to(handlers::metrics::metrics)));
        }
    }
}

/// Registers only `GET /metrics`, for the separate listener of `server.metrics_bind`.
pub fn configure_metrics(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    let operations = state.service().operations();
    move |cfg| {
        cfg.app_data(operations)
            .service(web::resource("/metrics").route(web::get().to(handlers::metrics::metrics)));
    }
}
