//! HTTPS (issue 7): `server.tls.cert` / `server.tls.key` make the server speak TLS 1.2+ only,
//! its metadata URLs use `https`, and answers carry `Strict-Transport-Security`. The certificate
//! is self-signed, generated here.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{SslConnector, SslMethod, SslVersion};
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509NameBuilder, X509};
use serde_json::Value;
use tollgate_tests::{backend_tests, Backend, TestApp};

/// A self-signed certificate for `localhost` and 127.0.0.1.
pub(crate) fn self_signed() -> (PKey<Private>, X509) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "localhost").unwrap();
    let name = name.build();
    let mut cert = X509::builder().unwrap();
    cert.set_version(2).unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&cert.x509v3_context(None, None))
        .unwrap();
    cert.append_extension(san).unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    (key, cert.build())
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A raw HTTP/1.1 exchange over TLS, trusting only `cert`; `max` caps the client's version.
fn https(
    port: u16,
    cert: &X509,
    max: Option<SslVersion>,
    request: &str,
) -> Result<(u16, String, String, SslVersion), String> {
    let mut connector = SslConnector::builder(SslMethod::tls_client()).unwrap();
    connector.cert_store_mut().add_cert(cert.clone()).unwrap();
    if max.is_some() {
        // Old versions are off by default in modern OpenSSL; allow them so that the server's
        // own floor is what is tested.
        connector.set_min_proto_version(None).unwrap();
        connector.set_security_level(0);
        connector.set_max_proto_version(max).unwrap();
    }
    let connector = connector.build();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut stream = connector
        .connect("localhost", tcp)
        .map_err(|e| e.to_string())?;
    let version = match stream.ssl().version_str() {
        "TLSv1.3" => SslVersion::TLS1_3,
        "TLSv1.2" => SslVersion::TLS1_2,
        other => panic!("negotiated {other}"),
    };
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Ok((status, head.to_ascii_lowercase(), body.to_owned(), version))
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
}

fn tls_serves_https_only_with_hsts_and_https_metadata(backend: Backend) {
    let (key, cert) = self_signed();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("tls.key.pem");
    let cert_path = dir.path().join("tls.crt.pem");
    write_private(&key_path, &key.private_key_to_pem_pkcs8().unwrap());
    std::fs::write(&cert_path, cert.to_pem().unwrap()).unwrap();

    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.server.tls.cert = Some(cert_path.clone());
        s.server.tls.key = Some(key_path.clone());
        // The default issuer: the server's own base URL, which now says https.
        s.tokens.issuer = String::new();
    }) else {
        return;
    };
    app.add_user("alice", "Password1");
    let port: u16 = app.base_url.rsplit(':').next().unwrap().parse().unwrap();

    let (status, head, body, version) = https(
        port,
        &cert,
        None,
        &get("/.well-known/oauth-authorization-server"),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(version == SslVersion::TLS1_3 || version == SslVersion::TLS1_2);
    assert!(
        head.contains("strict-transport-security: max-age=31536000"),
        "{head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    let metadata: Value = serde_json::from_str(&body).unwrap();
    let base = format!("https://127.0.0.1:{port}");
    assert_eq!(metadata["issuer"], base.as_str());
    assert_eq!(
        metadata["token_endpoint"],
        format!("{base}/api/oauth2/token").as_str()
    );

    // A login over TLS; its tokens carry the https issuer.
    let form = "grantType=Password&userName=alice&password=Password1";
    let login = format!(
        "POST /api/oauth2/token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    let (status, head, body, _) = https(port, &cert, None, &login).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    let access = serde_json::from_str::<Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        tollgate_tests::forge::decode(&access).payload["iss"],
        base.as_str()
    );

    // TLS 1.0 and 1.1 clients are turned away.
    for old in [SslVersion::TLS1, SslVersion::TLS1_1] {
        assert!(
            https(port, &cert, Some(old), &get("/.well-known/jwks.json")).is_err(),
            "{old:?} accepted"
        );
    }
    // Plain HTTP on the TLS port gets no answer.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(get("/.well-known/jwks.json").as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

backend_tests!(tls_serves_https_only_with_hsts_and_https_metadata);
