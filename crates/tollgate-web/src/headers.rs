//! Security headers on every answer, whichever route, extractor or actix default produced it.

use std::future::{ready, Ready};
use std::rc::Rc;

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::Error;
use futures_util::future::LocalBoxFuture;

/// HSTS for a year: long enough to matter, the common value of hardening guides.
const HSTS: &str = "max-age=31536000";

/// Middleware that puts the security headers on every response (wrap the `App` with it):
///
/// - `X-Content-Type-Options: nosniff`, so no browser guesses a type for our JSON;
/// - `Cache-Control: no-store` and `Pragma: no-cache` on every error (4xx/5xx), including
///   actix's own 404/405 answers; handlers already mark tokens and token metadata so;
/// - `Strict-Transport-Security` when the server speaks TLS;
/// - no `Server` header, whatever sets one.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecurityHeaders {
    hsts: bool,
}

impl SecurityHeaders {
    /// The headers for a plain-HTTP (`tls = false`) or HTTPS (`tls = true`, adds HSTS) server.
    pub fn new(tls: bool) -> Self {
        Self { hsts: tls }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SecurityHeaders
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = SecurityHeadersService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SecurityHeadersService {
            service: Rc::new(service),
            hsts: self.hsts,
        }))
    }
}

/// The service [`SecurityHeaders`] wraps around the app.
pub struct SecurityHeadersService<S> {
    service: Rc<S>,
    hsts: bool,
}

impl<S, B> Service<ServiceRequest> for SecurityHeadersService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // Handlers' and extractors' errors arrive here as responses already (actix renders them
        // inside the route); an `Err` could only come from a middleware inside this one, and
        // there is none. (Keeping a clone of the request to render one would make routing
        // panic: it needs the request unshared.)
        let service = self.service.clone();
        let hsts = self.hsts;
        Box::pin(async move {
            let mut response = service.call(req).await?;
            let status = response.status();
            apply(
                response.headers_mut(),
                status.is_client_error() || status.is_server_error(),
                hsts,
            );
            Ok(response)
        })
    }
}

fn apply(headers: &mut HeaderMap, is_error: bool, hsts: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.remove(header::SERVER);
    if is_error {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test, web, App, HttpResponse};

    async fn headers_of(tls: bool, path: &str) -> (u16, HeaderMap) {
        let app = test::init_service(App::new().wrap(SecurityHeaders::new(tls)).route(
            "/ok",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .insert_header((header::SERVER, "leaky/1.0"))
                    .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
                    .finish()
            }),
        ))
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        (response.status().as_u16(), response.headers().clone())
    }

    #[actix_web::test]
    async fn every_answer_gets_nosniff_and_no_server_banner() {
        for path in ["/ok", "/missing"] {
            let (_, headers) = headers_of(false, path).await;
            assert_eq!(
                headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
                "nosniff"
            );
            assert!(headers.get(header::SERVER).is_none());
            assert!(headers.get(header::STRICT_TRANSPORT_SECURITY).is_none());
        }
    }

    #[actix_web::test]
    async fn errors_are_never_cached_and_successes_keep_their_policy() {
        let (status, headers) = headers_of(false, "/missing").await;
        assert_eq!(status, 404);
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
        let (_, headers) = headers_of(false, "/ok").await;
        assert_eq!(
            headers.get(header::CACHE_CONTROL).unwrap(),
            "public, max-age=300"
        );
    }

    #[actix_web::test]
    async fn tls_servers_send_hsts() {
        for path in ["/ok", "/missing"] {
            let (_, headers) = headers_of(true, path).await;
            assert_eq!(
                headers.get(header::STRICT_TRANSPORT_SECURITY).unwrap(),
                HSTS
            );
        }
    }
}
