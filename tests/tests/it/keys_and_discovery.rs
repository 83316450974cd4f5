//! The JWKS, the authorization server metadata and signing-key rotation, end to end.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use openssl::x509::X509;
use serde_json::{json, Value};
use tollgate_application::{Clock as _, Error as AppError, TokenVerifier as _};
use tollgate_domain::TokenRejection;
use tollgate_infrastructure::jwt::{JwksVerifier, KeySet, SigningAlgorithm};
use tollgate_infrastructure::SystemClock;
use tollgate_tests::{backend_tests, forge, Backend, TestApp};

use tollgate_tests::fixtures::{app_with_user, ADMINISTRATOR as USER, PASSWORD};
const ISSUER: &str = "https://tollgate.test";
/// The members a published key has, and nothing else.
const PUBLIC_MEMBERS: [&str; 7] = ["alg", "e", "kid", "kty", "n", "use", "x5t"];

/// A login: (access token, refresh token).
fn login(app: &TestApp) -> (String, String) {
    let r = app.login(USER, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    (r.access_token(), r.refresh_token())
}

fn kid_of(token: &str) -> String {
    forge::decode(token).header["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The served JWKS, checked for the headers every answer must have.
fn jwks(app: &TestApp) -> Value {
    let r = app.get("/.well-known/jwks.json", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let set: Value = r.json();
    // Every entry names its one algorithm (verifiers pin it; RFC 8725 §3.1).
    for key in set["keys"].as_array().unwrap() {
        assert!(key["alg"].is_string(), "{key}");
    }
    set
}

fn published_kids(app: &TestApp) -> Vec<String> {
    jwks(app)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The file of `kid`'s pair in `dir` with this suffix.
fn pair_file(dir: &Path, kid: &str, suffix: &str) -> Vec<u8> {
    let name = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.ends_with(&format!("-{}{suffix}", &kid[..8])))
        .unwrap_or_else(|| panic!("no {suffix} for {kid} in {}", dir.display()));
    std::fs::read(dir.join(name)).unwrap()
}

fn private_key(dir: &Path, kid: &str) -> PKey<Private> {
    PKey::private_key_from_pem(&pair_file(dir, kid, ".key.pem")).unwrap()
}

fn rejection<T: std::fmt::Debug>(result: Result<T, AppError>) -> TokenRejection {
    match result {
        Err(AppError::InvalidToken(reason)) => reason,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

/// Moves the app's clock to `at`.
fn set_clock(app: &TestApp, at: DateTime<Utc>) {
    app.clock.advance(at - app.clock.now());
}

// --- Rotation (storage matters: refresh on every backend) ---

fn tokens_signed_by_the_old_key_keep_refreshing_after_a_rotation(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (old_access, old_refresh) = login(&app);
    let old_kid = kid_of(&old_access);
    let env = app.env.clone();
    let keys_dir = app.keys_dir();
    app.stop();

    let new_key = KeySet::generate(&keys_dir).unwrap();
    let app = TestApp::spawn_in(env, |_| {});
    assert_eq!(app.services.keys().signing_kid(), new_key.kid());

    let r = app.refresh(&old_refresh);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(kid_of(&r.access_token()), new_key.kid());
    assert_eq!(kid_of(&r.refresh_token()), new_key.kid());
    // The successor, signed by the new key, refreshes too.
    let next = app.refresh(&r.refresh_token());
    assert_eq!(next.status, 200, "{}", next.text);
    // Old access tokens stay good until they expire.
    let now = app.clock.now();
    assert!(app
        .services
        .ports
        .verifier
        .verify_access(&old_access, now)
        .is_ok());

    assert_eq!(published_kids(&app), [new_key.kid().to_owned(), old_kid]);
}

fn algorithm_of(token: &str) -> String {
    forge::decode(token).header["alg"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// RS512 to EdDSA: the old key's tokens keep refreshing (and its access tokens verifying, here
/// and with the served JWKS) until it is retired and its window has passed.
fn rs512_tokens_keep_refreshing_after_a_rotation_to_eddsa_until_the_old_key_retires(
    backend: Backend,
) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let (old_access, old_refresh) = login(&app);
    let (_, spare_refresh) = login(&app);
    assert_eq!(algorithm_of(&old_access), "RS512");
    let old_kid = kid_of(&old_access);
    let env = app.env.clone();
    let keys_dir = app.keys_dir();
    app.stop();

    let new_key =
        KeySet::generate_with(&keys_dir, SystemClock.now(), SigningAlgorithm::EdDsa).unwrap();
    let app = TestApp::spawn_in(env.clone(), |_| {});
    let r = app.refresh(&old_refresh);
    assert_eq!(r.status, 200, "{}", r.text);
    for token in [r.access_token(), r.refresh_token()] {
        assert_eq!(algorithm_of(&token), "EdDSA");
        assert_eq!(kid_of(&token), new_key.kid());
    }
    let next = app.refresh(&r.refresh_token());
    assert_eq!(next.status, 200, "{}", next.text);

    // Both keys are published, each with its own members, and a JWKS verifier takes both.
    let set = jwks(&app);
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kid"], new_key.kid());
    assert_eq!(
        (&keys[0]["kty"], &keys[0]["crv"], &keys[0]["alg"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"))
    );
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(keys[0]["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert!(keys[0].get("n").is_none() && keys[0].get("y").is_none());
    assert_eq!(
        (&keys[1]["kty"], &keys[1]["kid"]),
        (&json!("RSA"), &json!(old_kid))
    );
    let served = app.get("/.well-known/jwks.json", None).text;
    let verifier = JwksVerifier::from_jwks_json(&served, ISSUER, Duration::seconds(30)).unwrap();
    let now = app.clock.now();
    assert!(verifier.verify_access(&old_access, now).is_ok());
    assert!(verifier.verify_access(&next.access_token(), now).is_ok());
    // During the rotation the metadata names both algorithms, the signing key's first.
    assert_eq!(
        metadata(&app)["token_signing_alg_values_supported"],
        json!(["EdDSA", "RS512"])
    );

    // Retire the old key: its tokens still refresh within the window, not after it.
    app.stop();
    KeySet::retire(&keys_dir, &old_kid).unwrap();
    let app = TestApp::spawn_in(env, |_| {});
    let stopped = app
        .services
        .keys()
        .find(&old_kid)
        .unwrap()
        .signing_ended_at()
        .unwrap();
    // 14 days (long-lived refresh), 30 s of leeway, one rescan interval (60 s).
    let window_end = stopped + Duration::days(14) + Duration::seconds(30 + 60);
    set_clock(&app, window_end + Duration::seconds(60));
    assert_eq!(published_kids(&app), [new_key.kid().to_owned()]);
    assert_eq!(
        metadata(&app)["token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
    let r = app.refresh(&spare_refresh);
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant".to_owned()),
        "{}",
        r.text
    );
    let (access, refresh) = login(&app);
    assert_eq!(algorithm_of(&access), "EdDSA");
    assert_eq!(app.refresh(&refresh).status, 200);
}

backend_tests!(
    tokens_signed_by_the_old_key_keep_refreshing_after_a_rotation,
    rs512_tokens_keep_refreshing_after_a_rotation_to_eddsa_until_the_old_key_retires,
);

#[test]
fn a_server_set_to_es256_signs_publishes_and_refreshes_with_es256() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.tokens.algorithm = SigningAlgorithm::Es256;
    })
    .unwrap();
    app.add_user(USER, PASSWORD);
    let (access, refresh) = login(&app);
    assert_eq!(algorithm_of(&access), "ES256");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(access.rsplit('.').next().unwrap())
            .unwrap()
            .len(),
        64
    );
    let set = jwks(&app);
    let key = &set["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"]),
        (&json!("EC"), &json!("P-256"), &json!("ES256"))
    );
    let mut members: Vec<&str> = key
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        ["alg", "crv", "kid", "kty", "use", "x", "x5t", "y"]
    );
    assert_eq!(
        metadata(&app)["token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let r = app.refresh(&refresh);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(algorithm_of(&r.access_token()), "ES256");
    let me = app.get(
        "/api/users/me",
        Some(&format!("Bearer {}", r.access_token())),
    );
    assert_eq!(me.status, 200, "{}", me.text);
}

#[test]
fn a_server_set_to_eddsa_names_only_eddsa_in_its_metadata_and_jwks() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.tokens.algorithm = SigningAlgorithm::EdDsa;
    })
    .unwrap();
    app.add_user(USER, PASSWORD);
    let (access, _) = login(&app);
    assert_eq!(algorithm_of(&access), "EdDSA");
    let set = jwks(&app);
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (&keys[0]["kty"], &keys[0]["crv"], &keys[0]["alg"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"))
    );
    assert_eq!(
        metadata(&app)["token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
}

// --- Retirement (no storage difference: SQLite only) ---

#[test]
fn a_retired_key_leaves_the_jwks_and_verification_once_its_tokens_have_expired() {
    let app = app_with_user(Backend::Sqlite, USER).unwrap();
    let (old_access, old_refresh) = login(&app);
    let old_kid = kid_of(&old_access);
    let env = app.env.clone();
    let keys_dir = app.keys_dir();
    app.stop();

    let new_key = KeySet::generate(&keys_dir).unwrap();
    let retired = KeySet::retire(&keys_dir, &old_kid).unwrap();
    assert!(!retired.already_retired);
    let app = TestApp::spawn_in(env, |_| {});
    assert_eq!(
        published_kids(&app),
        [new_key.kid().to_owned(), old_kid.clone()]
    );
    let r = app.refresh(&old_refresh);
    assert_eq!(r.status, 200, "retired keys keep verifying: {}", r.text);

    // The old key stopped signing when the new one appeared (just before its retirement); its
    // tokens can live 14 days (long-lived refresh), and verifiers allow 30 s of leeway.
    let stopped = app
        .services
        .keys()
        .find(&old_kid)
        .unwrap()
        .signing_ended_at()
        .unwrap();
    assert!(stopped <= retired.key.retired_at().unwrap());
    // 14 days (long-lived refresh), 30 s of leeway, one rescan interval (60 s).
    let window_end = stopped + Duration::days(14) + Duration::seconds(30 + 60);

    // A token of the old key that would still be unexpired after the window: only the key's
    // trust decides.
    let old_key = private_key(&keys_dir, &old_kid);
    let mut payload = forge::decode(&old_access).payload;
    payload["exp"] = json!((window_end + Duration::days(1)).timestamp());
    let header = forge::decode(&old_access).header;
    let late_access = forge::sign_rs512(&header, &payload, &old_key);

    set_clock(&app, window_end - Duration::seconds(60));
    assert!(published_kids(&app).contains(&old_kid));
    let now = app.clock.now();
    assert!(app
        .services
        .ports
        .verifier
        .verify_access(&late_access, now)
        .is_ok());

    set_clock(&app, window_end + Duration::seconds(60));
    assert_eq!(published_kids(&app), [new_key.kid().to_owned()]);
    assert_eq!(
        metadata(&app)["token_signing_alg_values_supported"],
        json!(["RS512"])
    );
    let now = app.clock.now();
    assert_eq!(
        rejection(app.services.ports.verifier.verify_access(&late_access, now)),
        TokenRejection::UnknownKey
    );
    // Over HTTP too: a refresh token of the old key is refused.
    let mut refresh_payload = forge::decode(&old_refresh).payload;
    refresh_payload["token_id"] = json!(uuid::Uuid::new_v4().to_string());
    refresh_payload["exp"] = json!((window_end + Duration::days(1)).timestamp());
    let late_refresh = forge::sign_rs512(
        &forge::decode(&old_refresh).header,
        &refresh_payload,
        &old_key,
    );
    let r = app.refresh(&late_refresh);
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant".to_owned()),
        "{}",
        r.text
    );
    // The new key is unaffected.
    let (access, refresh) = login(&app);
    assert_eq!(kid_of(&access), new_key.kid());
    assert_eq!(app.refresh(&refresh).status, 200);
}

// --- The JWKS ---

#[test]
fn the_published_key_alone_verifies_a_fresh_access_token() {
    let app = app_with_user(Backend::Sqlite, USER).unwrap();
    let (access, _) = login(&app);
    let kid = kid_of(&access);
    let set = jwks(&app);
    let jwk = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the signing key is published");
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], "RS512");

    let member = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let (n, e) = (member("n"), member("e"));
    assert_ne!(n[0], 0, "n has no leading zero byte");
    assert_ne!(e[0], 0, "e has no leading zero byte");
    assert_eq!(n.len(), 256, "RSA-2048");
    assert_eq!(jwk["e"], "AQAB");

    // x5t and kid are both the SHA-1 thumbprint of the certificate on disk.
    let cert = X509::from_pem(&pair_file(&app.keys_dir(), &kid, ".crt.pem")).unwrap();
    let thumbprint = openssl::sha::sha1(&cert.to_der().unwrap());
    assert_eq!(member("x5t"), thumbprint);
    let hex: String = thumbprint.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(hex, kid);

    // Verify the RS512 signature with a key built from n and e only.
    let public = PKey::from_rsa(
        Rsa::from_public_components(
            BigNum::from_slice(&n).unwrap(),
            BigNum::from_slice(&e).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let (signing_input, signature) = access.rsplit_once('.').unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha512(), &public).unwrap();
    verifier.update(signing_input.as_bytes()).unwrap();
    assert!(verifier
        .verify(&URL_SAFE_NO_PAD.decode(signature).unwrap())
        .unwrap());
    // And the same key refuses a tampered token.
    let mut verifier = Verifier::new(MessageDigest::sha512(), &public).unwrap();
    verifier
        .update(format!("{signing_input}x").as_bytes())
        .unwrap();
    assert!(!verifier
        .verify(&URL_SAFE_NO_PAD.decode(signature).unwrap())
        .unwrap());
}

#[test]
fn the_jwks_has_no_private_members() {
    let app = app_with_user(Backend::Sqlite, USER).unwrap();
    let env = app.env.clone();
    let keys_dir = app.keys_dir();
    app.stop();
    KeySet::generate(&keys_dir).unwrap();
    let app = TestApp::spawn_in(env, |_| {});
    let set = jwks(&app);
    assert_eq!(set.as_object().unwrap().len(), 1, "only `keys`: {set}");
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        let mut members: Vec<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        members.sort_unstable();
        assert_eq!(members, PUBLIC_MEMBERS, "{key}");
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(key.get(private).is_none(), "{private} in {key}");
        }
    }
}

#[test]
fn a_verifier_built_from_the_served_jwks_verifies_the_servers_tokens() {
    let app = app_with_user(Backend::Sqlite, USER).unwrap();
    let (access, refresh) = login(&app);
    let served = app.get("/.well-known/jwks.json", None).text;
    let verifier = JwksVerifier::from_jwks_json(&served, ISSUER, Duration::seconds(30)).unwrap();
    let now = app.clock.now();

    let claims = verifier.verify_access(&access, now).unwrap();
    assert_eq!(claims.unique_name, USER);
    assert_eq!(
        claims,
        app.services
            .ports
            .verifier
            .verify_access(&access, now)
            .unwrap()
    );
    assert!(verifier.verify_refresh(&refresh, now).is_ok());
    assert_eq!(
        rejection(verifier.verify_access(&refresh, now)),
        TokenRejection::Audience
    );

    let elsewhere =
        JwksVerifier::from_jwks_json(&served, "https://other.example", Duration::zero()).unwrap();
    assert_eq!(
        rejection(elsewhere.verify_access(&access, now)),
        TokenRejection::Issuer
    );
    let foreign = forge::sign_rs512(
        &forge::decode(&access).header,
        &forge::decode(&access).payload,
        &forge::foreign_key(),
    );
    assert_eq!(
        rejection(verifier.verify_access(&foreign, now)),
        TokenRejection::Signature
    );
}

// --- Discovery ---

fn metadata(app: &TestApp) -> Value {
    let r = app.get("/.well-known/oauth-authorization-server", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    r.json()
}

#[test]
fn the_metadata_names_our_issuer_and_endpoints() {
    let app = TestApp::spawn(Backend::Sqlite).unwrap();
    let m = metadata(&app);
    assert_eq!(m["issuer"], ISSUER);
    assert_eq!(m["token_endpoint"], format!("{ISSUER}/api/oauth2/token"));
    assert_eq!(m["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
    assert_eq!(
        m["revocation_endpoint"],
        format!("{ISSUER}/api/oauth2/revoke")
    );
    assert_eq!(
        m["introspection_endpoint"],
        format!("{ISSUER}/api/oauth2/introspect")
    );
    assert_eq!(
        m["grant_types_supported"],
        json!(["password", "refresh_token"])
    );
    assert_eq!(m["response_types_supported"], json!([]));
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        m["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert!(m.get("scopes_supported").is_none());
    // Extension member: the algorithms of the published keys (one RS512 key here).
    assert_eq!(m["token_signing_alg_values_supported"], json!(["RS512"]));
    // The issuer in the metadata is the one in the tokens.
    app.add_user(USER, PASSWORD);
    let (access, _) = login(&app);
    assert_eq!(forge::decode(&access).payload["iss"], m["issuer"]);
}

#[test]
fn with_clients_required_none_is_not_offered_and_a_trailing_slash_makes_no_double_slash() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.auth.require_client = true;
        s.tokens.issuer = format!("{ISSUER}/");
    })
    .unwrap();
    let m = metadata(&app);
    assert_eq!(m["issuer"], format!("{ISSUER}/"));
    assert_eq!(m["token_endpoint"], format!("{ISSUER}/api/oauth2/token"));
    assert_eq!(m["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
    let secrets = json!(["client_secret_basic", "client_secret_post"]);
    assert_eq!(m["token_endpoint_auth_methods_supported"], secrets);
    assert_eq!(m["revocation_endpoint_auth_methods_supported"], secrets);
}
