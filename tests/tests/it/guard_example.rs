//! `crates/tollgate-web/examples/guard_with_jwks.rs` against a live Tollgate, for each signing
//! algorithm: the example's own `fetch_verifier` takes the JWKS over loopback HTTP and its own
//! `serve` runs the guarded route (its `main` only reads arguments around the two).
//!
//! SQLite only: the guard never touches Tollgate's storage.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer};
use serde_json::{json, Value};
use tollgate_infrastructure::jwt::{JwksVerifier, SigningAlgorithm};
use tollgate_tests::fixtures::{ADMINISTRATOR as USER, PASSWORD};
use tollgate_tests::{forge, Backend, TestApp};

#[allow(dead_code)] // the example's `main`, not called here
#[path = "../../../crates/tollgate-web/examples/guard_with_jwks.rs"]
mod guard;

/// The issuer `TestEnv::settings` gives every test server.
const ISSUER: &str = "https://tollgate.test";

/// A Tollgate whose keys are of `algorithm`, with the fixture user.
fn live_tollgate(algorithm: SigningAlgorithm) -> TestApp {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.tokens.algorithm = algorithm).unwrap();
    app.add_user(USER, PASSWORD);
    app
}

/// A login: (access token, refresh token).
fn login(app: &TestApp) -> (String, String) {
    let r = app.login(USER, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    (r.access_token(), r.refresh_token())
}

fn jwks_url(app: &TestApp) -> String {
    format!("{}/.well-known/jwks.json", app.base_url)
}

/// The example's service on its own actix system, stopped on drop.
struct Guard {
    address: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
    agent: ureq::Agent,
}

/// What `GET /hello` answered: status, `WWW-Authenticate`, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    challenge: String,
    body: String,
}

impl Guard {
    fn start(verifier: JwksVerifier) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let (server, address) = guard::serve(verifier, "127.0.0.1:0", None).unwrap();
                tx.send((address, server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        let (address, handle) = rx.recv().unwrap();
        Self {
            address,
            handle,
            thread: Some(thread),
            agent: ureq::AgentBuilder::new()
                .timeout(std::time::Duration::from_secs(30))
                .build(),
        }
    }

    /// `GET /hello`, with `Authorization: Bearer <token>` when a token is given.
    fn hello(&self, token: Option<&str>) -> Answer {
        let mut request = self.agent.get(&format!("http://{}/hello", self.address));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let response = match request.call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        Answer {
            status: response.status(),
            challenge: response
                .header("WWW-Authenticate")
                .unwrap_or_default()
                .to_owned(),
            body: response.into_string().unwrap(),
        }
    }

    /// `GET /hello` with `Authorization: <scheme> <token>` and a `DPoP` proof: (status, every
    /// `WWW-Authenticate` challenge joined, body).
    fn hello_with(&self, scheme: &str, token: &str, proof: &str) -> (u16, String, String) {
        let response = self
            .agent
            .get(&self.url())
            .set("Authorization", &format!("{scheme} {token}"))
            .set("DPoP", proof)
            .call();
        let response = match response {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let challenges = response.all("WWW-Authenticate").join(", ");
        (
            response.status(),
            challenges,
            response.into_string().unwrap(),
        )
    }

    /// The guarded route's URL, as a client (and its proofs) names it.
    fn url(&self) -> String {
        format!("http://{}/hello", self.address)
    }

    /// Asserts that `token` is refused as an invalid token.
    fn assert_refused(&self, token: &str, what: &str) {
        let r = self.hello(Some(token));
        assert_eq!(r.status, 401, "{what}: {r:?}");
        assert!(
            r.challenge.starts_with("Bearer ") && r.challenge.contains("error=\"invalid_token\""),
            "{what}: {r:?}"
        );
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            actix_web::rt::System::new().block_on(self.handle.stop(true));
            thread.join().unwrap();
        }
    }
}

/// `token` with its header replaced, payload and signature kept.
fn with_header(token: &str, header: &Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!(
        "{}.{rest}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap())
    )
}

fn the_example_guards_its_route(algorithm: SigningAlgorithm, name: &str) {
    let tollgate = live_tollgate(algorithm);
    let (access, refresh) = login(&tollgate);
    let parts = forge::decode(&access);
    assert_eq!(parts.header["alg"], name);
    let verifier = guard::fetch_verifier(&jwks_url(&tollgate), ISSUER).unwrap();
    let guard = Guard::start(verifier);

    let r = guard.hello(Some(&access));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, parts.payload["sub"].as_str().unwrap());

    let r = guard.hello(None);
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.challenge, "Bearer realm=\"tollgate\"");

    let mut payload = parts.payload.clone();
    payload["sub"] = json!("00000000-0000-0000-0000-000000000001");
    guard.assert_refused(&forge::with_payload(&access, &payload), "tampered payload");
    guard.assert_refused(&refresh, "refresh token");

    // Another Tollgate of the same issuer and algorithm: its own kid is unknown here, and under
    // our kid its signature does not verify.
    let other = live_tollgate(algorithm);
    let (foreign, _) = login(&other);
    let foreign_header = forge::decode(&foreign).header;
    assert_ne!(foreign_header["kid"], parts.header["kid"]);
    guard.assert_refused(&foreign, "another Tollgate's token");
    let mut relabelled = foreign_header;
    relabelled["kid"] = parts.header["kid"].clone();
    guard.assert_refused(
        &with_header(&foreign, &relabelled),
        "another Tollgate's token under our kid",
    );

    // The same access token still passes: nothing above disturbed the guard.
    assert_eq!(guard.hello(Some(&access)).status, 200);
}

#[test]
fn the_example_guards_its_route_with_rs512_tokens() {
    the_example_guards_its_route(SigningAlgorithm::Rs512, "RS512");
}

#[test]
fn the_example_guards_its_route_with_es256_tokens() {
    the_example_guards_its_route(SigningAlgorithm::Es256, "ES256");
}

#[test]
fn the_example_guards_its_route_with_eddsa_tokens() {
    the_example_guards_its_route(SigningAlgorithm::EdDsa, "EdDSA");
}

#[test]
fn the_example_fetches_the_jwks_only_over_https_or_from_loopback() {
    for url in [
        "http://auth.example/.well-known/jwks.json",
        "http://127.0.0.1.auth.example/.well-known/jwks.json",
        "http://[::2]/.well-known/jwks.json",
        "ftp://127.0.0.1/jwks.json",
    ] {
        let error = guard::fetch_verifier(url, ISSUER).unwrap_err().to_string();
        assert!(
            error.starts_with("refusing to fetch the JWKS") && error.contains("use https://"),
            "{url}: {error}"
        );
    }
    for url in [
        // The host is auth.example; 127.0.0.1 is only a user name.
        "http://127.0.0.1@auth.example/.well-known/jwks.json",
        "https://reader:s3cret@auth.example/.well-known/jwks.json",
    ] {
        let error = guard::fetch_verifier(url, ISSUER).unwrap_err().to_string();
        assert_eq!(error, "the JWKS URL must carry no user name or password");
    }
    let tollgate = live_tollgate(SigningAlgorithm::Rs512);
    let on_localhost = jwks_url(&tollgate).replace("127.0.0.1", "localhost");
    let verifier = guard::fetch_verifier(&on_localhost, ISSUER).unwrap();
    assert_eq!(verifier.kids().count(), 1);
    // Not the JWKS: a clear refusal, no verifier.
    let error = guard::fetch_verifier(&format!("{}/nowhere", tollgate.base_url), ISSUER)
        .unwrap_err()
        .to_string();
    assert!(error.contains("404"), "{error}");
}

// --- `alg` pinned to the key: the JWKS entry's `alg`, signed with Tollgate's real private key ---

/// The private key behind `kid` in `app`'s key directory.
fn private_key(app: &TestApp, kid: &str) -> PKey<Private> {
    let prefix = format!("-{}", &kid[..8]);
    let file = std::fs::read_dir(app.keys_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.ends_with(&format!("{prefix}.key.pem"))
        })
        .unwrap();
    PKey::private_key_from_pem(&std::fs::read(file).unwrap()).unwrap()
}

/// `header.payload` signed with `key` under the JOSE algorithm `alg` (RS*, PS*, ES* on P-256,
/// EdDSA).
fn sign(alg: &str, header: &Value, payload: &Value, key: &PKey<Private>) -> String {
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let input = format!("{}.{}", b64(header), b64(payload));
    if key.id() == Id::ED25519 {
        let signature = Signer::new_without_digest(key)
            .unwrap()
            .sign_oneshot_to_vec(input.as_bytes())
            .unwrap();
        return format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    }
    let digest = match &alg[2..] {
        "256" => MessageDigest::sha256(),
        "384" => MessageDigest::sha384(),
        _ => MessageDigest::sha512(),
    };
    let mut signer = Signer::new(digest, key).unwrap();
    if alg.starts_with("PS") {
        signer.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
        signer
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .unwrap();
    }
    signer.update(input.as_bytes()).unwrap();
    let mut signature = signer.sign_to_vec().unwrap();
    if key.id() == Id::EC {
        // JOSE wants r || s, 32 bytes each on P-256, not DER.
        let der = EcdsaSig::from_der(&signature).unwrap();
        let fixed = |n: &openssl::bn::BigNumRef| n.to_vec_padded(32).unwrap();
        signature = [fixed(der.r()), fixed(der.s())].concat();
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The JWKS entry names its key's `alg`; a token naming another is refused even when it is
/// genuinely signed with that key.
fn a_token_naming_another_alg_than_its_jwk_is_refused(
    algorithm: SigningAlgorithm,
    own: &str,
    others: &[&str],
) {
    let tollgate = live_tollgate(algorithm);
    let (access, _) = login(&tollgate);
    let parts = forge::decode(&access);
    let kid = parts.header["kid"].as_str().unwrap().to_owned();
    let jwks: Value = tollgate.get("/.well-known/jwks.json", None).json();
    assert_eq!(
        jwks["keys"][0]["alg"], own,
        "the JWKS entry carries its alg"
    );
    let key = private_key(&tollgate, &kid);
    let guard = Guard::start(guard::fetch_verifier(&jwks_url(&tollgate), ISSUER).unwrap());

    // Control: re-signed under the key's own algorithm, the forged token is accepted, so the
    // refusals below are about `alg` alone.
    let header = |alg: &str| json!({ "alg": alg, "kid": kid, "typ": "JWT" });
    let control = sign(own, &header(own), &parts.payload, &key);
    assert_eq!(guard.hello(Some(&control)).status, 200);
    for alg in others {
        let token = sign(alg, &header(alg), &parts.payload, &key);
        guard.assert_refused(&token, &format!("{alg} with the {own} key"));
    }
    // Our other algorithms, named over the key's genuine signature.
    for alg in ["RS512", "ES256", "EdDSA"]
        .into_iter()
        .filter(|a| *a != own)
    {
        let token = with_header(&control, &header(alg));
        guard.assert_refused(&token, &format!("{alg} named for the {own} key"));
    }
}

#[test]
fn an_rsa_key_verifies_only_rs512() {
    a_token_naming_another_alg_than_its_jwk_is_refused(
        SigningAlgorithm::Rs512,
        "RS512",
        &["RS256", "RS384", "PS256", "PS512"],
    );
}

#[test]
fn a_p256_key_verifies_only_es256() {
    a_token_naming_another_alg_than_its_jwk_is_refused(
        SigningAlgorithm::Es256,
        "ES256",
        &["ES384", "ES512"],
    );
}

#[test]
fn the_example_checks_the_certificate_of_an_https_jwks_url() {
    // A Tollgate on HTTPS with a self-signed certificate nobody trusts.
    let (key, cert) = super::tls::self_signed();
    let dir = tempfile::tempdir().unwrap();
    let (key_path, cert_path) = (dir.path().join("k.pem"), dir.path().join("c.pem"));
    super::tls::write_private(&key_path, &key.private_key_to_pem_pkcs8().unwrap());
    std::fs::write(&cert_path, cert.to_pem().unwrap()).unwrap();
    let tollgate = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.server.tls.cert = Some(cert_path.clone());
        s.server.tls.key = Some(key_path.clone());
    })
    .unwrap();
    let url = jwks_url(&tollgate).replace("http://", "https://");
    let error = guard::fetch_verifier(&url, ISSUER).unwrap_err().to_string();
    assert!(
        error.contains("TLS with 127.0.0.1 failed") && error.contains("certificate verify failed"),
        "{error}"
    );
}

#[test]
fn an_ed25519_key_verifies_only_eddsa() {
    a_token_naming_another_alg_than_its_jwk_is_refused(SigningAlgorithm::EdDsa, "EdDSA", &[]);
}

#[test]
fn the_example_follows_no_redirect() {
    // A loopback URL answering with a redirect to the real JWKS: followed, it would work; a
    // redirect could as well lead to plain HTTP elsewhere.
    let tollgate = live_tollgate(SigningAlgorithm::Rs512);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let redirecting = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let location = jwks_url(&tollgate);
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = std::io::Read::read(&mut stream, &mut request).unwrap();
        let answer = format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        std::io::Write::write_all(&mut stream, answer.as_bytes()).unwrap();
    });
    let error = guard::fetch_verifier(&redirecting, ISSUER)
        .unwrap_err()
        .to_string();
    assert_eq!(error, "the JWKS URL answered 302 Found, not 200");
    server.join().unwrap();
}

#[test]
fn the_example_takes_a_dpop_bound_token_only_with_a_fresh_proof_by_its_key() {
    use tollgate_application::Clock as _;
    use tollgate_infrastructure::testing::DpopKey;
    let tollgate = live_tollgate(SigningAlgorithm::Es256);
    let key = DpopKey::es256();
    let login_proof = key
        .proof(
            "POST",
            &format!("{ISSUER}/api/oauth2/token"),
            tollgate.clock.now(),
        )
        .sign();
    let login = tollgate.post_token_with_header(
        &format!("grantType=Password&userName={USER}&password={PASSWORD}"),
        "DPoP",
        &login_proof,
    );
    assert_eq!(login.json()["token_type"], "DPoP", "{}", login.text);
    let access = login.access_token();
    let guard = Guard::start(guard::fetch_verifier(&jwks_url(&tollgate), ISSUER).unwrap());
    let proof = |signer: &DpopKey| {
        signer
            .proof("GET", &guard.url(), tollgate.clock.now())
            .access_token(&access)
            .sign()
    };

    let first = proof(&key);
    let (status, _, body) = guard.hello_with("DPoP", &access, &first);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        forge::decode(&access).payload["sub"].as_str().unwrap()
    );
    for (what, scheme, proof, error) in [
        ("replayed proof", "DPoP", first, "invalid_dpop_proof"),
        (
            "another key",
            "DPoP",
            proof(&DpopKey::eddsa()),
            "invalid_dpop_proof",
        ),
        (
            "bound token as bearer",
            "Bearer",
            proof(&key),
            "invalid_token",
        ),
    ] {
        let (status, challenges, body) = guard.hello_with(scheme, &access, &proof);
        assert_eq!(status, 401, "{what}: {body}");
        assert!(
            challenges.contains(&format!(
                "DPoP realm=\"tollgate\", algs=\"ES256 EdDSA RS256 PS256\", error=\"{error}\""
            )),
            "{what}: {challenges}"
        );
    }
}
