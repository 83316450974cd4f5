//! DPoP (RFC 9449) at the token endpoint, end to end on every backend, with a client that signs
//! its proofs here (ES256 and EdDSA keys made by OpenSSL): a login with a proof binds the family
//! to the key; a bound refresh token is useless without a proof by that key and is not spent by
//! a refused attempt; a proof is accepted once; `htu` is checked against the issuer's URL; the proof
//! allow-list is published in the metadata; a DPoP-bound token raced by 16 proofs rotates once.

use chrono::Duration;
use std::sync::Arc;

use serde_json::{json, Value};
use tollgate_application::Clock;
use tollgate_infrastructure::testing::DpopKey as ClientKey;
use tollgate_tests::fixtures::{ADMINISTRATOR as USER, PASSWORD};
use tollgate_tests::{all_at_once, backend_tests, encode, forge, Backend, Response, TestApp};

backend_tests! {
    a_login_with_a_proof_binds_the_family_and_each_refresh_needs_a_proof_by_its_key,
    a_stolen_bound_refresh_token_with_another_key_is_refused_without_spending_it,
    a_proof_is_accepted_once,
    a_bad_proof_is_refused_and_a_login_without_one_stays_bearer,
    with_dpop_required_a_login_without_a_proof_is_refused,
    the_metadata_names_the_algorithms_a_proof_may_use,
    sixteen_concurrent_refreshes_of_a_bound_token_each_with_its_own_proof_yield_exactly_one_pair,
    bound_access_tokens_carry_the_keys_thumbprint_and_bearer_ones_none,
    a_bound_access_token_reaches_me_and_logout_only_with_a_proof_by_its_key,
    a_bound_access_token_sent_as_bearer_is_refused_with_a_dpop_challenge,
    an_unbound_token_under_the_dpop_scheme_is_refused,
    introspection_shows_the_binding,
    with_nonces_required_a_proof_needs_the_current_server_nonce,
}

/// A proof for `POST htu` made at the app's clock.
fn proof_for(key: &ClientKey, app: &TestApp, htu: &str) -> String {
    key.proof("POST", htu, app.clock.now()).sign()
}

/// A proof for this app's token endpoint.
fn token_proof(key: &ClientKey, app: &TestApp) -> String {
    proof_for(key, app, &token_url(app))
}

/// A URL as the client knows it: under the public issuer URL, not the listener.
fn public_url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.services.policy.issuer)
}

fn token_url(app: &TestApp) -> String {
    public_url(app, "/api/oauth2/token")
}

/// A proof for a request to a protected route with `access` (so with its `ath`).
fn resource_proof(
    key: &ClientKey,
    app: &TestApp,
    method: &str,
    path: &str,
    access: &str,
) -> String {
    key.proof(method, &public_url(app, path), app.clock.now())
        .access_token(access)
        .sign()
}

/// `GET /api/users/me` with `Authorization: <scheme> <access>` and, if given, a `DPoP` proof.
fn me(app: &TestApp, scheme: &str, access: &str, proof: Option<&str>) -> Response {
    let authorization = format!("{scheme} {access}");
    let mut headers = vec![("Authorization", authorization.as_str())];
    if let Some(proof) = proof {
        headers.push(("DPoP", proof));
    }
    app.send_with("GET", "/api/users/me", &headers, None)
}

fn app(backend: Backend) -> Option<TestApp> {
    let app = TestApp::spawn(backend)?;
    app.add_user(USER, PASSWORD);
    Some(app)
}

fn login_body() -> String {
    format!(
        "grantType=Password&userName={}&password={}",
        encode(USER),
        encode(PASSWORD)
    )
}

fn login_with(app: &TestApp, proof: &str) -> Response {
    app.post_token_with_header(&login_body(), "DPoP", proof)
}

fn refresh_with(app: &TestApp, token: &str, proof: &str) -> Response {
    app.post_token_with_header(
        &format!("grantType=RefreshToken&refreshToken={token}"),
        "DPoP",
        proof,
    )
}

fn assert_dpop_pair(r: &Response, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text);
    assert_eq!(r.json()["token_type"], "DPoP", "{what}");
}

fn assert_error(r: &Response, status: u16, error: &str, what: &str) {
    assert_eq!(
        (r.status, r.error()),
        (status, error.to_owned()),
        "{what}: {}",
        r.text
    );
}

fn a_login_with_a_proof_binds_the_family_and_each_refresh_needs_a_proof_by_its_key(
    backend: Backend,
) {
    let Some(app) = app(backend) else { return };
    let key = ClientKey::es256();
    let login = login_with(&app, &token_proof(&key, &app));
    assert_dpop_pair(&login, "login");

    let first = refresh_with(&app, &login.refresh_token(), &token_proof(&key, &app));
    assert_dpop_pair(&first, "refresh with a proof by the key");

    let bare = app.refresh(&first.refresh_token());
    assert_error(&bare, 400, "invalid_grant", "refresh without a proof");
    // Refused, not spent: the holder of the key still refreshes it, and the family lives on.
    let second = refresh_with(&app, &first.refresh_token(), &token_proof(&key, &app));
    assert_dpop_pair(&second, "refresh after the refused one");
}

fn a_stolen_bound_refresh_token_with_another_key_is_refused_without_spending_it(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let owner = ClientKey::eddsa();
    let thief = ClientKey::es256();
    let login = login_with(&app, &token_proof(&owner, &app));
    assert_dpop_pair(&login, "login");
    let stolen = login.refresh_token();

    for attempt in 0..2 {
        let r = refresh_with(&app, &stolen, &token_proof(&thief, &app));
        assert_error(
            &r,
            400,
            "invalid_grant",
            &format!("thief's attempt {attempt}"),
        );
    }
    // Neither spent nor revoked: the owner refreshes it once, and a second time is reuse.
    let owners = refresh_with(&app, &stolen, &token_proof(&owner, &app));
    assert_dpop_pair(&owners, "the owner's refresh");
    let again = refresh_with(&app, &stolen, &token_proof(&owner, &app));
    assert_error(&again, 400, "invalid_grant", "reuse by the owner");
    let successor = refresh_with(&app, &owners.refresh_token(), &token_proof(&owner, &app));
    assert_error(
        &successor,
        400,
        "invalid_grant",
        "family revoked by the reuse",
    );
}

fn a_proof_is_accepted_once(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let key = ClientKey::es256();
    let proof = token_proof(&key, &app);
    let login = login_with(&app, &proof);
    assert_dpop_pair(&login, "login");

    let replayed = refresh_with(&app, &login.refresh_token(), &proof);
    assert_error(&replayed, 400, "invalid_dpop_proof", "replayed proof");
    let replayed_login = login_with(&app, &proof);
    assert_error(
        &replayed_login,
        400,
        "invalid_dpop_proof",
        "replayed login proof",
    );
    // The refused replay spent nothing.
    let fresh = refresh_with(&app, &login.refresh_token(), &token_proof(&key, &app));
    assert_dpop_pair(&fresh, "refresh with a fresh proof");
}

fn a_bad_proof_is_refused_and_a_login_without_one_stays_bearer(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let key = ClientKey::es256();
    // Signed for the address the server listens on, not its public URL.
    let wrong_htu = proof_for(&key, &app, &format!("{}/api/oauth2/token", app.base_url));
    assert_error(
        &login_with(&app, &wrong_htu),
        400,
        "invalid_dpop_proof",
        "htu",
    );
    let other_endpoint = proof_for(
        &key,
        &app,
        &format!("{}/api/oauth2/revoke", app.services.policy.issuer),
    );
    assert_error(
        &login_with(&app, &other_endpoint),
        400,
        "invalid_dpop_proof",
        "endpoint",
    );
    assert_error(
        &login_with(&app, "not.a.proof"),
        400,
        "invalid_dpop_proof",
        "garbage",
    );
    let old = token_proof(&key, &app);
    app.clock.advance(Duration::minutes(10));
    assert_error(
        &login_with(&app, &old),
        400,
        "invalid_dpop_proof",
        "old iat",
    );

    let bearer = app.login(USER, PASSWORD);
    assert_eq!(bearer.status, 200, "{}", bearer.text);
    assert_eq!(bearer.json()["token_type"], "Bearer");
    assert_eq!(app.refresh(&bearer.refresh_token()).status, 200);
}

fn with_dpop_required_a_login_without_a_proof_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.dpop.required = true) else {
        return;
    };
    app.add_user(USER, PASSWORD);
    let r = app.login(USER, PASSWORD);
    assert_error(&r, 400, "invalid_dpop_proof", "login without a proof");
    let key = ClientKey::eddsa();
    assert_dpop_pair(
        &login_with(&app, &token_proof(&key, &app)),
        "login with a proof",
    );
}

fn the_metadata_names_the_algorithms_a_proof_may_use(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let r = app.get("/.well-known/oauth-authorization-server", None);
    assert_eq!(r.status, 200, "{}", r.text);
    // RFC 9449 §5.1: exactly the verifier's allow-list; never `none` or an HMAC.
    assert_eq!(
        r.json()["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "RS256", "PS256"])
    );
}

fn sixteen_concurrent_refreshes_of_a_bound_token_each_with_its_own_proof_yield_exactly_one_pair(
    backend: Backend,
) {
    const RACERS: usize = 16;
    const ROUNDS: usize = 10;
    let Some(app) = TestApp::spawn_with(backend, |s| s.database.pool_size = 16) else {
        return;
    };
    app.add_user(USER, PASSWORD);
    let app = Arc::new(app);
    let key = ClientKey::es256();
    for round in 0..ROUNDS {
        let login = login_with(&app, &token_proof(&key, &app));
        assert_dpop_pair(&login, "login");
        let token = login.refresh_token();
        // Every racer holds a valid proof of its own (fresh `jti`): the replay cache lets them
        // all through, so only the rotation decides.
        let proofs: Vec<String> = (0..RACERS).map(|_| token_proof(&key, &app)).collect();
        let responses = all_at_once(&app, proofs, move |app, proof: String| {
            refresh_with(app, &token, &proof)
        });
        let statuses: Vec<_> = responses.iter().map(|r| r.status).collect();
        let winners: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {statuses:?}");
        assert_dpop_pair(winners[0], "the winner");
        let losers = responses
            .iter()
            .filter(|r| r.status == 400 && r.error() == "invalid_grant")
            .count();
        assert_eq!(losers, RACERS - 1, "round {round}: {statuses:?}");
        // The losers were reuse: the family, the winner's new pair included, is revoked, even
        // for the key's holder.
        let after = refresh_with(&app, &winners[0].refresh_token(), &token_proof(&key, &app));
        assert_error(
            &after,
            400,
            "invalid_grant",
            "the winner's successor after the race",
        );
    }
}

/// A bound login with `key`: its response, checked to be a DPoP pair.
fn bound_login(app: &TestApp, key: &ClientKey) -> Response {
    let login = login_with(app, &token_proof(key, app));
    assert_dpop_pair(&login, "login");
    login
}

fn cnf_of(token: &str) -> Value {
    forge::decode(token).payload["cnf"].clone()
}

fn assert_dpop_refusal(r: &Response, error: &str, what: &str) {
    assert_eq!(
        (r.status, r.error()),
        (401, error.to_owned()),
        "{what}: {}",
        r.text
    );
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains(&format!(
            "DPoP realm=\"tollgate\", algs=\"ES256 EdDSA RS256 PS256\", error=\"{error}\""
        )),
        "{what}: {challenge}"
    );
}

fn bound_access_tokens_carry_the_keys_thumbprint_and_bearer_ones_none(backend: Backend) {
    let Some(app) = app(backend) else { return };
    for key in [ClientKey::es256(), ClientKey::eddsa()] {
        let login = bound_login(&app, &key);
        let expected = json!({"jkt": key.thumbprint()});
        assert_eq!(cnf_of(&login.access_token()), expected, "login");
        let refreshed = refresh_with(&app, &login.refresh_token(), &token_proof(&key, &app));
        assert_dpop_pair(&refreshed, "refresh");
        assert_eq!(cnf_of(&refreshed.access_token()), expected, "refresh");
        // The refresh token is bound through its stored family, not a claim.
        assert_eq!(cnf_of(&refreshed.refresh_token()), Value::Null);
    }
    let bearer = app.login(USER, PASSWORD);
    assert_eq!(cnf_of(&bearer.access_token()), Value::Null);
}

fn a_bound_access_token_reaches_me_and_logout_only_with_a_proof_by_its_key(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let key = ClientKey::es256();
    let login = bound_login(&app, &key);
    let access = login.access_token();

    let proof = resource_proof(&key, &app, "GET", "/api/users/me", &access);
    let r = me(&app, "DPoP", &access, Some(&proof));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["userName"], USER);
    assert_dpop_refusal(
        &me(&app, "DPoP", &access, Some(&proof)),
        "invalid_dpop_proof",
        "replay",
    );

    let other = login_with(&app, &token_proof(&key, &app)).access_token();
    let thief = ClientKey::eddsa();
    let cases = [
        ("no proof", None),
        (
            "ath of another token",
            Some(resource_proof(&key, &app, "GET", "/api/users/me", &other)),
        ),
        (
            "no ath",
            Some(
                key.proof("GET", &public_url(&app, "/api/users/me"), app.clock.now())
                    .sign(),
            ),
        ),
        (
            "proof for POST",
            Some(resource_proof(&key, &app, "POST", "/api/users/me", &access)),
        ),
        (
            "proof for another route",
            Some(resource_proof(
                &key,
                &app,
                "GET",
                "/api/oauth2/logout",
                &access,
            )),
        ),
        (
            "another key",
            Some(resource_proof(
                &thief,
                &app,
                "GET",
                "/api/users/me",
                &access,
            )),
        ),
        (
            "signed by another key than its jwk",
            Some(
                key.proof("GET", &public_url(&app, "/api/users/me"), app.clock.now())
                    .access_token(&access)
                    .sign_by(&thief),
            ),
        ),
    ];
    for (what, proof) in cases {
        assert_dpop_refusal(
            &me(&app, "DPoP", &access, proof.as_deref()),
            "invalid_dpop_proof",
            what,
        );
    }
    let skewed = key
        .proof(
            "GET",
            &public_url(&app, "/api/users/me"),
            app.clock.now() + Duration::minutes(5),
        )
        .access_token(&access)
        .sign();
    assert_dpop_refusal(
        &me(&app, "DPoP", &access, Some(&skewed)),
        "invalid_dpop_proof",
        "iat ahead",
    );

    // Logout takes the same proof (for its own method and URL) and ends the family.
    let proof = resource_proof(&key, &app, "POST", "/api/oauth2/logout", &access);
    let authorization = format!("DPoP {access}");
    let r = app.send_with(
        "POST",
        "/api/oauth2/logout",
        &[("Authorization", &authorization), ("DPoP", &proof)],
        Some(""),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    let after = refresh_with(&app, &login.refresh_token(), &token_proof(&key, &app));
    assert_error(&after, 400, "invalid_grant", "refresh after logout");
}

fn a_bound_access_token_sent_as_bearer_is_refused_with_a_dpop_challenge(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let key = ClientKey::es256();
    let access = bound_login(&app, &key).access_token();
    // Even with a valid proof alongside: the scheme says bearer, and a bearer token is exactly
    // what a bound token must never be taken for.
    let proof = resource_proof(&key, &app, "GET", "/api/users/me", &access);
    for proof in [None, Some(proof.as_str())] {
        let r = me(&app, "Bearer", &access, proof);
        assert_dpop_refusal(&r, "invalid_token", "bound token as bearer");
    }
    let r = app.post_authorized("/api/oauth2/logout", Some(&format!("Bearer {access}")));
    assert_dpop_refusal(&r, "invalid_token", "logout as bearer");
}

fn an_unbound_token_under_the_dpop_scheme_is_refused(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let key = ClientKey::es256();
    let access = app.login(USER, PASSWORD).access_token();
    let proof = resource_proof(&key, &app, "GET", "/api/users/me", &access);
    let r = me(&app, "DPoP", &access, Some(&proof));
    assert_dpop_refusal(&r, "invalid_token", "bearer token under DPoP");
    assert_eq!(me(&app, "Bearer", &access, None).status, 200);
}

fn introspection_shows_the_binding(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let secret = app.add_client_with("rs", "", true);
    let introspect = |token: &str| {
        let r = app.post_with_basic(
            "/api/oauth2/introspect",
            "rs",
            &secret,
            &format!("token={}", encode(token)),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    };
    let key = ClientKey::eddsa();
    let login = bound_login(&app, &key);
    let cnf = json!({"jkt": key.thumbprint()});
    let access = introspect(&login.access_token());
    assert_eq!(
        (&access["active"], &access["token_type"]),
        (&json!(true), &json!("DPoP"))
    );
    assert_eq!(access["cnf"], cnf);
    let refresh = introspect(&login.refresh_token());
    assert_eq!(refresh["active"], true);
    assert_eq!(refresh["cnf"], cnf);

    let bearer = app.login(USER, PASSWORD);
    let access = introspect(&bearer.access_token());
    assert_eq!(access["token_type"], "Bearer");
    assert!(access.get("cnf").is_none(), "{access}");
    assert!(introspect(&bearer.refresh_token()).get("cnf").is_none());
}

fn with_nonces_required_a_proof_needs_the_current_server_nonce(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.dpop.require_nonce = true;
        s.dpop.nonce_lifetime = 60;
    }) else {
        return;
    };
    app.add_user(USER, PASSWORD);
    let key = ClientKey::es256();
    let demand = login_with(&app, &token_proof(&key, &app));
    assert_error(&demand, 400, "use_dpop_nonce", "login without a nonce");
    let nonce = demand.header("dpop-nonce").expect("DPoP-Nonce").to_owned();
    let with_nonce = |htm: &str, path: &str, nonce: &str, access: Option<&str>| {
        let proof = key
            .proof(htm, &public_url(&app, path), app.clock.now())
            .nonce(nonce);
        match access {
            Some(access) => proof.access_token(access).sign(),
            None => proof.sign(),
        }
    };
    let login = login_with(&app, &with_nonce("POST", "/api/oauth2/token", &nonce, None));
    assert_dpop_pair(&login, "login with the nonce");
    // Successful answers hand out the current nonce too (RFC 9449 §8.2).
    assert_eq!(login.header("dpop-nonce"), Some(nonce.as_str()));
    // The last character changed (to one it is not), so the MAC no longer matches.
    let last = if nonce.ends_with('A') { 'B' } else { 'A' };
    let forged = format!("{}{last}", &nonce[..nonce.len() - 1]);
    assert_ne!(forged, nonce);
    let r = refresh_with(
        &app,
        &login.refresh_token(),
        &with_nonce("POST", "/api/oauth2/token", &forged, None),
    );
    assert_error(&r, 400, "use_dpop_nonce", "forged nonce");

    // The resource side asks for the same nonce, with a 401.
    let access = login.access_token();
    let r = me(
        &app,
        "DPoP",
        &access,
        Some(&resource_proof(&key, &app, "GET", "/api/users/me", &access)),
    );
    assert_dpop_refusal(&r, "use_dpop_nonce", "resource without a nonce");
    assert_eq!(r.header("dpop-nonce"), Some(nonce.as_str()));
    let proof = with_nonce("GET", "/api/users/me", &nonce, Some(&access));
    assert_eq!(me(&app, "DPoP", &access, Some(&proof)).status, 200);

    // Two lifetimes later the nonce is stale: refused without spending the refresh token,
    // and the answer carries the new one, which works.
    app.clock.advance(Duration::seconds(120));
    let stale = refresh_with(
        &app,
        &login.refresh_token(),
        &with_nonce("POST", "/api/oauth2/token", &nonce, None),
    );
    assert_error(&stale, 400, "use_dpop_nonce", "stale nonce");
    let fresh = stale
        .header("dpop-nonce")
        .expect("new DPoP-Nonce")
        .to_owned();
    assert_ne!(fresh, nonce);
    let r = refresh_with(
        &app,
        &login.refresh_token(),
        &with_nonce("POST", "/api/oauth2/token", &fresh, None),
    );
    assert_dpop_pair(&r, "refresh with the new nonce");
}
