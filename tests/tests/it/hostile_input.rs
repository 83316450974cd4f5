//! The hostile-input corpus (issue 7): one table of requests an attacker would send, each
//! answered with the documented 4xx (API.md §1, §4, §6), without panic or hang, and with nothing
//! stored: the database reads the same before and after, the live refresh token is still
//! unspent, and no URL named in a token header is ever fetched.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use openssl::pkey::{PKey, Private};
use serde_json::{json, Value};
use tollgate_application::Clock as _;
use tollgate_tests::{backend_tests, forge, Backend, Response, TestApp};

use tollgate_tests::fixtures::{ALICE as USER, PASSWORD};
/// The body limit of the corpus server: large enough that 100 KB values and 10,000 parameters
/// reach the parser, small enough that a 3 MB token does not.
const BODY_LIMIT: usize = 256 * 1024;
/// No row may take this long; a hang or a pathological parse shows up here (a guard, not a
/// speed target: the rows take milliseconds).
const HANG_GUARD: Duration = Duration::from_secs(10);

const TOKEN: &str = "/api/oauth2/token";
const REVOKE: &str = "/api/oauth2/revoke";
const INTROSPECT: &str = "/api/oauth2/introspect";
const ME: &str = "/api/users/me";
const FORM: &str = "application/x-www-form-urlencoded";

/// One hostile request and the answer the contract promises.
struct Row {
    name: &'static str,
    get: bool,
    path: &'static str,
    content_type: Option<&'static str>,
    authorization: Option<String>,
    body: Vec<u8>,
    status: u16,
    /// The `error` member of the JSON body, when the answer has one.
    error: Option<&'static str>,
}

fn post(name: &'static str, path: &'static str, body: impl Into<Vec<u8>>) -> Row {
    Row {
        name,
        get: false,
        path,
        content_type: Some(FORM),
        authorization: None,
        body: body.into(),
        status: 400,
        error: Some("invalid_request"),
    }
}

impl Row {
    fn expect(mut self, status: u16, error: Option<&'static str>) -> Self {
        self.status = status;
        self.error = error;
        self
    }

    fn content_type(mut self, content_type: Option<&'static str>) -> Self {
        self.content_type = content_type;
        self
    }

    fn authorization(mut self, value: impl Into<String>) -> Self {
        self.authorization = Some(value.into());
        self
    }
}

fn get_me(name: &'static str, authorization: impl Into<String>) -> Row {
    Row {
        name,
        get: true,
        path: ME,
        content_type: None,
        authorization: Some(authorization.into()),
        body: Vec::new(),
        status: 401,
        error: Some("invalid_token"),
    }
}

fn refresh_body(token: &str) -> String {
    format!("grantType=RefreshToken&refreshToken={token}")
}

fn login_body() -> String {
    format!("grantType=Password&userName={USER}&password={PASSWORD}")
}

fn basic(raw: &[u8]) -> String {
    format!("Basic {}", STANDARD.encode(raw))
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// What an attacker can put in a token, and what only we can sign.
struct Forger {
    ours: PKey<Private>,
    kid: String,
    foreign: PKey<Private>,
    /// A live access token of ours (its payload is a template for forged ones).
    access: String,
}

impl Forger {
    fn header(&self) -> Value {
        json!({"alg": "RS512", "kid": self.kid, "typ": "JWT"})
    }

    fn ours(&self, header: &Value, payload: &Value) -> String {
        forge::sign_rs512(header, payload, &self.ours)
    }

    fn foreign(&self, header: &Value, payload: &Value) -> String {
        forge::sign_rs512(header, payload, &self.foreign)
    }

    /// Signs raw payload bytes (for JSON serde_json would not write, like duplicate members).
    fn ours_raw(&self, header: &Value, payload: &str) -> String {
        let input = format!("{}.{}", b64(header), URL_SAFE_NO_PAD.encode(payload));
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha512(), &self.ours).unwrap();
        signer.update(input.as_bytes()).unwrap();
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap())
        )
    }
}

/// The server's own signing key, read from its key directory.
fn our_key(app: &TestApp) -> PKey<Private> {
    let file = std::fs::read_dir(app.keys_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".key.pem"))
        .unwrap();
    PKey::private_key_from_pem(&std::fs::read(file).unwrap()).unwrap()
}

#[allow(clippy::too_many_lines)]
fn corpus(f: &Forger, live_refresh: &str, trap: &str, now: i64) -> Vec<Row> {
    let h = f.header();
    // The live token's own claims: a row signed with our key differs from a token we would
    // accept only in what it tests, so a verifier that let that through would answer 200 (and
    // spend the live token), which the checks below catch.
    let p = forge::decode(live_refresh).payload;
    let with = |key: &str, value: Value| {
        let mut v = h.clone();
        v[key] = value;
        v
    };
    let claim = |key: &str, value: Value| {
        let mut v = p.clone();
        v[key] = value;
        v
    };
    let refresh = |name, token: String| {
        post(name, TOKEN, refresh_body(&token)).expect(400, Some("invalid_grant"))
    };
    let deep_json = format!("{}{}", "[".repeat(3000), "]".repeat(3000));
    let deep_header = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"RS512","kid":"{}","x":{deep_json}}}"#,
            f.kid
        )),
        b64(&p),
        URL_SAFE_NO_PAD.encode([1u8; 256])
    );
    let three_mb = "A".repeat(3 * 1024 * 1024);
    // No grant type: the parser must get through every parameter and still refuse cheaply.
    let ten_thousand = |param: &str| {
        let mut s = String::from("userName=alice&password=x");
        for i in 0..10_000 {
            write!(s, "&{}", param.replace("{i}", &i.to_string())).unwrap();
        }
        s
    };
    let hundred_kb = "v".repeat(100 * 1024);

    vec![
        // Bodies and encodings.
        post("body over the limit", TOKEN, "a=".repeat(BODY_LIMIT))
            .expect(413, Some("invalid_request")),
        post(
            "3 MB refresh token",
            TOKEN,
            refresh_body(&format!("{three_mb}.{three_mb}.x")),
        )
        .expect(413, Some("invalid_request")),
        post(
            "non-UTF-8 raw byte",
            TOKEN,
            b"grantType=Password&userName=\xff&password=x".to_vec(),
        ),
        post(
            "non-UTF-8 escape in a value",
            TOKEN,
            "grantType=Password&userName=%FF%FE&password=x",
        ),
        post(
            "non-UTF-8 escape in a name",
            TOKEN,
            "grantType=Password&%C0%AF=1&userName=a&password=x",
        ),
        post(
            "overlong UTF-8 slash",
            TOKEN,
            "grantType=Password&userName=%C0%AF&password=x",
        ),
        post(
            "lone surrogate as UTF-8",
            TOKEN,
            "grantType=Password&userName=%ED%A0%80&password=x",
        ),
        post("JSON content type", TOKEN, login_body()).content_type(Some("application/json")),
        post("Latin-1 charset", TOKEN, login_body()).content_type(Some(
            "application/x-www-form-urlencoded; charset=iso-8859-1",
        )),
        post("multipart body", TOKEN, login_body())
            .content_type(Some("multipart/form-data; boundary=x")),
        post("no content type", TOKEN, login_body()).content_type(None),
        post(
            "100 KB password",
            TOKEN,
            format!("grantType=Password&userName=alice&password={hundred_kb}"),
        ),
        post(
            "100 KB user name",
            TOKEN,
            format!("grantType=Password&userName={hundred_kb}&password=x"),
        )
        .expect(400, Some("invalid_grant")),
        refresh("100 KB refresh token", hundred_kb.clone()),
        post(
            "100 KB client secret",
            TOKEN,
            format!("{}&client_id=app&client_secret={hundred_kb}", login_body()),
        )
        .expect(401, Some("invalid_client")),
        post("10,000 unknown parameters", TOKEN, ten_thousand("p{i}=1")),
        post(
            "10,000 repeated parameters",
            TOKEN,
            ten_thousand("password=y"),
        ),
        post("10,000 empty separators", TOKEN, "&".repeat(10_000)),
        post(
            "NUL in the user name",
            TOKEN,
            "grantType=Password&userName=a%00b&password=x",
        )
        .expect(400, Some("invalid_grant")),
        post(
            "grant type in both dialects",
            TOKEN,
            format!("{}&grant_type=password", login_body()),
        ),
        post("unknown grant type", TOKEN, "grantType=client_credentials")
            .expect(400, Some("unsupported_grant_type")),
        post(
            "non-ASCII grant type",
            TOKEN,
            "grantType=Passw%C3%B6rd&userName=a&password=x",
        )
        .expect(400, Some("unsupported_grant_type")),
        post(
            "bad long-lived flag",
            TOKEN,
            format!("{}&longLivedRefreshToken=1", login_body()),
        ),
        post(
            "live refresh token sent twice",
            TOKEN,
            format!(
                "{}&refresh_token={live_refresh}",
                refresh_body(live_refresh)
            ),
        ),
        // Tokens: forged, foreign, malformed, and strange ones signed with our own key.
        refresh("alg none", forge::unsigned(&with("alg", json!("none")), &p)),
        refresh(
            "HS512 keyed with public data",
            forge::sign_hs512(&with("alg", json!("HS512")), &p, f.kid.as_bytes()),
        ),
        refresh("foreign key under our kid", f.foreign(&h, &p)),
        refresh(
            "kid with path characters",
            f.foreign(&with("kid", json!("../../../../etc/passwd")), &p),
        ),
        refresh(
            "kid naming a device",
            f.foreign(&with("kid", json!("/dev/zero")), &p),
        ),
        refresh(
            "kid with NUL and SQL",
            f.foreign(&with("kid", json!("x\u{0}' OR '1'='1")), &p),
        ),
        refresh(
            "crit header signed by us",
            f.ours(&with("crit", json!(["exp"])), &p),
        ),
        refresh(
            "typ other than JWT signed by us",
            f.ours(&with("typ", json!("at+jwt")), &p),
        ),
        refresh(
            "jku header to a trap",
            f.foreign(&with("jku", json!(format!("{trap}/jwks.json"))), &p),
        ),
        refresh(
            "x5u header to a trap",
            f.foreign(&with("x5u", json!(format!("{trap}/cert.pem"))), &p),
        ),
        refresh(
            "embedded jwk of a foreign key",
            f.foreign(
                &with("jwk", json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})),
                &p,
            ),
        ),
        refresh("deeply nested JSON in the header", deep_header.clone()),
        refresh(
            "deeply nested JSON claim signed by us",
            f.ours_raw(&h, &format!(r#"{{"aud":"refresh","x":{deep_json}}}"#)),
        ),
        refresh(
            "duplicated claim signed by us",
            f.ours_raw(&h, &{
                // The same value twice: only a parser that tolerates duplicates would accept it.
                let body = serde_json::to_string(&p).unwrap();
                format!(r#"{},"aud":"refresh"}}"#, &body[..body.len() - 1])
            }),
        ),
        refresh(
            "duplicated claim with two values signed by us",
            f.ours_raw(&h, &{
                let body = serde_json::to_string(&p).unwrap();
                format!(r#"{{"aud":"access",{}"#, &body[1..])
            }),
        ),
        refresh(
            "duplicated header alg",
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(format!(
                    r#"{{"alg":"none","alg":"RS512","kid":"{}"}}"#,
                    f.kid
                )),
                b64(&p),
                URL_SAFE_NO_PAD.encode([1u8; 256])
            ),
        ),
        refresh(
            "exp as a numeric string signed by us",
            f.ours(
                &h,
                &claim("exp", json!(p["exp"].as_i64().unwrap().to_string())),
            ),
        ),
        refresh(
            "exp as a float signed by us",
            f.ours(&h, &claim("exp", json!(p["exp"].as_f64().unwrap() + 0.5))),
        ),
        refresh(
            "short_term_expiration as a bool signed by us",
            f.ours(&h, &claim("short_term_expiration", json!(true))),
        ),
        refresh(
            "exp as a float beyond i64 signed by us",
            f.ours(&h, &claim("exp", json!(1e300))),
        ),
        refresh(
            "aud as an array signed by us",
            f.ours(&h, &claim("aud", json!(["refresh"]))),
        ),
        refresh(
            "another issuer signed by us",
            f.ours(&h, &claim("iss", json!("https://evil.example"))),
        ),
        refresh(
            "not yet valid signed by us",
            f.ours(&h, &claim("nbf", json!(now + 86_400))),
        ),
        refresh(
            "sub not a UUID signed by us",
            f.ours(&h, &claim("sub", json!("../admin"))),
        ),
        refresh("access token at the refresh grant", f.access.clone()),
        refresh("four segments", format!("{live_refresh}.AAAA")),
        refresh("padded base64", format!("{live_refresh}==")),
        refresh("whitespace inside", live_refresh.replacen('.', " .", 1)),
        // Bearer-protected route.
        get_me("bearer garbage", "Bearer a.b.c"),
        get_me("bearer refresh token", format!("Bearer {live_refresh}")),
        get_me(
            "bearer with nested header JSON",
            format!("Bearer {deep_header}"),
        ),
        get_me(
            "bearer alg none",
            format!(
                "Bearer {}",
                forge::unsigned(
                    &with("alg", json!("none")),
                    &forge::decode(&f.access).payload
                )
            ),
        ),
        get_me("bearer twice", format!("Bearer Bearer {}", f.access)),
        // HTTP Basic client credentials.
        post("Basic with bad base64", TOKEN, login_body())
            .authorization("Basic !!!not base64!!!")
            .expect(401, Some("invalid_client")),
        post("Basic without a colon", TOKEN, login_body())
            .authorization(basic(b"appsecret"))
            .expect(401, Some("invalid_client")),
        post(
            "Basic escapes decoding to invalid UTF-8",
            TOKEN,
            login_body(),
        )
        .authorization(basic(b"app%FF:s%C0%AF"))
        .expect(401, Some("invalid_client")),
        post("Basic raw invalid UTF-8", TOKEN, login_body())
            .authorization(basic(b"\xff\xfe:\xff"))
            .expect(401, Some("invalid_client")),
        post("Basic with an empty value", TOKEN, login_body())
            .authorization("Basic")
            .expect(401, Some("invalid_client")),
        post("Basic of 16 KB", TOKEN, login_body())
            .authorization(basic(&[b'a'; 12 * 1024]))
            .expect(401, Some("invalid_client")),
        post("Digest scheme", TOKEN, login_body())
            .authorization("Digest username=\"app\"")
            .expect(401, Some("invalid_client")),
        post(
            "Basic and a body secret",
            TOKEN,
            format!("{}&client_secret=s", refresh_body(live_refresh)),
        )
        .authorization(basic(b"app:secret")),
        // Revocation and introspection.
        post(
            "revoke without a token",
            REVOKE,
            "token_type_hint=refresh_token",
        ),
        post(
            "revoke with bad Basic",
            REVOKE,
            format!("token={live_refresh}"),
        )
        .authorization(basic(b"no-colon"))
        .expect(401, Some("invalid_client")),
        post(
            "introspect without a client",
            INTROSPECT,
            format!("token={live_refresh}"),
        )
        .expect(401, Some("invalid_client")),
        post(
            "introspect with 10,000 parameters",
            INTROSPECT,
            ten_thousand("token=t"),
        )
        .authorization(basic(b"app:secret")),
        post("revoke over the limit", REVOKE, format!("token={three_mb}"))
            .expect(413, Some("invalid_request")),
    ]
}

/// Everything the corpus must leave as it found it.
fn fingerprint(app: &TestApp, live_token_id: tollgate_domain::TokenId) -> String {
    let admin = app.admin();
    let users = admin.list().unwrap();
    let mut out = format!("{users:?}\n");
    for user in &users {
        writeln!(
            out,
            "{:?}",
            admin.list_sessions(user.name.as_str()).unwrap()
        )
        .unwrap();
    }
    let clients = tollgate_application::ClientAdmin::new(app.services.ports.client_admin());
    writeln!(out, "{:?}", clients.list().unwrap()).unwrap();
    let record = app
        .services
        .ports
        .sessions
        .find_token(live_token_id)
        .unwrap();
    writeln!(out, "{record:?}").unwrap();
    out
}

fn send(agent: &ureq::Agent, base: &str, row: &Row) -> Response {
    let url = format!("{base}{}", row.path);
    let mut request = if row.get {
        agent.get(&url)
    } else {
        agent.post(&url)
    };
    if let Some(value) = &row.authorization {
        request = request.set("Authorization", value);
    }
    if let Some(ct) = row.content_type {
        request = request.set("Content-Type", ct);
    }
    let result = if row.get {
        request.call()
    } else {
        request.send_bytes(&row.body)
    };
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{}: no HTTP answer: {e}", row.name),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|n| {
            response
                .header(&n)
                .map(|v| (n.to_ascii_lowercase(), v.to_owned()))
        })
        .collect();
    Response {
        status,
        headers,
        text: response.into_string().unwrap_or_default(),
    }
}

fn hostile_requests_get_documented_errors_and_change_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.server.max_body_bytes = BODY_LIMIT) else {
        return;
    };
    app.add_user(USER, PASSWORD);
    app.add_client("app", "");
    let login = app.login(USER, PASSWORD);
    assert_eq!(login.status, 200, "{}", login.text);
    let live_refresh = login.refresh_token();
    let token_id: uuid::Uuid = forge::decode(&live_refresh).payload["token_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let token_id = tollgate_domain::TokenId::from_uuid(token_id);

    // A URL in a token header must never be fetched: anything connecting here is a failure.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let trap_url = format!("http://{}", trap.local_addr().unwrap());

    let forger = Forger {
        ours: our_key(&app),
        kid: app.services.keys().signing_kid().to_owned(),
        foreign: forge::foreign_key(),
        access: login.access_token(),
    };
    // Controls: the live claims re-signed by the test's own code verify, so every "signed by
    // us" row is refused for what it tests, not for a slip in the forging.
    let payload = forge::decode(&live_refresh).payload;
    for control in [
        forger.ours(&forger.header(), &payload),
        forger.ours_raw(&forger.header(), &serde_json::to_string(&payload).unwrap()),
    ] {
        assert!(
            app.services
                .ports
                .verifier
                .verify_refresh(&control, app.clock.now())
                .is_ok(),
            "the test's own signing is broken"
        );
    }
    let now = app.clock.now().timestamp();
    let rows = corpus(&forger, &live_refresh, &trap_url, now);
    assert!(rows.len() >= 40, "only {} rows", rows.len());

    let before = fingerprint(&app, token_id);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, "");
    for row in &rows {
        let started = Instant::now();
        let r = send(&agent, &app.base_url, row);
        let took = started.elapsed();
        if took > slowest.0 {
            slowest = (took, row.name);
        }
        let error = serde_json::from_str::<Value>(&r.text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned));
        if r.status != row.status || error.as_deref() != row.error || took > HANG_GUARD {
            failures.push(format!(
                "{}: got {} {:?} in {took:?}, want {} {:?}",
                row.name, r.status, error, row.status, row.error
            ));
        }
    }
    eprintln!(
        "{} hostile rows; slowest {:?} ({})",
        rows.len(),
        slowest.0,
        slowest.1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        fingerprint(&app, token_id),
        before,
        "the corpus changed stored data"
    );
    assert!(
        matches!(trap.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a URL from a token header was fetched"
    );
    // The live token was neither spent nor revoked by any row.
    assert_eq!(app.refresh(&live_refresh).status, 200);
}

backend_tests!(hostile_requests_get_documented_errors_and_change_nothing);
