//! `POST /api/oauth2/token` end to end, through the real actix app, on every backend.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use tollgate_tests::{backend_tests, encode, forge, is_expires_at, Backend, TestApp};

use tollgate_tests::fixtures::{app_with_user, ADMINISTRATOR as USER, PASSWORD};

fn login(app: &TestApp) -> (String, String) {
    let r = app.login(USER, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    (r.access_token(), r.refresh_token())
}

fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn secs(v: &Value) -> i64 {
    v.as_i64().unwrap()
}

fn login_in_the_product_dialect_returns_the_documented_shape(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let r = app.login(USER, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let body = r.json();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "accessTokenExpiresAt",
            "access_token",
            "expires_in",
            "refreshTokenExpiresAt",
            "refresh_token",
            "token_type"
        ]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);

    let access = forge::decode(body["access_token"].as_str().unwrap());
    let refresh = forge::decode(body["refresh_token"].as_str().unwrap());
    for h in [&access.header, &refresh.header] {
        assert_eq!(h["alg"], "RS512");
        assert_eq!(h["typ"], "JWT");
        let kid = h["kid"].as_str().unwrap();
        assert_eq!(kid.len(), 40);
        assert!(
            kid.chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
            "{kid}"
        );
    }
    let a = &access.payload;
    assert_eq!(a["unique_name"], USER);
    assert_eq!(a["aud"], "access");
    assert_eq!(a["iss"], "https://tollgate.test");
    assert_eq!(a["nbf"], a["iat"]);
    assert_eq!(secs(&a["exp"]) - secs(&a["iat"]), 900);
    for claim in ["sub", "sid", "jti"] {
        uuid::Uuid::parse_str(a[claim].as_str().unwrap()).unwrap();
    }
    let t = &refresh.payload;
    assert_eq!(t["aud"], "refresh");
    assert_eq!(t["short_term_expiration"], "True");
    assert_eq!(t["sub"], a["sub"]);
    assert_eq!(t["nbf"], t["iat"]);
    assert_eq!(secs(&t["exp"]) - secs(&t["iat"]), 24 * 3600);
    assert_eq!(
        uuid::Uuid::parse_str(t["token_id"].as_str().unwrap())
            .unwrap()
            .get_version_num(),
        4
    );

    for (field, exp) in [
        ("accessTokenExpiresAt", &a["exp"]),
        ("refreshTokenExpiresAt", &t["exp"]),
    ] {
        let s = body[field].as_str().unwrap();
        assert!(is_expires_at(s), "{field} = {s}");
        // The issue instant plus the lifetime: at or up to a second after the whole-second exp.
        let at = parse_time(s);
        let exp = DateTime::from_timestamp(secs(exp), 0).unwrap();
        assert!(
            at >= exp && at < exp + Duration::seconds(1),
            "{field}: {at} vs exp {exp}"
        );
    }
}

fn login_in_the_rfc_dialect_can_ask_for_a_long_lived_refresh_token(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let r = app.post_token(&format!(
        "grant_type=password&username={USER}&password={PASSWORD}&longLivedRefreshToken=true"
    ));
    assert_eq!(r.status, 200, "{}", r.text);
    let t = forge::decode(&r.refresh_token()).payload;
    assert_eq!(t["short_term_expiration"], "False");
    assert_eq!(secs(&t["exp"]) - secs(&t["iat"]), 14 * 24 * 3600);
    // The flag is copied to the successor, in the RFC dialect too.
    let next = app.post_token(&format!(
        "grant_type=refresh_token&refresh_token={}",
        r.refresh_token()
    ));
    assert_eq!(next.status, 200, "{}", next.text);
    assert_eq!(
        forge::decode(&next.refresh_token()).payload["short_term_expiration"],
        "False"
    );
}

fn refresh_returns_a_new_pair_in_the_same_session(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (access, refresh) = login(&app);
    let r = app.refresh(&refresh);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let (a1, a2) = (
        forge::decode(&access).payload,
        forge::decode(&r.access_token()).payload,
    );
    assert_eq!(a1["sid"], a2["sid"]);
    assert_ne!(a1["jti"], a2["jti"]);
    let t = forge::decode(&r.refresh_token()).payload;
    assert_eq!(t["short_term_expiration"], "True");
    assert_ne!(t["token_id"], forge::decode(&refresh).payload["token_id"]);
}

fn ten_chained_refreshes_give_distinct_tokens(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (access, mut refresh) = login(&app);
    let mut seen = std::collections::HashSet::from([access, refresh.clone()]);
    for i in 0..10 {
        let r = app.refresh(&refresh);
        assert_eq!(r.status, 200, "refresh {i}: {}", r.text);
        assert!(
            seen.insert(r.access_token()),
            "repeated access token at {i}"
        );
        refresh = r.refresh_token();
        assert!(
            seen.insert(refresh.clone()),
            "repeated refresh token at {i}"
        );
    }
}

fn a_reused_refresh_token_is_refused_and_revokes_the_live_successor(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (_, first) = login(&app);
    let second = app.refresh(&first).refresh_token();
    let reuse = app.refresh(&first);
    assert_eq!((reuse.status, reuse.error()), (400, "invalid_grant".into()));
    let successor = app.refresh(&second);
    assert_eq!(
        (successor.status, successor.error()),
        (400, "invalid_grant".into())
    );
    // Other sessions of the same user are untouched.
    let (_, other) = login(&app);
    assert_eq!(app.refresh(&other).status, 200);
}

fn an_access_token_at_the_refresh_grant_is_invalid_grant(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (access, refresh) = login(&app);
    let r = app.refresh(&access);
    assert_eq!((r.status, r.error()), (400, "invalid_grant".into()));
    // Nothing was spent by the failed attempt.
    assert_eq!(app.refresh(&refresh).status, 200);
}

fn forged_refresh_tokens_are_invalid_grant(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (_, refresh) = login(&app);
    let parts = forge::decode(&refresh);

    let mut longer = parts.payload.clone();
    longer["exp"] = json!(secs(&parts.payload["exp"]) + 365 * 24 * 3600);
    let tampered = forge::with_payload(&refresh, &longer);

    let foreign = forge::sign_rs512(&parts.header, &parts.payload, &forge::foreign_key());

    let mut none_header = parts.header.clone();
    none_header["alg"] = json!("none");
    let unsigned = forge::unsigned(&none_header, &parts.payload);

    let cert = std::fs::read_dir(app.keys_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".crt.pem"))
        .expect("a certificate in the key dir");
    let public_pem = openssl::x509::X509::from_pem(&std::fs::read(cert).unwrap())
        .unwrap()
        .public_key()
        .unwrap()
        .public_key_to_pem()
        .unwrap();
    let mut hs_header = parts.header.clone();
    hs_header["alg"] = json!("HS512");
    let hs512 = forge::sign_hs512(&hs_header, &parts.payload, &public_pem);

    let mut unknown_kid = parts.header.clone();
    unknown_kid["kid"] = json!("0".repeat(40));
    let unknown = forge::sign_rs512(&unknown_kid, &parts.payload, &forge::foreign_key());

    for (what, token) in [
        ("tampered payload", tampered),
        ("foreign signature", foreign),
        ("alg none", unsigned),
        ("HS512 keyed with the public key", hs512),
        ("unknown kid", unknown),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        let r = app.refresh(&encode(&token));
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_grant".into()),
            "{what}: {}",
            r.text
        );
    }
    // None of them spent or revoked the real token.
    assert_eq!(app.refresh(&refresh).status, 200);
}

fn an_expired_refresh_token_is_invalid_grant(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (_, refresh) = login(&app);
    app.clock.advance(Duration::hours(25));
    let r = app.refresh(&refresh);
    assert_eq!((r.status, r.error()), (400, "invalid_grant".into()));
}

fn refresh_tokens_never_outlive_their_family(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.tokens.family_max_lifetime = 3600) else {
        return;
    };
    app.add_user(USER, PASSWORD);
    let r = app.login(USER, PASSWORD);
    let t = forge::decode(&r.refresh_token()).payload;
    assert_eq!(secs(&t["exp"]) - secs(&t["iat"]), 3600);
    app.clock.advance(Duration::minutes(30));
    let next = app.refresh(&r.refresh_token());
    assert_eq!(next.status, 200, "{}", next.text);
    let t2 = forge::decode(&next.refresh_token()).payload;
    assert_eq!(
        secs(&t2["exp"]),
        secs(&t["exp"]),
        "the successor keeps the family's end"
    );
    app.clock.advance(Duration::minutes(31));
    assert_eq!(app.refresh(&next.refresh_token()).error(), "invalid_grant");
}

fn wrong_password_and_unknown_user_give_identical_answers(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let wrong = app.login(USER, "wrong");
    let unknown = app.login("nobody", PASSWORD);
    let invalid_name = app.post_token("grantType=Password&userName=%01&password=x");
    assert_eq!((wrong.status, wrong.error()), (400, "invalid_grant".into()));
    assert_eq!(wrong.text, unknown.text);
    assert_eq!(wrong.text, invalid_name.text);
    assert_eq!(wrong.header("cache-control"), Some("no-store"));
}

fn a_disabled_user_can_neither_log_in_nor_refresh(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (_, refresh) = login(&app);
    assert_eq!(app.admin().set_disabled(USER, true).unwrap(), 1);
    assert_eq!(app.login(USER, PASSWORD).error(), "invalid_grant");
    assert_eq!(app.refresh(&refresh).error(), "invalid_grant");
    app.admin().set_disabled(USER, false).unwrap();
    assert_eq!(app.login(USER, PASSWORD).status, 200);
    // Enabling does not bring revoked sessions back.
    assert_eq!(app.refresh(&refresh).error(), "invalid_grant");
}

fn changing_the_password_revokes_every_session(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (_, a) = login(&app);
    let (_, b) = login(&app);
    assert_eq!(app.admin().set_password(USER, "NewPassword2").unwrap(), 2);
    assert_eq!(app.refresh(&a).error(), "invalid_grant");
    assert_eq!(app.refresh(&b).error(), "invalid_grant");
    assert_eq!(app.login(USER, PASSWORD).error(), "invalid_grant");
    assert_eq!(app.login(USER, "NewPassword2").status, 200);
}

fn malformed_requests_are_invalid_request(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (_, refresh) = login(&app);
    for body in [
        String::new(),
        "userName=a&password=b".into(),
        "grantType=Password&password=b".into(),
        format!("grantType=Password&userName={USER}"),
        "grantType=RefreshToken".into(),
        format!("grantType=Password&userName={USER}&password={PASSWORD}&password={PASSWORD}"),
        format!("grantType=Password&grant_type=password&userName={USER}&password={PASSWORD}"),
        format!("grantType=RefreshToken&refreshToken={refresh}&refresh_token={refresh}"),
        format!(
            "grantType=Password&userName={USER}&password={PASSWORD}&longLivedRefreshToken=maybe"
        ),
        "grantType=Password&userName=%FF%FE&password=x".into(),
    ] {
        let r = app.post_token(&body);
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_request".into()),
            "{body}: {}",
            r.text
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let description = r.json()["error_description"].as_str().unwrap().to_owned();
        assert!(description.is_ascii() && !description.contains('"'));
    }
    // Mixed dialects across *different* parameters are fine.
    let r = app.post_token(&format!("grant_type=RefreshToken&refreshToken={refresh}"));
    assert_eq!(r.status, 200, "{}", r.text);
}

fn an_unknown_grant_is_unsupported_grant_type(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    for grant in ["client_credentials", "authorization_code", "Passwordx"] {
        let r = app.post_token(&format!(
            "grantType={grant}&userName={USER}&password={PASSWORD}"
        ));
        assert_eq!(
            (r.status, r.error()),
            (400, "unsupported_grant_type".into())
        );
    }
}

fn wrong_content_types_and_oversized_bodies_are_refused(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let body = format!("grantType=Password&userName={USER}&password={PASSWORD}");
    for ct in [
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded; charset=latin1",
    ] {
        let r = app.post_raw("/api/oauth2/token", ct, body.as_bytes());
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_request".into()),
            "{ct}"
        );
    }
    let huge = format!("{body}&padding={}", "x".repeat(64 * 1024));
    let r = app.post_token(&huge);
    assert_eq!((r.status, r.error()), (413, "invalid_request".into()));
    assert_eq!(app.post_token(&body).status, 200, "the server still serves");
}

fn tokens_issued_before_a_restart_still_refresh_after_it(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (_, refresh) = login(&app);
    let kid = forge::decode(&refresh).header["kid"].clone();
    let env = app.env.clone();
    app.stop();
    let again = TestApp::spawn_in(env, |_| {});
    let r = again.refresh(&refresh);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        forge::decode(&r.refresh_token()).header["kid"],
        kid,
        "the key persisted"
    );
}

backend_tests!(
    login_in_the_product_dialect_returns_the_documented_shape,
    login_in_the_rfc_dialect_can_ask_for_a_long_lived_refresh_token,
    refresh_returns_a_new_pair_in_the_same_session,
    ten_chained_refreshes_give_distinct_tokens,
    a_reused_refresh_token_is_refused_and_revokes_the_live_successor,
    an_access_token_at_the_refresh_grant_is_invalid_grant,
    forged_refresh_tokens_are_invalid_grant,
    an_expired_refresh_token_is_invalid_grant,
    refresh_tokens_never_outlive_their_family,
    wrong_password_and_unknown_user_give_identical_answers,
    a_disabled_user_can_neither_log_in_nor_refresh,
    changing_the_password_revokes_every_session,
    malformed_requests_are_invalid_request,
    an_unknown_grant_is_unsupported_grant_type,
    wrong_content_types_and_oversized_bodies_are_refused,
    tokens_issued_before_a_restart_still_refresh_after_it,
);
