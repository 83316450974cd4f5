//! Security headers (issue 7) on every route the app serves, successes and errors alike,
//! including actix's own 404 and 405 answers.

use tollgate_tests::{backend_tests, Backend, Response, TestApp};

use tollgate_tests::fixtures::{ALICE as USER, PASSWORD};

/// What every answer must carry (or lack), and, for errors and token-bearing answers, no-store.
fn check(what: &str, r: &Response, must_not_be_cached: bool) {
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}: {:?}",
        r.headers
    );
    assert!(r.header("server").is_none(), "{what}: Server banner sent");
    assert!(
        r.header("strict-transport-security").is_none(),
        "{what}: HSTS over plain HTTP"
    );
    if must_not_be_cached || r.status >= 400 {
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(r.header("pragma"), Some("no-cache"), "{what}");
    }
}

fn every_route_answers_with_the_security_headers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    app.add_user(USER, PASSWORD);
    let secret = app.add_client("app", "");
    let login = app.login(USER, PASSWORD);
    assert_eq!(login.status, 200);
    let bearer = format!("Bearer {}", login.access_token());
    let refresh_token = login.refresh_token();
    let introspect_body = format!("token={refresh_token}");

    let answers: Vec<(&str, Response, bool)> = vec![
        ("login", login.clone(), true),
        ("refresh", app.refresh(&refresh_token), true),
        (
            "token error",
            app.post_token("grantType=Password&userName=alice"),
            true,
        ),
        (
            "token 413",
            app.post_token(&format!("grantType=Password&x={}", "a".repeat(20_000))),
            true,
        ),
        (
            "token wrong content type",
            app.post_raw("/api/oauth2/token", "application/json", b"{}"),
            true,
        ),
        ("token 405", app.get("/api/oauth2/token", None), true),
        ("me", app.get("/api/users/me", Some(&bearer)), true),
        ("me 401", app.get("/api/users/me", None), true),
        (
            "introspect",
            app.post_with_basic("/api/oauth2/introspect", "app", &secret, &introspect_body),
            true,
        ),
        (
            "introspect 401",
            app.post_raw(
                "/api/oauth2/introspect",
                "application/x-www-form-urlencoded",
                introspect_body.as_bytes(),
            ),
            true,
        ),
        (
            "revoke",
            app.post_raw(
                "/api/oauth2/revoke",
                "application/x-www-form-urlencoded",
                b"token=nonsense",
            ),
            true,
        ),
        ("jwks", app.get("/.well-known/jwks.json", None), false),
        (
            "metadata",
            app.get("/.well-known/oauth-authorization-server", None),
            false,
        ),
        ("unknown route", app.get("/nothing/here", None), true),
        (
            "logout",
            app.post_authorized("/api/oauth2/logout", Some(&bearer)),
            true,
        ),
        (
            "logout 401",
            app.post_authorized("/api/oauth2/logout", None),
            true,
        ),
    ];
    for (what, r, no_store) in &answers {
        check(what, r, *no_store);
    }
    // The table covers successes and errors of the token-bearing routes.
    let statuses: Vec<u16> = answers.iter().map(|a| a.1.status).collect();
    for expected in [200, 204, 400, 401, 404, 405, 413] {
        assert!(
            statuses.contains(&expected),
            "{expected} not exercised: {statuses:?}"
        );
    }
}

backend_tests!(every_route_answers_with_the_security_headers);
