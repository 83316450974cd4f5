//! Clients (API.md §6), revocation (RFC 7009) and introspection (RFC 7662) end to end, through
//! the real actix app, on every backend.

use chrono::Duration;
use serde_json::{json, Value};
use tollgate_application::ClientStore;
use tollgate_domain::ClientId;
use tollgate_tests::{backend_tests, encode, forge, Backend, Response, TestApp};

use tollgate_tests::fixtures::{ALICE as USER, PASSWORD};
const TOKEN: &str = "/api/oauth2/token";
const REVOKE: &str = "/api/oauth2/revoke";
const INTROSPECT: &str = "/api/oauth2/introspect";
const BOTH: &str = "password,refresh_token";
/// An id no configured client has, as a stock library would send for a public client.
const PUBLIC_ID: &str = "some-public-client";

fn app(backend: Backend) -> Option<TestApp> {
    with_user(TestApp::spawn(backend)?)
}

fn app_requiring_clients(backend: Backend) -> Option<TestApp> {
    with_user(TestApp::spawn_with(backend, |s| {
        s.auth.require_client = true
    })?)
}

fn with_user(app: TestApp) -> Option<TestApp> {
    app.add_user(USER, PASSWORD);
    Some(app)
}

fn rfc_login() -> String {
    format!("grant_type=password&username={USER}&password={PASSWORD}")
}

fn rfc_refresh(refresh: &str) -> String {
    format!("grant_type=refresh_token&refresh_token={refresh}")
}

fn form(app: &TestApp, path: &str, body: &str) -> Response {
    app.post_raw(path, "application/x-www-form-urlencoded", body.as_bytes())
}

/// An anonymous product-dialect login: (access, refresh).
fn login(app: &TestApp) -> (String, String) {
    let r = app.login(USER, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    (r.access_token(), r.refresh_token())
}

fn assert_invalid_client(r: &Response, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    assert_eq!(r.error(), "invalid_client", "{what}");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"tollgate\""),
        "{what}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
    assert_eq!(r.header("pragma"), Some("no-cache"), "{what}");
}

fn assert_status_error(r: &Response, status: u16, error: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert_eq!(r.error(), error, "{what}");
}

/// An empty `200`, the only answer revocation gives to anything well-formed.
fn assert_revoke_ok(r: &Response, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text);
    assert_eq!(r.text, "", "{what}");
}

/// Introspects `token` as client `(id, secret)` and returns the JSON answer.
fn introspect(app: &TestApp, client: (&str, &str), token: &str) -> Value {
    let r = app.post_with_basic(INTROSPECT, client.0, client.1, &format!("token={token}"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.json()
}

/// Whether a refresh token still works (spending it).
fn refresh_works(app: &TestApp, refresh: &str) -> bool {
    let r = app.refresh(refresh);
    match r.status {
        200 => true,
        400 if r.error() == "invalid_grant" => false,
        _ => panic!("unexpected answer to a refresh: {} {}", r.status, r.text),
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort_unstable();
    k
}

// ---------------------------------------------------------------------------------------------
// Client authentication at the token endpoint

fn a_client_authenticates_with_http_basic_and_with_body_parameters(backend: Backend) {
    let Some(app) = app(backend) else { return };
    // An id with characters that must be form-urlencoded inside Basic credentials.
    let id = "web:app/1";
    let secret = app.add_client(id, BOTH);

    let basic = app.post_with_basic(TOKEN, id, &secret, &rfc_login());
    assert_eq!(basic.status, 200, "{}", basic.text);
    let body = form(
        &app,
        TOKEN,
        &format!(
            "{}&client_id={}&client_secret={}",
            rfc_login(),
            encode(id),
            encode(&secret)
        ),
    );
    assert_eq!(body.status, 200, "{}", body.text);
    let next = app.post_with_basic(TOKEN, id, &secret, &rfc_refresh(&basic.refresh_token()));
    assert_eq!(next.status, 200, "{}", next.text);
}

fn a_wrong_secret_is_invalid_client_and_spends_nothing(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("app", BOTH);
    let (_, refresh) = login(&app);
    let mut wrong = secret.clone();
    wrong.replace_range(..1, if secret.starts_with('A') { "B" } else { "A" });

    assert_invalid_client(
        &app.post_with_basic(TOKEN, "app", &wrong, &rfc_login()),
        "basic, wrong secret",
    );
    assert_invalid_client(
        &form(
            &app,
            TOKEN,
            &format!(
                "{}&client_id=app&client_secret={wrong}",
                rfc_refresh(&refresh)
            ),
        ),
        "body, wrong secret",
    );
    assert_invalid_client(
        &app.post_with_basic(TOKEN, "no-such-app", &secret, &rfc_login()),
        "unknown client with a secret",
    );
    // The refused refresh spent nothing: client checks come before the refresh work.
    assert!(refresh_works(&app, &refresh));
}

fn both_client_authentication_methods_at_once_are_invalid_request(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("app", BOTH);
    let with_body_secret = format!("{}&client_secret={secret}", rfc_login());
    assert_status_error(
        &app.post_with_basic(TOKEN, "app", &secret, &with_body_secret),
        400,
        "invalid_request",
        "basic and body secret",
    );
    let with_other_id = format!("{}&client_id=other", rfc_login());
    assert_status_error(
        &app.post_with_basic(TOKEN, "app", &secret, &with_other_id),
        400,
        "invalid_request",
        "basic and another body id",
    );
    let r = app.post_with_basic(
        REVOKE,
        "app",
        &secret,
        &format!("token=x&client_secret={secret}"),
    );
    assert_status_error(&r, 400, "invalid_request", "revocation with both");
}

fn an_unknown_client_id_without_a_secret_is_ignored_but_a_configured_one_must_authenticate(
    backend: Backend,
) {
    let Some(app) = app(backend) else { return };
    app.add_client("app", BOTH);
    let r = form(
        &app,
        TOKEN,
        &format!("{}&client_id={PUBLIC_ID}", rfc_login()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = form(
        &app,
        TOKEN,
        &format!("{}&client_id={PUBLIC_ID}", rfc_refresh(&r.refresh_token())),
    );
    assert_eq!(r.status, 200, "{}", r.text);

    assert_invalid_client(
        &form(&app, TOKEN, &format!("{}&client_id=app", rfc_login())),
        "configured client without its secret",
    );
}

fn any_client_secret_must_authenticate(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("app", BOTH);
    assert_invalid_client(
        &form(
            &app,
            TOKEN,
            &format!("{}&client_secret={secret}", rfc_login()),
        ),
        "a secret without an id",
    );
    assert_invalid_client(
        &form(
            &app,
            TOKEN,
            &format!("{}&client_id={PUBLIC_ID}&client_secret=guess", rfc_login()),
        ),
        "an unknown id with a secret",
    );
    assert_invalid_client(
        &app.post_with_basic(TOKEN, PUBLIC_ID, "guess", &rfc_login()),
        "an unknown id with a secret, by Basic",
    );
}

fn require_client_refuses_anonymous_token_and_revocation_requests(backend: Backend) {
    let Some(app) = app_requiring_clients(backend) else {
        return;
    };
    let secret = app.add_client("app", BOTH);
    assert_invalid_client(&app.login(USER, PASSWORD), "anonymous product login");
    assert_invalid_client(&form(&app, TOKEN, &rfc_login()), "anonymous RFC login");
    assert_invalid_client(
        &form(
            &app,
            TOKEN,
            &format!("{}&client_id={PUBLIC_ID}", rfc_login()),
        ),
        "an id alone",
    );

    let r = app.post_with_basic(TOKEN, "app", &secret, &rfc_login());
    assert_eq!(r.status, 200, "{}", r.text);
    let refresh = r.refresh_token();
    assert_invalid_client(&app.refresh(&refresh), "anonymous refresh");
    assert_invalid_client(
        &form(&app, REVOKE, &format!("token={refresh}")),
        "anonymous revocation",
    );
    // Nothing of that reached the session: the token still rotates for the client.
    let r = app.post_with_basic(TOKEN, "app", &secret, &rfc_refresh(&refresh));
    assert_eq!(r.status, 200, "{}", r.text);
    let next = r.refresh_token();
    assert_revoke_ok(
        &app.post_with_basic(REVOKE, "app", &secret, &format!("token={next}")),
        "revocation by the client",
    );
    let r = app.post_with_basic(TOKEN, "app", &secret, &rfc_refresh(&next));
    assert_status_error(&r, 400, "invalid_grant", "refresh after revocation");
}

fn the_product_dialect_needs_no_client_when_clients_are_optional(backend: Backend) {
    let Some(app) = app(backend) else { return };
    // Configured clients change nothing for callers that send none.
    app.add_client("app", "refresh_token");
    let (_, refresh) = login(&app);
    let r = app.refresh(&refresh);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_revoke_ok(
        &form(&app, REVOKE, &format!("token={}", r.refresh_token())),
        "anonymous revocation",
    );
    assert!(!refresh_works(&app, &r.refresh_token()));
}

fn a_client_may_use_only_its_allowed_grants(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let refresher = app.add_client("refresher", "refresh_token");
    let logger = app.add_client("logger", "password");
    let introspector = app.add_client("introspector", "");

    for (id, secret) in [("refresher", &refresher), ("introspector", &introspector)] {
        assert_status_error(
            &app.post_with_basic(TOKEN, id, secret, &rfc_login()),
            400,
            "unauthorized_client",
            id,
        );
    }
    let r = app.post_with_basic(TOKEN, "logger", &logger, &rfc_login());
    assert_eq!(r.status, 200, "{}", r.text);
    let refresh = r.refresh_token();
    assert_status_error(
        &app.post_with_basic(TOKEN, "logger", &logger, &rfc_refresh(&refresh)),
        400,
        "unauthorized_client",
        "logger refreshing",
    );
    // The refused refresh spent nothing (the token is bound to `logger`, who may see it).
    assert_eq!(
        introspect(&app, ("logger", &logger), &refresh)["active"],
        true
    );
    // A client without grants may still introspect (an unbound token here: a bound one is
    // only its own client's to see).
    let (access, _) = login(&app);
    assert_eq!(
        introspect(&app, ("introspector", &introspector), &access)["active"],
        true
    );
}

// ---------------------------------------------------------------------------------------------
// Revocation

fn revoking_a_refresh_token_kills_its_family(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("rs", "");
    let (access, refresh) = login(&app);
    assert_revoke_ok(
        &form(
            &app,
            REVOKE,
            &format!("token={refresh}&token_type_hint=refresh_token"),
        ),
        "revoke refresh",
    );
    assert!(!refresh_works(&app, &refresh));
    // The access token's session is the same family: dead here at once.
    let me = app.get("/api/users/me", Some(&format!("Bearer {access}")));
    assert_eq!(me.status, 401, "{}", me.text);
    assert_eq!(
        introspect(&app, ("rs", &secret), &access),
        json!({"active": false})
    );
}

fn revoking_an_access_token_kills_its_sid_family(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let (access, refresh) = login(&app);
    let (_, other_refresh) = login(&app);
    // No hint: the server finds out what the token is.
    assert_revoke_ok(
        &form(&app, REVOKE, &format!("token={access}")),
        "revoke access",
    );
    assert!(!refresh_works(&app, &refresh));
    assert!(
        refresh_works(&app, &other_refresh),
        "another session of the same user lives on"
    );
}

fn revoking_unknown_garbage_expired_or_foreign_tokens_is_200(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let (access, refresh) = login(&app);
    let parts = forge::decode(&access);
    let foreign = forge::sign_rs512(&parts.header, &parts.payload, &forge::foreign_key());
    for (token, what) in [
        ("garbage".to_owned(), "garbage"),
        ("a.b.c".to_owned(), "three garbage parts"),
        (foreign, "foreign signature"),
    ] {
        for hint in [
            "",
            "&token_type_hint=access_token",
            "&token_type_hint=bogus",
        ] {
            assert_revoke_ok(
                &form(&app, REVOKE, &format!("token={}{hint}", encode(&token))),
                what,
            );
        }
    }
    assert!(
        refresh_works(&app, &refresh),
        "none of that touched the session"
    );

    let (expired_access, _) = login(&app);
    app.clock.advance(Duration::minutes(16));
    assert_revoke_ok(
        &form(&app, REVOKE, &format!("token={expired_access}")),
        "expired access token",
    );
    assert_status_error(
        &form(&app, REVOKE, "token_type_hint=access_token"),
        400,
        "invalid_request",
        "no token",
    );
}

fn an_unknown_hint_is_ignored_and_a_wrong_hint_still_finds_the_token(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let (_, first) = login(&app);
    let (_, second) = login(&app);
    assert_revoke_ok(
        &form(
            &app,
            REVOKE,
            &format!("token={first}&token_type_hint=id_token"),
        ),
        "unknown hint",
    );
    assert_revoke_ok(
        &form(
            &app,
            REVOKE,
            &format!("token={second}&token_type_hint=access_token"),
        ),
        "wrong hint",
    );
    assert!(!refresh_works(&app, &first));
    assert!(!refresh_works(&app, &second));
}

// ---------------------------------------------------------------------------------------------
// Introspection

fn introspection_needs_a_configured_client(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("rs", "");
    let (access, _) = login(&app);
    let body = format!("token={access}");
    assert_invalid_client(&form(&app, INTROSPECT, &body), "anonymous");
    assert_invalid_client(
        &form(&app, INTROSPECT, &format!("{body}&client_id={PUBLIC_ID}")),
        "an unknown id alone",
    );
    assert_invalid_client(
        &form(&app, INTROSPECT, &format!("{body}&client_id=rs")),
        "a configured id without its secret",
    );
    assert_invalid_client(
        &app.post_with_basic(INTROSPECT, "rs", "wrong", &body),
        "wrong secret",
    );
    // Body parameters work as well as Basic.
    let r = form(
        &app,
        INTROSPECT,
        &format!("{body}&client_id=rs&client_secret={secret}"),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["active"], true);
}

fn introspecting_a_live_access_token_shows_its_claims(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("rs", "");
    let (access, _) = login(&app);
    let decoded = forge::decode(&access);
    let claims = decoded.payload;

    let got = introspect(&app, ("rs", &secret), &access);
    assert_eq!(
        got,
        json!({
            "active": true,
            "token_type": "Bearer",
            "sub": claims["sub"],
            "username": USER,
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": "https://tollgate.test",
            "aud": "access",
            "sid": claims["sid"],
            "kid": decoded.header["kid"],
            "alg": "RS512",
        })
    );
}

fn introspecting_a_live_refresh_token_shows_it_active(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("rs", "");
    let (_, refresh) = login(&app);
    let claims = forge::decode(&refresh).payload;

    let got = introspect(&app, ("rs", &secret), &refresh);
    assert_eq!(
        keys(&got),
        [
            "active",
            "alg",
            "aud",
            "exp",
            "iat",
            "iss",
            "kid",
            "sub",
            "token_type",
            "username"
        ]
    );
    assert_eq!(got["kid"], forge::decode(&refresh).header["kid"]);
    assert_eq!(got["alg"], "RS512");
    assert_eq!(got["active"], true);
    assert_eq!(got["token_type"], "refresh_token");
    assert_eq!(got["aud"], "refresh");
    for claim in ["sub", "exp", "iat", "iss"] {
        assert_eq!(got[claim], claims[claim], "{claim}");
    }
    assert_eq!(got["username"], USER);
    // Introspection only reads: the token still rotates.
    assert!(refresh_works(&app, &refresh));
}

fn introspecting_tokens_of_a_revoked_family_is_exactly_inactive(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("rs", "");
    let (access, refresh) = login(&app);
    assert_eq!(introspect(&app, ("rs", &secret), &access)["active"], true);
    assert_revoke_ok(&form(&app, REVOKE, &format!("token={refresh}")), "revoke");

    for token in [&access, &refresh] {
        let r = app.post_with_basic(INTROSPECT, "rs", &secret, &format!("token={token}"));
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json(), json!({"active": false}));
        assert_eq!(r.text, r#"{"active":false}"#);
    }
}

fn introspecting_expired_tokens_is_inactive(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("rs", "");
    let (access, refresh) = login(&app);
    app.clock.advance(Duration::minutes(16));
    assert_eq!(
        introspect(&app, ("rs", &secret), &access),
        json!({"active": false})
    );
    assert_eq!(introspect(&app, ("rs", &secret), &refresh)["active"], true);
    app.clock.advance(Duration::hours(25));
    assert_eq!(
        introspect(&app, ("rs", &secret), &refresh),
        json!({"active": false})
    );
}

fn introspecting_garbage_foreign_or_spent_tokens_is_inactive(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("rs", "");
    let (access, refresh) = login(&app);
    let parts = forge::decode(&access);
    let foreign = forge::sign_rs512(&parts.header, &parts.payload, &forge::foreign_key());
    let next = app.refresh(&refresh);
    assert_eq!(next.status, 200, "{}", next.text);

    for token in ["garbage", "a.b.c", &foreign, &refresh] {
        assert_eq!(
            introspect(&app, ("rs", &secret), &encode(token)),
            json!({"active": false}),
            "{token}"
        );
    }
    // Introspecting the spent token was no reuse: its successor still works.
    assert!(refresh_works(&app, &next.refresh_token()));
}

// ---------------------------------------------------------------------------------------------
// The CLI's secret

fn the_cli_secret_is_256_bits_of_base64url_and_only_its_digest_is_stored(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client("app", BOTH);
    // 256 bits as unpadded base64url: 43 characters.
    assert_eq!(secret.len(), 43, "{secret}");
    assert!(
        secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{secret}"
    );
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&secret)
        .unwrap();
    assert_eq!(raw.len(), 32);
    assert_ne!(
        app.add_client("other", BOTH),
        secret,
        "every client gets its own"
    );

    let stored = app
        .services
        .database
        .client_store()
        .find(&ClientId::parse("app").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.secret_digest.as_bytes(),
        &openssl::sha::sha256(secret.as_bytes())
    );
    if let Some(path) = app.env.db.url().strip_prefix("sqlite://") {
        // Nowhere in the database files (WAL included) is the secret itself.
        let dir = std::path::Path::new(path).parent().unwrap();
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the secret is in the database"
            );
        }
    }
    // And it is the secret that works.
    let r = app.post_with_basic(TOKEN, "app", &secret, &rfc_login());
    assert_eq!(r.status, 200, "{}", r.text);
}

// ---------------------------------------------------------------------------------------------
// Tokens bound to their client (RFC 6749 §6, RFC 7009 §2.1, RFC 7662 §2.1)

/// Clients `a` and `b` (both grants) and a login by `a`: (a's secret, b's secret, access,
/// refresh).
fn login_as_a(app: &TestApp) -> (String, String, String, String) {
    let a = app.add_client("a", BOTH);
    let b = app.add_client("b", BOTH);
    let r = app.post_with_basic(TOKEN, "a", &a, &rfc_login());
    assert_eq!(r.status, 200, "{}", r.text);
    (a, b, r.access_token(), r.refresh_token())
}

fn a_token_bound_to_a_client_refreshes_only_for_that_client(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let (a, b, _, refresh) = login_as_a(&app);

    assert_status_error(
        &app.post_with_basic(TOKEN, "b", &b, &rfc_refresh(&refresh)),
        400,
        "invalid_grant",
        "another client",
    );
    assert_status_error(
        &form(
            &app,
            TOKEN,
            &format!("{}&client_id=b&client_secret={b}", rfc_refresh(&refresh)),
        ),
        400,
        "invalid_grant",
        "another client, body credentials",
    );
    assert_status_error(
        &form(&app, TOKEN, &rfc_refresh(&refresh)),
        400,
        "invalid_grant",
        "no client",
    );
    assert_status_error(
        &form(
            &app,
            TOKEN,
            &format!("{}&client_id={PUBLIC_ID}", rfc_refresh(&refresh)),
        ),
        400,
        "invalid_grant",
        "an unconfigured id alone",
    );
    assert_status_error(
        &app.refresh(&refresh),
        400,
        "invalid_grant",
        "product dialect",
    );

    // None of that spent the token (nor, being refused first, took it for reuse): its client
    // still refreshes it, and the successor is bound as well.
    let r = app.post_with_basic(TOKEN, "a", &a, &rfc_refresh(&refresh));
    assert_eq!(r.status, 200, "{}", r.text);
    let next = r.refresh_token();
    assert_status_error(
        &app.post_with_basic(TOKEN, "b", &b, &rfc_refresh(&next)),
        400,
        "invalid_grant",
        "another client, successor",
    );
    assert_status_error(
        &form(&app, TOKEN, &rfc_refresh(&next)),
        400,
        "invalid_grant",
        "no client, successor",
    );
    let r = form(
        &app,
        TOKEN,
        &format!("{}&client_id=a&client_secret={a}", rfc_refresh(&next)),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

fn another_client_presenting_a_spent_bound_token_revokes_nothing(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let (a, b, _, refresh) = login_as_a(&app);
    let r = app.post_with_basic(TOKEN, "a", &a, &rfc_refresh(&refresh));
    assert_eq!(r.status, 200, "{}", r.text);
    // The spent token in the wrong hands: refused, and the family is not revoked for reuse.
    assert_status_error(
        &app.post_with_basic(TOKEN, "b", &b, &rfc_refresh(&refresh)),
        400,
        "invalid_grant",
        "spent token, another client",
    );
    let r = app.post_with_basic(TOKEN, "a", &a, &rfc_refresh(&r.refresh_token()));
    assert_eq!(r.status, 200, "{}", r.text);
}

fn an_unbound_token_refreshes_with_or_without_a_client(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let b = app.add_client("b", BOTH);
    let (_, refresh) = login(&app);
    let r = app.post_with_basic(TOKEN, "b", &b, &rfc_refresh(&refresh));
    assert_eq!(r.status, 200, "{}", r.text);
    // Refreshing with a client did not bind it: it is still anyone's to refresh.
    let r = app.refresh(&r.refresh_token());
    assert_eq!(r.status, 200, "{}", r.text);
}

fn a_client_cannot_revoke_a_token_bound_to_another_client(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let (a, b, access, refresh) = login_as_a(&app);
    for (token, hint) in [
        (&refresh, ""),
        (&refresh, "&token_type_hint=refresh_token"),
        (&access, ""),
        (&access, "&token_type_hint=access_token"),
    ] {
        let body = format!("token={token}{hint}");
        assert_revoke_ok(
            &app.post_with_basic(REVOKE, "b", &b, &body),
            "another client",
        );
        assert_revoke_ok(&form(&app, REVOKE, &body), "no client");
    }
    // Refused silently: the session lives on, for its client.
    let me = app.get("/api/users/me", Some(&format!("Bearer {access}")));
    assert_eq!(me.status, 200, "{}", me.text);
    let r = app.post_with_basic(TOKEN, "a", &a, &rfc_refresh(&refresh));
    assert_eq!(r.status, 200, "{}", r.text);
    // Its own client revokes it.
    let next = r.refresh_token();
    assert_revoke_ok(
        &app.post_with_basic(REVOKE, "a", &a, &format!("token={next}")),
        "its own client",
    );
    assert_status_error(
        &app.post_with_basic(TOKEN, "a", &a, &rfc_refresh(&next)),
        400,
        "invalid_grant",
        "after revocation by its client",
    );
}

fn introspection_shows_a_bound_token_only_to_its_client_or_an_introspect_any_client(
    backend: Backend,
) {
    let Some(app) = app(backend) else { return };
    let (a, b, access, refresh) = login_as_a(&app);
    let rs = app.add_client_with("rs", "", true);

    for token in [&access, &refresh] {
        assert_eq!(
            introspect(&app, ("b", &b), token),
            json!({"active": false}),
            "another client"
        );
        for caller in [("a", a.as_str()), ("rs", rs.as_str())] {
            let got = introspect(&app, caller, token);
            assert_eq!(got["active"], true, "{caller:?}: {got}");
            assert_eq!(got["client_id"], "a", "{caller:?}: {got}");
        }
    }
    // Unbound tokens: active for every client, without a client_id.
    let (unbound_access, _) = login(&app);
    let got = introspect(&app, ("b", &b), &unbound_access);
    assert_eq!(got["active"], true, "{got}");
    assert!(got.get("client_id").is_none(), "{got}");
}

backend_tests!(
    a_client_authenticates_with_http_basic_and_with_body_parameters,
    a_wrong_secret_is_invalid_client_and_spends_nothing,
    both_client_authentication_methods_at_once_are_invalid_request,
    an_unknown_client_id_without_a_secret_is_ignored_but_a_configured_one_must_authenticate,
    any_client_secret_must_authenticate,
    require_client_refuses_anonymous_token_and_revocation_requests,
    the_product_dialect_needs_no_client_when_clients_are_optional,
    a_client_may_use_only_its_allowed_grants,
    revoking_a_refresh_token_kills_its_family,
    revoking_an_access_token_kills_its_sid_family,
    revoking_unknown_garbage_expired_or_foreign_tokens_is_200,
    an_unknown_hint_is_ignored_and_a_wrong_hint_still_finds_the_token,
    introspection_needs_a_configured_client,
    introspecting_a_live_access_token_shows_its_claims,
    introspecting_a_live_refresh_token_shows_it_active,
    introspecting_tokens_of_a_revoked_family_is_exactly_inactive,
    introspecting_expired_tokens_is_inactive,
    introspecting_garbage_foreign_or_spent_tokens_is_inactive,
    the_cli_secret_is_256_bits_of_base64url_and_only_its_digest_is_stored,
    a_token_bound_to_a_client_refreshes_only_for_that_client,
    another_client_presenting_a_spent_bound_token_revokes_nothing,
    an_unbound_token_refreshes_with_or_without_a_client,
    a_client_cannot_revoke_a_token_bound_to_another_client,
    introspection_shows_a_bound_token_only_to_its_client_or_an_introspect_any_client,
);
