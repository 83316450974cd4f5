//! Every log line of a real `tollgate serve` run at the most verbose level, scanned for the
//! secrets the run used: passwords (also one typed in the name field), login names, tokens and
//! a client secret. None may appear.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const ADMIN: &str = "administrator-7f3c";
const ADMIN_PASSWORD: &str = "Correct-Horse-91";
/// A password typed into the name field: it must not reach the log as a "user name".
const PASSWORD_AS_NAME: &str = "Misplaced-Secret-55";

fn tollgate(dir: &Path, args: &[&str], port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.args(args)
        .current_dir(dir)
        .env("TOLLGATE__BOOTSTRAP__USER", ADMIN)
        .env("TOLLGATE__BOOTSTRAP__PASSWORD", ADMIN_PASSWORD)
        .env("TOLLGATE__PASSWORD__MEMORY_KIB", "8")
        .env("TOLLGATE__PASSWORD__ITERATIONS", "1")
        .env("TOLLGATE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("TOLLGATE__SERVER__WORKERS", "1")
        .env("TOLLGATE_LOG", "trace")
        .env("RUST_LOG", "trace");
    cmd
}

fn form(base: &str, path: &str, auth: Option<&str>, pairs: &[(&str, &str)]) -> (u16, Value) {
    let mut request = ureq::post(&format!("{base}{path}"));
    if let Some(value) = auth {
        request = request.set("Authorization", value);
    }
    let response = match request.send_form(pairs) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn no_secret_of_a_run_reaches_its_log() {
    let cwd = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let added = tollgate(cwd.path(), &["client", "add", "app"], port)
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let client_secret = String::from_utf8(added.stdout).unwrap().trim().to_owned();
    let mut logs = String::from_utf8_lossy(&added.stderr).into_owned();

    let mut server = tollgate(cwd.path(), &["serve"], port)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained all along: trace output fills a pipe quickly, and a full pipe would block the
    // server's logging, and with it the server.
    let mut pipe = server.stderr.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while ureq::get(&format!("{base}/.well-known/jwks.json"))
        .call()
        .is_err()
    {
        assert!(Instant::now() < deadline, "tollgate did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }

    let basic = {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("app:{client_secret}"))
        )
    };
    let login = |user: &str, password: &str| {
        form(
            &base,
            "/api/oauth2/token",
            Some(&basic),
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ],
        )
    };
    let (status, pair) = login(ADMIN, ADMIN_PASSWORD);
    assert_eq!(status, 200, "{pair}");
    assert_eq!(login(PASSWORD_AS_NAME, ADMIN_PASSWORD).0, 400);
    assert_eq!(login(ADMIN, "wrong-Password-3").0, 400);
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let first = pair["refresh_token"].as_str().unwrap().to_owned();
    let (status, next) = form(
        &base,
        "/api/oauth2/token",
        Some(&basic),
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    );
    assert_eq!(status, 200, "{next}");
    let second = next["refresh_token"].as_str().unwrap().to_owned();
    // Reuse (a security event), introspection, a bad client secret, the bearer route, revocation.
    assert_eq!(
        form(
            &base,
            "/api/oauth2/token",
            Some(&basic),
            &[("grant_type", "refresh_token"), ("refresh_token", &first)]
        )
        .0,
        400
    );
    assert_eq!(
        form(
            &base,
            "/api/oauth2/introspect",
            Some(&basic),
            &[("token", &second)]
        )
        .0,
        200
    );
    let wrong_secret = "Wrong-Client-Secret-0000000000000000000000";
    assert_eq!(
        form(
            &base,
            "/api/oauth2/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &second),
                ("client_id", "app"),
                ("client_secret", wrong_secret)
            ]
        )
        .0,
        401
    );
    let me = ureq::get(&format!("{base}/api/users/me?token={access}"))
        .set("Authorization", &format!("Bearer {access}"))
        .call();
    assert!(me.is_ok() || matches!(me, Err(ureq::Error::Status(401, _))));
    assert_eq!(
        form(
            &base,
            "/api/oauth2/revoke",
            Some(&basic),
            &[("token", &second)]
        )
        .0,
        200
    );

    let _ = server.kill();
    let _ = server.wait();
    logs.push_str(&drain.join().unwrap());

    assert!(
        logs.lines().count() > 10,
        "too little was logged to mean anything:\n{logs}"
    );
    assert!(
        logs.contains("login failed"),
        "the failed logins were not logged:\n{logs}"
    );
    let signature = |t: &str| t.rsplit('.').next().unwrap().to_owned();
    let secrets = [
        ("admin password", ADMIN_PASSWORD.to_owned()),
        ("password typed as a name", PASSWORD_AS_NAME.to_owned()),
        ("wrong password", "wrong-Password-3".to_owned()),
        ("login name", ADMIN.to_owned()),
        ("client secret", client_secret.clone()),
        ("wrong client secret", wrong_secret.to_owned()),
        ("access token signature", signature(&access)),
        ("refresh token signature", signature(&first)),
        ("second refresh token signature", signature(&second)),
    ];
    for (what, secret) in secrets {
        for (n, line) in logs.lines().enumerate() {
            assert!(!line.contains(&secret), "{what} in log line {n}: {line}");
        }
    }
}
