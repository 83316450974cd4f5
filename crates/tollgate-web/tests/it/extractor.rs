//! `Authenticated` with `BearerAuth::offline`, as another actix service would use it.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use chrono::{TimeZone, Utc};
use mockall::predicate::eq;
use tollgate_application::{Error, MockClock, MockTokenVerifier};
use tollgate_domain::{AccessClaims, AccessTokenId, FamilyId, TokenRejection, UserId};
use tollgate_web::{Authenticated, BearerAuth};
use uuid::Uuid;

fn claims() -> AccessClaims {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    AccessClaims {
        cnf_jkt: None,
        unique_name: "alice".into(),
        sub: UserId::from_uuid(Uuid::from_u128(1)),
        sid: FamilyId::from_uuid(Uuid::from_u128(2)),
        jti: AccessTokenId::from_uuid(Uuid::from_u128(3)),
        issued_at: at,
        expires_at: at + chrono::Duration::minutes(15),
        issuer: "https://auth.example".into(),
    }
}

async fn hello(caller: Authenticated) -> HttpResponse {
    HttpResponse::Ok().body(caller.0.unique_name)
}

/// A service whose verifier answers `outcome` for the token "good" at the clock's instant.
async fn call(
    outcome: fn() -> Result<AccessClaims, Error>,
    authorization: Option<&str>,
) -> actix_web::dev::ServiceResponse {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 5, 0).unwrap();
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now);
    let mut verifier = MockTokenVerifier::new();
    verifier
        .expect_verify_access()
        .with(eq("good"), eq(now))
        .returning(move |_, _| outcome());
    verifier.expect_verify_refresh().never();
    let auth = web::Data::new(BearerAuth::offline(Arc::new(verifier), Arc::new(clock)));
    let app = test::init_service(
        App::new()
            .app_data(auth)
            .route("/hello", web::get().to(hello)),
    )
    .await;
    let mut req = test::TestRequest::get().uri("/hello");
    if let Some(value) = authorization {
        req = req.insert_header(("Authorization", value));
    }
    test::call_service(&app, req.to_request()).await
}

fn challenge(r: &actix_web::dev::ServiceResponse) -> String {
    r.headers()
        .get("WWW-Authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[actix_web::test]
async fn a_verified_token_reaches_the_handler_with_its_claims() {
    let r = call(|| Ok(claims()), Some("Bearer good")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(test::read_body(r).await, "alice");
}

#[actix_web::test]
async fn no_token_gets_a_bare_challenge_and_the_verifier_is_not_asked() {
    let r = call(|| panic!("verifier called"), None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&r), "Bearer realm=\"tollgate\"");
}

#[actix_web::test]
async fn a_refused_token_is_invalid_token() {
    let r = call(
        || Err(Error::InvalidToken(TokenRejection::Audience)),
        Some("Bearer good"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&r).contains("error=\"invalid_token\""));
    let body: serde_json::Value = test::read_body_json(r).await;
    assert_eq!(body["error"], "invalid_token");
}

#[actix_web::test]
async fn a_storage_outage_in_the_check_is_a_503() {
    let r = call(
        || Err(Error::Unavailable("down".into())),
        Some("Bearer good"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("Retry-After"));
}

#[actix_web::test]
async fn a_service_that_forgot_to_register_bearer_auth_fails_closed() {
    let app = test::init_service(App::new().route("/hello", web::get().to(hello))).await;
    let req = test::TestRequest::get()
        .uri("/hello")
        .insert_header(("Authorization", "Bearer good"))
        .to_request();
    let r = test::call_service(&app, req).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
