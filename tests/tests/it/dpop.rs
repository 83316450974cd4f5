//! DPoP (RFC 9449) at the token endpoint, end to end on every backend, with a client that signs
//! its proofs here (ES256 and EdDSA keys made by OpenSSL): a login with a proof binds the family
//! to the key; a bound refresh token is useless without a proof by that key and is not spent by
//! a refused attempt; a proof is accepted once; `htu` is checked against the issuer's URL; the proof
//! allow-list is published in the metadata; a DPoP-bound token raced by 16 proofs rotates once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Duration;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use std::sync::{Arc, Barrier};

use serde_json::{json, Value};
use tollgate_application::Clock;
use tollgate_tests::fixtures::{ADMINISTRATOR as USER, PASSWORD};
use tollgate_tests::{backend_tests, encode, Backend, Response, TestApp};

backend_tests! {
    a_login_with_a_proof_binds_the_family_and_each_refresh_needs_a_proof_by_its_key,
    a_stolen_bound_refresh_token_with_another_key_is_refused_without_spending_it,
    a_proof_is_accepted_once,
    a_bad_proof_is_refused_and_a_login_without_one_stays_bearer,
    with_dpop_required_a_login_without_a_proof_is_refused,
    the_metadata_names_the_algorithms_a_proof_may_use,
    sixteen_concurrent_refreshes_of_a_bound_token_each_with_its_own_proof_yield_exactly_one_pair,
}

/// A client's proof key.
struct ClientKey {
    alg: &'static str,
    key: PKey<Private>,
    jwk: Value,
}

impl ClientKey {
    fn es256() -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut BigNumContext::new().unwrap())
            .unwrap();
        Self {
            alg: "ES256",
            jwk: json!({
                "kty": "EC", "crv": "P-256",
                "x": b64(&x.to_vec_padded(32).unwrap()),
                "y": b64(&y.to_vec_padded(32).unwrap()),
            }),
            key: PKey::from_ec_key(ec).unwrap(),
        }
    }

    fn eddsa() -> Self {
        let key = PKey::generate_ed25519().unwrap();
        Self {
            alg: "EdDSA",
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&key.raw_public_key().unwrap())}),
            key,
        }
    }

    /// A proof for `POST htu` made at the app's clock, with a fresh `jti`.
    fn proof_for(&self, app: &TestApp, htu: &str) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk});
        let claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": "POST",
            "htu": htu,
            "iat": app.clock.now().timestamp(),
        });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = if self.alg == "ES256" {
            let der = Signer::new(MessageDigest::sha256(), &self.key)
                .unwrap()
                .sign_oneshot_to_vec(input.as_bytes())
                .unwrap();
            // JWS wants r || s, each 32 bytes (RFC 7518 §3.4), not DER.
            let sig = EcdsaSig::from_der(&der).unwrap();
            let mut raw = sig.r().to_vec_padded(32).unwrap();
            raw.extend(sig.s().to_vec_padded(32).unwrap());
            raw
        } else {
            Signer::new_without_digest(&self.key)
                .unwrap()
                .sign_oneshot_to_vec(input.as_bytes())
                .unwrap()
        };
        format!("{input}.{}", b64(&signature))
    }

    /// A proof for this app's token endpoint.
    fn proof(&self, app: &TestApp) -> String {
        self.proof_for(app, &token_url(app))
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The token endpoint as the client knows it: under the public issuer URL, not the listener.
fn token_url(app: &TestApp) -> String {
    format!("{}/api/oauth2/token", app.services.policy.issuer)
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
    let login = login_with(&app, &key.proof(&app));
    assert_dpop_pair(&login, "login");

    let first = refresh_with(&app, &login.refresh_token(), &key.proof(&app));
    assert_dpop_pair(&first, "refresh with a proof by the key");

    let bare = app.refresh(&first.refresh_token());
    assert_error(&bare, 400, "invalid_grant", "refresh without a proof");
    // Refused, not spent: the holder of the key still refreshes it, and the family lives on.
    let second = refresh_with(&app, &first.refresh_token(), &key.proof(&app));
    assert_dpop_pair(&second, "refresh after the refused one");
}

fn a_stolen_bound_refresh_token_with_another_key_is_refused_without_spending_it(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let owner = ClientKey::eddsa();
    let thief = ClientKey::es256();
    let login = login_with(&app, &owner.proof(&app));
    assert_dpop_pair(&login, "login");
    let stolen = login.refresh_token();

    for attempt in 0..2 {
        let r = refresh_with(&app, &stolen, &thief.proof(&app));
        assert_error(
            &r,
            400,
            "invalid_grant",
            &format!("thief's attempt {attempt}"),
        );
    }
    // Neither spent nor revoked: the owner refreshes it once, and a second time is reuse.
    let owners = refresh_with(&app, &stolen, &owner.proof(&app));
    assert_dpop_pair(&owners, "the owner's refresh");
    let again = refresh_with(&app, &stolen, &owner.proof(&app));
    assert_error(&again, 400, "invalid_grant", "reuse by the owner");
    let successor = refresh_with(&app, &owners.refresh_token(), &owner.proof(&app));
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
    let proof = key.proof(&app);
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
    let fresh = refresh_with(&app, &login.refresh_token(), &key.proof(&app));
    assert_dpop_pair(&fresh, "refresh with a fresh proof");
}

fn a_bad_proof_is_refused_and_a_login_without_one_stays_bearer(backend: Backend) {
    let Some(app) = app(backend) else { return };
    let key = ClientKey::es256();
    // Signed for the address the server listens on, not its public URL.
    let wrong_htu = key.proof_for(&app, &format!("{}/api/oauth2/token", app.base_url));
    assert_error(
        &login_with(&app, &wrong_htu),
        400,
        "invalid_dpop_proof",
        "htu",
    );
    let other_endpoint = key.proof_for(
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
    let old = key.proof(&app);
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
    assert_dpop_pair(&login_with(&app, &key.proof(&app)), "login with a proof");
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
        let login = login_with(&app, &key.proof(&app));
        assert_dpop_pair(&login, "login");
        let token = login.refresh_token();
        // Every racer holds a valid proof of its own (fresh `jti`): the replay cache lets them
        // all through, so only the rotation decides.
        let proofs: Vec<String> = (0..RACERS).map(|_| key.proof(&app)).collect();
        let barrier = Arc::new(Barrier::new(RACERS));
        let handles: Vec<_> = proofs
            .into_iter()
            .map(|proof| {
                let (app, barrier, token) = (app.clone(), barrier.clone(), token.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    refresh_with(&app, &token, &proof)
                })
            })
            .collect();
        let responses: Vec<Response> = handles.into_iter().map(|h| h.join().unwrap()).collect();
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
        let after = refresh_with(&app, &winners[0].refresh_token(), &key.proof(&app));
        assert_error(
            &after,
            400,
            "invalid_grant",
            "the winner's successor after the race",
        );
    }
}
