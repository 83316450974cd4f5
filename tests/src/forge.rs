//! Building hostile tokens: tampered, foreign-signed, `alg: none`, HS512 keyed with our public key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::Value;

/// A JWT split into its decoded header and payload.
pub struct Parts {
    pub header: Value,
    pub payload: Value,
}

/// Decodes a compact JWT's header and payload (no verification).
pub fn decode(token: &str) -> Parts {
    let mut it = token.split('.');
    let mut next = || {
        let raw = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
        serde_json::from_slice(&raw).unwrap()
    };
    Parts {
        header: next(),
        payload: next(),
    }
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// The token with its payload replaced and the original signature kept.
pub fn with_payload(token: &str, payload: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(payload), parts[2])
}

/// A fresh RSA-2048 key that is not ours.
pub fn foreign_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

/// Signs `header.payload` with RS512 under `key`.
pub fn sign_rs512(header: &Value, payload: &Value, key: &PKey<Private>) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let mut signer = Signer::new(MessageDigest::sha512(), key).unwrap();
    signer.update(input.as_bytes()).unwrap();
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap())
    )
}

/// Signs `header.payload` with HS512 keyed by `secret` (e.g. our public key PEM).
pub fn sign_hs512(header: &Value, payload: &Value, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let key = PKey::hmac(secret).unwrap();
    let mut signer = Signer::new(MessageDigest::sha512(), &key).unwrap();
    signer.update(input.as_bytes()).unwrap();
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap())
    )
}

/// An unsigned token (`alg: none`, empty signature).
pub fn unsigned(header: &Value, payload: &Value) -> String {
    format!("{}.{}.", b64(header), b64(payload))
}
