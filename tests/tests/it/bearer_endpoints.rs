//! Bearer-protected endpoints (RFC 6750): `GET /api/users/me` and `POST /api/oauth2/logout`,
//! through the real app on every backend.

use chrono::Duration;
use serde_json::json;
use tollgate_tests::{backend_tests, forge, Backend};

use tollgate_tests::fixtures::{app_with_user, ALICE as USER, PASSWORD};

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn assert_invalid_token(r: &tollgate_tests::Response, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer realm=\"tollgate\"")
            && challenge.contains("error=\"invalid_token\""),
        "{what}: {challenge}"
    );
    assert_eq!(r.error(), "invalid_token", "{what}");
}

fn me_answers_with_the_callers_id_and_name(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let login = app.login(USER, PASSWORD);
    let access = login.access_token();
    let r = app.get("/api/users/me", Some(&bearer(&access)));
    assert_eq!(r.status, 200, "{}", r.text);
    let sub = forge::decode(&access).payload["sub"].clone();
    assert_eq!(r.json(), json!({"id": sub, "userName": USER}));
}

fn no_credentials_get_a_bare_challenge(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    for auth in [None, Some("Basic YWxpY2U6UGFzc3dvcmQx"), Some("Bearer ")] {
        for r in [
            app.get("/api/users/me", auth),
            app.post_authorized("/api/oauth2/logout", auth),
        ] {
            assert_eq!(r.status, 401, "{auth:?}: {}", r.text);
            // Both schemes are offered (RFC 9449 §7.1), neither with an error.
            assert_eq!(
                r.header("www-authenticate"),
                Some(
                    "Bearer realm=\"tollgate\", \
                     DPoP realm=\"tollgate\", algs=\"ES256 EdDSA RS256 PS256\""
                ),
                "{auth:?}"
            );
        }
    }
}

fn refused_tokens_are_invalid_token(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let login = app.login(USER, PASSWORD);
    let access = login.access_token();
    let parts = forge::decode(&access);
    let mut payload = parts.payload.clone();
    payload["sub"] = json!(uuid::Uuid::new_v4().to_string());
    for (what, token) in [
        ("garbage", "not-a-jwt".to_owned()),
        ("refresh token as bearer", login.refresh_token()),
        ("tampered payload", forge::with_payload(&access, &payload)),
        (
            "foreign signature",
            forge::sign_rs512(&parts.header, &parts.payload, &forge::foreign_key()),
        ),
    ] {
        assert_invalid_token(&app.get("/api/users/me", Some(&bearer(&token))), what);
    }
    app.clock.advance(Duration::minutes(16));
    assert_invalid_token(&app.get("/api/users/me", Some(&bearer(&access))), "expired");
}

fn logout_ends_exactly_the_callers_session(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let mine = app.login(USER, PASSWORD);
    let other = app.login(USER, PASSWORD);
    let r = app.post_authorized("/api/oauth2/logout", Some(&bearer(&mine.access_token())));
    assert_eq!(r.status, 204, "{}", r.text);
    // The access token is refused here at once, and the session's refresh token is dead.
    assert_invalid_token(
        &app.get("/api/users/me", Some(&bearer(&mine.access_token()))),
        "after logout",
    );
    assert_eq!(app.refresh(&mine.refresh_token()).error(), "invalid_grant");
    assert_invalid_token(
        &app.post_authorized("/api/oauth2/logout", Some(&bearer(&mine.access_token()))),
        "second logout",
    );
    // The other session lives on.
    assert_eq!(
        app.get("/api/users/me", Some(&bearer(&other.access_token())))
            .status,
        200
    );
    assert_eq!(app.refresh(&other.refresh_token()).status, 200);
}

fn reuse_detection_also_kills_the_sessions_access_tokens_here(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let first = app.login(USER, PASSWORD);
    let second = app.refresh(&first.refresh_token());
    assert_eq!(
        app.get("/api/users/me", Some(&bearer(&second.access_token())))
            .status,
        200
    );
    assert_eq!(app.refresh(&first.refresh_token()).error(), "invalid_grant");
    assert_invalid_token(
        &app.get("/api/users/me", Some(&bearer(&second.access_token()))),
        "after reuse",
    );
}

fn revoking_a_users_sessions_kills_their_tokens(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let a = app.login(USER, PASSWORD);
    let b = app.login(USER, PASSWORD);
    app.post_authorized("/api/oauth2/logout", Some(&bearer(&b.access_token())));
    let sessions = app.admin().list_sessions(USER).unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(
        sessions.iter().filter(|f| f.revoked_at.is_none()).count(),
        1
    );
    assert_eq!(app.admin().revoke_sessions(USER).unwrap(), 1);
    assert_invalid_token(
        &app.get("/api/users/me", Some(&bearer(&a.access_token()))),
        "revoked by admin",
    );
    assert_eq!(app.refresh(&a.refresh_token()).error(), "invalid_grant");
}

fn deleting_a_user_ends_every_token_they_hold(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let login = app.login(USER, PASSWORD);
    assert_eq!(app.admin().delete(USER).unwrap(), 1);
    assert_eq!(app.refresh(&login.refresh_token()).error(), "invalid_grant");
    assert_invalid_token(
        &app.get("/api/users/me", Some(&bearer(&login.access_token()))),
        "deleted user",
    );
    assert_eq!(app.login(USER, PASSWORD).error(), "invalid_grant");
    // The name is free again, and the new user's tokens are their own.
    app.add_user(USER, "another-password");
    assert_eq!(app.refresh(&login.refresh_token()).error(), "invalid_grant");
}

backend_tests!(
    deleting_a_user_ends_every_token_they_hold,
    me_answers_with_the_callers_id_and_name,
    no_credentials_get_a_bare_challenge,
    refused_tokens_are_invalid_token,
    logout_ends_exactly_the_callers_session,
    reuse_detection_also_kills_the_sessions_access_tokens_here,
    revoking_a_users_sessions_kills_their_tokens,
);
