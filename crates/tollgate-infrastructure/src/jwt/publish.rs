//! The JWKS (RFC 7517) of a [`JwtCodec`]: exactly the keys it verifies with at an instant.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use tollgate_application::{PublicJwk, PublicKeys};

use super::verify::SIGNING_ALGORITHM;
use super::{JwtCodec, KeyInfo};

impl KeyInfo {
    /// This key as a public JWK: `kty: RSA`, `use: sig`, `alg: RS512`, `kid`, `n`, `e`, `x5t`.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "RSA".to_owned(),
            key_use: "sig".to_owned(),
            alg: SIGNING_ALGORITHM.to_owned(),
            kid: self.kid().to_owned(),
            n: self.jwk_n().to_owned(),
            e: self.jwk_e().to_owned(),
            x5t: URL_SAFE_NO_PAD.encode(self.thumbprint_sha1()),
        }
    }
}

impl PublicKeys for JwtCodec {
    /// The signing key first (clients that naively take the first key get the right one), then
    /// every other key still trusted at `now`, newest first.
    fn jwks(&self, now: DateTime<Utc>) -> Vec<PublicJwk> {
        let set = self.key_set();
        let signing = set.signing();
        std::iter::once(signing)
            .chain(
                set.keys()
                    .rev()
                    .filter(|k| k.kid() != signing.kid() && self.trusts(k, now)),
            )
            .map(KeyInfo::public_jwk)
            .collect()
    }
}
