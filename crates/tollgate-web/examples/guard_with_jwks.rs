//! Another actix-web service guarding a route with Tollgate's access tokens, verified offline.
//!
//! At start it fetches Tollgate's JWKS once and builds a [`JwksVerifier`] from it; then
//! `GET /hello` answers the caller's subject (`sub`) to a request with a valid
//! `Authorization: Bearer <access token>`, or, for a DPoP-bound token, `Authorization: DPoP
//! <access token>` with a `DPoP` proof for this request (RFC 9449 §7), and an RFC 6750 / RFC 9449
//! `401` to any other.
//!
//! ```text
//! cargo run -p tollgate-web --example guard_with_jwks -- \
//!     https://auth.example.com/.well-known/jwks.json https://auth.example.com 127.0.0.1:8081 \
//!     https://api.example.com
//! ```
//!
//! The arguments (JWKS URL, Tollgate's `tokens.issuer`, listen address, this service's public
//! base URL) may come from `TOLLGATE_JWKS_URL`, `TOLLGATE_ISSUER`, `GUARD_BIND` and
//! `GUARD_PUBLIC_URL` instead; the listen address defaults to `127.0.0.1:0` (a free port), and
//! the address taken is printed. DPoP proofs name the URL the client called (`htu`), so behind a
//! proxy the public base URL must be given; it defaults to `http://<listen address>`. Proofs are
//! remembered in memory (one process; several replicas would share Tollgate's database cache).
//!
//! The JWKS comes over HTTPS: OpenSSL (the library Tollgate already uses), the system's trusted
//! roots (`SSL_CERT_FILE` if your OpenSSL does not find them), host name checked. Plain `http://`
//! is accepted only for a loopback host. A long-running service refetches the JWKS now and then
//! (it is served with `Cache-Control: max-age`) and when a token names an unknown `kid`.

use std::error::Error;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{get, web, App, HttpServer};
use openssl::ssl::{SslConnector, SslMethod, SslStream};
use tollgate_application::{Clock, DpopCheck, DpopPorts};
use tollgate_infrastructure::dpop::{MemoryReplayCache, ProofVerifier};
use tollgate_infrastructure::jwt::JwksVerifier;
use tollgate_infrastructure::SystemClock;
use tollgate_web::{Authenticated, BearerAuth};

/// Any error, with a message for the operator.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Read at most this much (plus one byte, so that the verifier can say the document is too big).
const MAX_JWKS_BYTES: u64 = 256 * 1024;

fn main() -> ExitCode {
    if let Err(e) = run() {
        eprintln!("guard_with_jwks: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Reads the settings, fetches the JWKS and serves until stopped (Ctrl-C).
fn run() -> Result<(), BoxError> {
    let setting = |position: usize, variable: &str| {
        std::env::args()
            .nth(position)
            .or_else(|| std::env::var(variable).ok())
    };
    let (Some(jwks_url), Some(issuer)) = (
        setting(1, "TOLLGATE_JWKS_URL"),
        setting(2, "TOLLGATE_ISSUER"),
    ) else {
        return Err("usage: guard_with_jwks <jwks-url> <issuer> [bind] \
                    (or TOLLGATE_JWKS_URL, TOLLGATE_ISSUER, GUARD_BIND)"
            .into());
    };
    let bind = setting(3, "GUARD_BIND").unwrap_or_else(|| "127.0.0.1:0".into());
    let public_url = setting(4, "GUARD_PUBLIC_URL");
    let verifier = fetch_verifier(&jwks_url, &issuer)?;
    actix_web::rt::System::new().block_on(async move {
        let (server, address) = serve(verifier, &bind, public_url.as_deref())?;
        println!("listening on http://{address}");
        server.await.map_err(BoxError::from)
    })?;
    Ok(())
}

/// The guarded route: only a verified access token gets here.
#[get("/hello")]
async fn hello(caller: Authenticated) -> String {
    caller.0.sub.to_string()
}

/// Serves `GET /hello` guarded by `verifier` on `bind`, taking DPoP-bound tokens with proofs
/// for URLs below `public_url` (default `http://<the bound address>`): the running server (await
/// it, or stop it through its handle) and the address it listens on.
///
/// # Errors
/// When `bind` cannot be bound or `public_url` is not an absolute http(s) URL.
pub fn serve(
    verifier: JwksVerifier,
    bind: &str,
    public_url: Option<&str>,
) -> Result<(Server, SocketAddr), BoxError> {
    let listener = TcpListener::bind(bind)?;
    let address = listener.local_addr()?;
    let public_url = public_url.map_or_else(|| format!("http://{address}"), str::to_owned);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // A proof is remembered until it is too old to be accepted anyway (60 s plus the leeway);
    // the cap bounds memory under a flood of valid proofs (when full of live proofs the check
    // answers 503 rather than forget one that could still be replayed).
    let dpop = DpopCheck::new(DpopPorts {
        clock: clock.clone(),
        verifier: Arc::new(ProofVerifier::new(
            &public_url,
            chrono::Duration::seconds(60),
            chrono::Duration::seconds(30),
        )?),
        replay: Arc::new(MemoryReplayCache::new(
            clock.clone(),
            MemoryReplayCache::DEFAULT_CAPACITY,
        )),
    });
    // `offline`: signature, `alg`, `aud = "access"`, `iss`, `exp`/`nbf`; no revocation check.
    let auth = web::Data::new(BearerAuth::offline(Arc::new(verifier), clock).dpop(dpop));
    let server = HttpServer::new(move || App::new().app_data(auth.clone()).service(hello))
        .listen(listener)?;
    Ok((server.run(), address))
}

/// Fetches the JWKS at `url` once and builds a verifier for the tokens of `issuer`, tolerating
/// 30 s of clock skew.
///
/// # Errors
/// When `url` has credentials or is neither `https://` nor `http://` to a loopback host, cannot
/// be fetched or does not answer 200, or its document is no JWKS with a key usable for
/// Tollgate's tokens.
pub fn fetch_verifier(url: &str, issuer: &str) -> Result<JwksVerifier, BoxError> {
    let tls = SslConnector::builder(SslMethod::tls_client())?.build();
    let agent = ureq::AgentBuilder::new()
        .tls_connector(Arc::new(OpensslTls(tls)))
        .timeout(Duration::from_secs(10))
        // A redirect could lead from https to plain http, or away from loopback: follow none.
        .redirects(0)
        .build();
    let request = agent.get(url);
    let target = request.request_url()?;
    // A JWKS is public; credentials in its URL would also end up in error messages.
    if !target.as_url().username().is_empty() || target.as_url().password().is_some() {
        return Err("the JWKS URL must carry no user name or password".into());
    }
    let host = target.host().trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match target.scheme() {
        "https" => {}
        "http" if loopback => {}
        scheme => {
            return Err(format!(
                "refusing to fetch the JWKS with {scheme}:// from {host}: use https:// \
                 (plain http:// only for a loopback host such as 127.0.0.1)"
            )
            .into())
        }
    }
    let response = request.call()?;
    if response.status() != 200 {
        return Err(format!(
            "the JWKS URL answered {} {}, not 200",
            response.status(),
            response.status_text()
        )
        .into());
    }
    let mut json = String::new();
    response
        .into_reader()
        .take(MAX_JWKS_BYTES + 1)
        .read_to_string(&mut json)?;
    Ok(JwksVerifier::from_jwks_json(
        &json,
        issuer,
        chrono::Duration::seconds(30),
    )?)
}

/// TLS for `ureq` through OpenSSL, so that the service links one crypto library. `SslConnector`
/// checks the certificate chain against the trusted roots and the host name.
struct OpensslTls(SslConnector);

impl ureq::TlsConnector for OpensslTls {
    fn connect(
        &self,
        host: &str,
        io: Box<dyn ureq::ReadWrite>,
    ) -> Result<Box<dyn ureq::ReadWrite>, ureq::Error> {
        let stream = self
            .0
            .connect(host, io)
            .map_err(|e| io::Error::other(format!("TLS with {host} failed: {e}")))?;
        Ok(Box::new(TlsStream(stream)))
    }
}

/// An OpenSSL stream in a type of ours, which may implement `ureq`'s trait.
#[derive(Debug)]
struct TlsStream(SslStream<Box<dyn ureq::ReadWrite>>);

impl ureq::ReadWrite for TlsStream {
    fn socket(&self) -> Option<&TcpStream> {
        self.0.get_ref().socket()
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
