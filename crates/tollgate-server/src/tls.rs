//! HTTPS for `serve`: `server.tls.cert` and `server.tls.key` (PEM) through actix-web's OpenSSL
//! support, TLS 1.2 and newer only.

use std::path::Path;

use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod, SslVersion};
use tollgate_infrastructure::files::ensure_private;

use crate::ServerError;

/// The acceptor for a certificate chain and its private key. The key file must be private
/// (mode 0600 or stricter), like the signing keys.
///
/// # Errors
/// [`ServerError::Infra`] for a key file others can read; [`ServerError::Tls`] naming the file
/// OpenSSL could not use.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<SslAcceptorBuilder, ServerError> {
    ensure_private(key)?;
    let failed = |what: &str, path: &Path| {
        let path = path.display().to_string();
        let what = what.to_owned();
        move |e: openssl::error::ErrorStack| ServerError::Tls(format!("{what} {path}: {e}"))
    };
    // Mozilla's "intermediate" profile: TLS 1.2 and 1.3 with forward-secret AEAD suites.
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
        .map_err(|e| ServerError::Tls(format!("cannot set up TLS: {e}")))?;
    // Said again explicitly, so no profile change can let TLS 1.0 or 1.1 back in.
    builder
        .set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(|e| ServerError::Tls(format!("cannot set up TLS: {e}")))?;
    builder
        .set_private_key_file(key, SslFiletype::PEM)
        .map_err(failed("cannot read the TLS private key", key))?;
    builder
        .set_certificate_chain_file(cert)
        .map_err(failed("cannot read the TLS certificate", cert))?;
    builder.check_private_key().map_err(failed(
        "the TLS private key does not match the certificate",
        cert,
    ))?;
    Ok(builder)
}
