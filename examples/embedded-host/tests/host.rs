//! The host end to end: a member of the host's own table logs in under `/auth`, refreshes, is
//! caught reusing a spent token, and reads the host's guarded route only while the session lives.

use std::path::Path;

use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::{test, App};
use serde_json::Value;
use tollgate_application::SessionStore;
use tollgate_domain::User;

/// A host on a fresh database in `dir`, with the member `ada` (password "correct horse").
fn host_with_ada(dir: &Path) -> (embedded_host::Auth, User) {
    let auth =
        embedded_host::tollgate(&dir.join("host.db"), &dir.join("keys"), "https://host.test")
            .unwrap();
    let ada = auth
        .members
        .sign_up("ada", "correct horse", auth.hasher.as_ref())
        .unwrap();
    (auth, ada)
}

/// A form POST to Tollgate's token endpoint, mounted under `/auth`.
fn token_request(body: String) -> actix_http::Request {
    test::TestRequest::post()
        .uri("/auth/api/oauth2/token")
        .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request()
}

#[actix_web::test]
async fn a_member_logs_in_refreshes_is_caught_reusing_and_is_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let (auth, ada) = host_with_ada(dir.path());
    let app = test::init_service(App::new().configure(embedded_host::routes(&auth))).await;

    let notes = |access: &str| {
        test::TestRequest::get()
            .uri("/api/notes")
            .insert_header((AUTHORIZATION, format!("Bearer {access}")))
            .to_request()
    };
    let field = |v: &Value, k: &str| v[k].as_str().unwrap().to_owned();

    // Wrong password: refused like any OAuth server would.
    let wrong = test::call_service(
        &app,
        token_request("grant_type=password&username=ada&password=nope".into()),
    )
    .await;
    assert_eq!(wrong.status(), 400);

    let first: Value = test::call_and_read_body_json(
        &app,
        token_request("grant_type=password&username=ada&password=correct+horse".into()),
    )
    .await;
    let guarded: Value =
        test::call_and_read_body_json(&app, notes(&field(&first, "access_token"))).await;
    assert_eq!(guarded["owner"], "ada");

    let second: Value = test::call_and_read_body_json(
        &app,
        token_request(format!(
            "grant_type=refresh_token&refresh_token={}",
            field(&first, "refresh_token")
        )),
    )
    .await;
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(
        test::call_service(&app, notes(&field(&second, "access_token")))
            .await
            .status(),
        200
    );

    // The spent first token comes back: reuse. The family dies, the fresh pair with it.
    let reuse = test::call_service(
        &app,
        token_request(format!(
            "grant_type=refresh_token&refresh_token={}",
            field(&first, "refresh_token")
        )),
    )
    .await;
    assert_eq!(reuse.status(), 400);
    let body: Value = test::read_body_json(reuse).await;
    assert_eq!(body["error"], "invalid_grant");
    let after = test::call_service(
        &app,
        token_request(format!(
            "grant_type=refresh_token&refresh_token={}",
            field(&second, "refresh_token")
        )),
    )
    .await;
    assert_eq!(after.status(), 400);
    let denied = test::call_service(&app, notes(&field(&second, "access_token"))).await;
    assert_eq!(denied.status(), 401);

    // Without a token the host's route challenges with its own realm.
    let anonymous = test::call_service(
        &app,
        test::TestRequest::get().uri("/api/notes").to_request(),
    )
    .await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"notes\""
    );

    // Only what the host asked the builder for is mounted.
    for (method, path) in [
        ("POST", "/auth/api/oauth2/revoke"),
        ("POST", "/auth/api/oauth2/introspect"),
        ("GET", "/auth/.well-known/jwks.json"),
    ] {
        let request = test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(path)
            .to_request();
        assert_eq!(
            test::call_service(&app, request).await.status(),
            404,
            "{path}"
        );
    }

    // The session rows belong to a user Tollgate's own users table has never seen.
    let tollgate_users = tollgate_infrastructure_users(&dir.path().join("host.db"));
    assert_eq!(
        tollgate_users, 0,
        "ada ({}) lives only in the host's members table",
        ada.id
    );
}

/// How many rows Tollgate's own `users` table holds.
fn tollgate_infrastructure_users(file: &std::path::Path) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = SqliteConnection::establish(&file.to_string_lossy()).unwrap();
    diesel::sql_query("SELECT count(*) AS n FROM users")
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n
}

#[actix_web::test]
async fn a_password_change_or_suspension_ends_the_members_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (auth, ada) = host_with_ada(dir.path());
    let app = test::init_service(App::new().configure(embedded_host::routes(&auth))).await;
    let login = |password: &str| {
        token_request(format!(
            "grant_type=password&username=ada&password={}",
            password.replace(' ', "+")
        ))
    };
    let refresh = |v: &Value| {
        token_request(format!(
            "grant_type=refresh_token&refresh_token={}",
            v["refresh_token"].as_str().unwrap()
        ))
    };

    let before: Value = test::call_and_read_body_json(&app, login("correct horse")).await;
    auth.change_password(ada.id, "battery staple").unwrap();
    // The session of the old password is over, and the old password opens none.
    assert_eq!(
        test::call_service(&app, refresh(&before)).await.status(),
        400
    );
    assert_eq!(
        test::call_service(&app, login("correct horse"))
            .await
            .status(),
        400
    );
    let after: Value = test::call_and_read_body_json(&app, login("battery staple")).await;
    assert_eq!(
        test::call_service(&app, refresh(&after)).await.status(),
        200
    );

    auth.suspend(ada.id).unwrap();
    assert_eq!(
        test::call_service(&app, login("battery staple"))
            .await
            .status(),
        400
    );
    let families = auth.sessions.list_user_families(ada.id).unwrap();
    assert_eq!(families.len(), 2);
    assert!(families.iter().all(|f| f.is_revoked()), "{families:?}");
}
