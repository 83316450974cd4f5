//! A DPoP client for tests: a proof key (ES256 or EdDSA, made by OpenSSL) that signs proofs
//! the way a client library would, with every claim settable so tests can also make bad ones.

// Test support: a key that cannot be made or a proof that cannot be signed is a broken test
// environment, and the test should stop there.
#![allow(clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde_json::{json, Value};

/// A client's proof key and its public JWK.
pub struct DpopKey {
    alg: &'static str,
    key: PKey<Private>,
    jwk: Value,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A fresh P-256 key (`ES256`).
    pub fn es256() -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
        let ec = EcKey::generate(&group).expect("EC key");
        let (mut x, mut y) = (BigNum::new().expect("bn"), BigNum::new().expect("bn"));
        ec.public_key()
            .affine_coordinates(
                &group,
                &mut x,
                &mut y,
                &mut BigNumContext::new().expect("ctx"),
            )
            .expect("coordinates");
        Self {
            alg: "ES256",
            jwk: json!({
                "kty": "EC", "crv": "P-256",
                "x": b64(&x.to_vec_padded(32).expect("x")),
                "y": b64(&y.to_vec_padded(32).expect("y")),
            }),
            key: PKey::from_ec_key(ec).expect("pkey"),
        }
    }

    /// A fresh Ed25519 key (`EdDSA`).
    pub fn eddsa() -> Self {
        let key = PKey::generate_ed25519().expect("Ed25519 key");
        Self {
            alg: "EdDSA",
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519",
                "x": b64(&key.raw_public_key().expect("raw public key")),
            }),
            key,
        }
    }

    /// The public JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// The RFC 7638 thumbprint, computed here independently of the server's code: SHA-256 of
    /// the required members in lexicographic order, without whitespace.
    pub fn thumbprint(&self) -> String {
        let canonical = match self.alg {
            "ES256" => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                self.jwk["x"].as_str().unwrap_or_default(),
                self.jwk["y"].as_str().unwrap_or_default()
            ),
            _ => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                self.jwk["x"].as_str().unwrap_or_default()
            ),
        };
        b64(&openssl::sha::sha256(canonical.as_bytes()))
    }

    /// A proof for `htm htu` made at `iat`, with a fresh `jti`; add `ath` or `nonce` on the
    /// builder, then [`Proof::sign`].
    pub fn proof(&self, htm: &str, htu: &str, iat: DateTime<Utc>) -> Proof<'_> {
        Proof {
            key: self,
            claims: json!({
                "jti": uuid::Uuid::new_v4().to_string(),
                "htm": htm,
                "htu": htu,
                "iat": iat.timestamp(),
            }),
        }
    }
}

/// A proof being made; [`Proof::sign`] finishes it.
pub struct Proof<'a> {
    key: &'a DpopKey,
    claims: Value,
}

impl Proof<'_> {
    /// Adds `ath`, the hash of `access_token` (RFC 9449 §4.2).
    #[must_use]
    pub fn access_token(self, access_token: &str) -> Self {
        self.claim(
            "ath",
            json!(b64(&openssl::sha::sha256(access_token.as_bytes()))),
        )
    }

    /// Adds a server nonce.
    #[must_use]
    pub fn nonce(self, nonce: &str) -> Self {
        self.claim("nonce", json!(nonce))
    }

    /// Sets any claim (tests of bad proofs).
    #[must_use]
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        if let Some(claims) = self.claims.as_object_mut() {
            claims.insert(name.to_owned(), value);
        }
        self
    }

    /// The compact JWS, with the key's `jwk` in a `dpop+jwt` header.
    pub fn sign(&self) -> String {
        self.sign_by(self.key)
    }

    /// The compact JWS with this key's `jwk` in the header but signed by `signer` (a proof
    /// whose signature does not match its key).
    pub fn sign_by(&self, signer: &DpopKey) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": self.key.alg, "jwk": self.key.jwk});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(self.claims.to_string().as_bytes())
        );
        let signature = if signer.alg == "ES256" {
            let der = Signer::new(MessageDigest::sha256(), &signer.key)
                .and_then(|mut s| s.sign_oneshot_to_vec(input.as_bytes()))
                .expect("ES256 signature");
            // JWS wants r || s, each 32 bytes (RFC 7518 §3.4), not DER.
            let sig = EcdsaSig::from_der(&der).expect("DER signature");
            let mut raw = sig.r().to_vec_padded(32).expect("r");
            raw.extend(sig.s().to_vec_padded(32).expect("s"));
            raw
        } else {
            Signer::new_without_digest(&signer.key)
                .and_then(|mut s| s.sign_oneshot_to_vec(input.as_bytes()))
                .expect("EdDSA signature")
        };
        format!("{input}.{}", b64(&signature))
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
