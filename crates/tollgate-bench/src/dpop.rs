//! DPoP (RFC 9449) on the client side: a proof key per virtual user, a fresh proof per request,
//! and the proof's `htu`, found in the server's metadata (RFC 8414) as a client would.
//!
//! The signatures are OpenSSL's (`openssl` crate); only the JWS framing (base64url of JSON,
//! RFC 7515 compact serialisation) is written here.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde::Deserialize;
use serde_json::json;

use crate::client::Target;
use crate::BenchError;

/// The algorithm a virtual user's proof key signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProofAlg {
    /// ECDSA with P-256 and SHA-256.
    Es256,
    /// Ed25519.
    Eddsa,
}

impl ProofAlg {
    /// The JWS `alg` name (RFC 7518, RFC 8037).
    #[must_use]
    pub fn jws_name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Eddsa => "EdDSA",
        }
    }
}

/// Summaries name the algorithm by its JWS name (`"ES256"`, `"EdDSA"`).
impl serde::Serialize for ProofAlg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.jws_name())
    }
}

/// DPoP settings of a run.
#[derive(Debug, Clone)]
pub struct DpopOptions {
    /// What the proof keys are.
    pub alg: ProofAlg,
    /// The server's public base URL (`tokens.issuer`), when its metadata should not be asked:
    /// proofs then name `<issuer>/api/oauth2/token`.
    pub issuer: Option<String>,
}

enum KeyPair {
    Es256(EcKey<Private>),
    Eddsa(PKey<Private>),
}

/// One client's proof key, with the proof header (which names the public key) encoded once.
pub struct ProofKey {
    key: KeyPair,
    /// base64url of the JOSE header.
    header: String,
}

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKey")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ssl(e: openssl::error::ErrorStack) -> String {
    format!("openssl: {e}")
}

impl ProofKey {
    /// A new key pair.
    ///
    /// # Errors
    /// OpenSSL's error, as text.
    pub fn generate(alg: ProofAlg) -> Result<Self, String> {
        let (key, jwk) = match alg {
            ProofAlg::Es256 => {
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(ssl)?;
                let ec = EcKey::generate(&group).map_err(ssl)?;
                let (mut x, mut y) = (BigNum::new().map_err(ssl)?, BigNum::new().map_err(ssl)?);
                let mut ctx = BigNumContext::new().map_err(ssl)?;
                ec.public_key()
                    .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
                    .map_err(ssl)?;
                let jwk = json!({
                    "kty": "EC", "crv": "P-256",
                    "x": b64(&x.to_vec_padded(32).map_err(ssl)?),
                    "y": b64(&y.to_vec_padded(32).map_err(ssl)?),
                });
                (KeyPair::Es256(ec), jwk)
            }
            ProofAlg::Eddsa => {
                let key = PKey::generate_ed25519().map_err(ssl)?;
                let jwk = json!({
                    "kty": "OKP", "crv": "Ed25519",
                    "x": b64(&key.raw_public_key().map_err(ssl)?),
                });
                (KeyPair::Eddsa(key), jwk)
            }
        };
        let header = json!({"typ": "dpop+jwt", "alg": alg.jws_name(), "jwk": jwk});
        Ok(Self {
            key,
            header: b64(header.to_string().as_bytes()),
        })
    }

    /// A proof for `POST htu`, made now, with a fresh random `jti`.
    ///
    /// # Errors
    /// OpenSSL's error, as text.
    pub fn proof(&self, htu: &str) -> Result<String, String> {
        // The tool is a client outside the server, with no Clock port: a proof is dated by the
        // client's wall clock, which the server compares with its own (RFC 9449 §11.1).
        #[allow(clippy::disallowed_methods)]
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| format!("clock: {e}"))?
            .as_secs();
        let claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": "POST",
            "htu": htu,
            "iat": iat,
        });
        let input = format!("{}.{}", self.header, b64(claims.to_string().as_bytes()));
        let signature = match &self.key {
            KeyPair::Es256(ec) => {
                let sig =
                    EcdsaSig::sign(&openssl::sha::sha256(input.as_bytes()), ec).map_err(ssl)?;
                // JWS wants r || s, 32 bytes each (RFC 7518 §3.4), not DER.
                let mut raw = sig.r().to_vec_padded(32).map_err(ssl)?;
                raw.extend(sig.s().to_vec_padded(32).map_err(ssl)?);
                raw
            }
            KeyPair::Eddsa(key) => Signer::new_without_digest(key)
                .and_then(|mut s| s.sign_oneshot_to_vec(input.as_bytes()))
                .map_err(ssl)?,
        };
        Ok(format!("{input}.{}", b64(&signature)))
    }
}

/// The members of the server's metadata that a DPoP client needs.
#[derive(Deserialize)]
struct Metadata {
    token_endpoint: String,
    dpop_signing_alg_values_supported: Option<Vec<String>>,
}

/// The `htu` every proof names: `<issuer>/api/oauth2/token` when the issuer is given, else the
/// `token_endpoint` of the server's metadata, after checking there that the server accepts
/// proofs signed with `dpop.alg`.
///
/// # Errors
/// [`BenchError::Setup`] when the metadata cannot be read or the server does not accept the
/// proofs.
pub fn proof_url(target: &Target, dpop: &DpopOptions) -> Result<String, BenchError> {
    if let Some(issuer) = &dpop.issuer {
        return Ok(format!("{}/api/oauth2/token", issuer.trim_end_matches('/')));
    }
    let url = format!(
        "{}/.well-known/oauth-authorization-server",
        target.base_url.trim_end_matches('/')
    );
    let setup = |e: String| {
        BenchError::Setup(format!(
            "reading {url} for the proofs' htu (or pass --issuer): {e}"
        ))
    };
    let text = ureq::get(&url)
        .call()
        .map_err(|e| setup(e.to_string()))?
        .into_string()
        .map_err(|e| setup(e.to_string()))?;
    let metadata: Metadata = serde_json::from_str(&text).map_err(|e| setup(e.to_string()))?;
    let name = dpop.alg.jws_name();
    match metadata.dpop_signing_alg_values_supported {
        Some(algs) if algs.iter().any(|a| a == name) => Ok(metadata.token_endpoint),
        Some(algs) => Err(BenchError::Setup(format!(
            "the server accepts DPoP proofs signed with {algs:?}, not {name}"
        ))),
        None => Err(BenchError::Setup(
            "the server's metadata names no DPoP algorithm: it does not accept proofs".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn part(jws: &str, i: usize) -> Vec<u8> {
        URL_SAFE_NO_PAD
            .decode(jws.split('.').nth(i).unwrap())
            .unwrap()
    }

    #[test]
    fn proofs_name_the_key_and_request_and_never_repeat_a_jti() {
        for alg in [ProofAlg::Es256, ProofAlg::Eddsa] {
            let key = ProofKey::generate(alg).unwrap();
            let htu = "https://auth.example/api/oauth2/token";
            let (a, b) = (key.proof(htu).unwrap(), key.proof(htu).unwrap());
            let header: Value = serde_json::from_slice(&part(&a, 0)).unwrap();
            assert_eq!(header["typ"], "dpop+jwt");
            assert_eq!(header["alg"], alg.jws_name());
            assert!(header["jwk"].get("d").is_none(), "no private member");
            let (ca, cb): (Value, Value) = (
                serde_json::from_slice(&part(&a, 1)).unwrap(),
                serde_json::from_slice(&part(&b, 1)).unwrap(),
            );
            assert_eq!(
                (ca["htm"].as_str(), ca["htu"].as_str()),
                (Some("POST"), Some(htu))
            );
            assert!(ca["iat"].as_u64().unwrap() > 1_700_000_000);
            assert_ne!(ca["jti"], cb["jti"]);
            assert_eq!(
                part(&a, 2).len(),
                64,
                "{alg:?}: r || s, or an Ed25519 signature"
            );
        }
    }

    #[test]
    fn an_es256_proof_verifies_with_its_public_key() {
        let key = ProofKey::generate(ProofAlg::Es256).unwrap();
        let proof = key.proof("https://a.example/api/oauth2/token").unwrap();
        let KeyPair::Es256(ec) = &key.key else {
            unreachable!()
        };
        let (input, sig) = proof.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let sig = EcdsaSig::from_private_components(
            BigNum::from_slice(&sig[..32]).unwrap(),
            BigNum::from_slice(&sig[32..]).unwrap(),
        )
        .unwrap();
        let digest = openssl::sha::sha256(input.as_bytes());
        assert!(sig.verify(&digest, ec).unwrap());
        assert!(!sig.verify(&openssl::sha::sha256(b"other"), ec).unwrap());
    }

    #[test]
    fn a_given_issuer_makes_the_htu_without_asking_the_server() {
        let target = Target {
            base_url: "http://127.0.0.1:1".into(),
            dialect: crate::Dialect::Product,
            user: String::new(),
            password: String::new(),
            client: None,
            long_lived: false,
            dpop: None,
        };
        let dpop = DpopOptions {
            alg: ProofAlg::Eddsa,
            issuer: Some("https://auth.example/base/".into()),
        };
        assert_eq!(
            proof_url(&target, &dpop).unwrap(),
            "https://auth.example/base/api/oauth2/token"
        );
    }
}
