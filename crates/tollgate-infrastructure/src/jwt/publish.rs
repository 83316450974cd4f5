//! The JWKS (RFC 7517) of a [`JwtCodec`]: exactly the keys it verifies with at an instant.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use tollgate_application::{PublicJwk, PublicKeys};

use super::{JwtCodec, KeyInfo};

impl KeyInfo {
    /// This key as a public JWK: `kty` (`RSA`, `EC` or `OKP`), `use: sig`, its `alg`, `kid`,
    /// the key members (`n`, `e`; `crv`, `x`, `y`; `crv`, `x`), `x5t`.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: self.jwk_params().kty().to_owned(),
            key_use: "sig".to_owned(),
            alg: self.algorithm().name().to_owned(),
            kid: self.kid().to_owned(),
            params: self.jwk_params().clone(),
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
