//! The verifier factory's cache of parsed public keys (`provider::PublicKeyCache`).

use jsonwebtoken::crypto::JwtVerifier;
use jsonwebtoken::{Algorithm, DecodingKey};
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;

use crate::jwt::provider::{self, PublicKeyCache, OPENSSL_PROVIDER, PUBLIC_KEY_CACHE_SIZE};

fn rsa_key() -> (PKey<Private>, DecodingKey) {
    let rsa = Rsa::generate(2048).unwrap();
    let decoding = DecodingKey::from_rsa_raw_components(&rsa.n().to_vec(), &rsa.e().to_vec());
    (PKey::from_rsa(rsa).unwrap(), decoding)
}

fn ed25519_key() -> (PKey<Private>, DecodingKey) {
    let key = PKey::generate_ed25519().unwrap();
    let decoding = DecodingKey::from_ed_der(&key.raw_public_key().unwrap());
    (key, decoding)
}

fn verifier(alg: Algorithm, key: &DecodingKey) -> Box<dyn JwtVerifier> {
    (OPENSSL_PROVIDER.verifier_factory)(&alg, key).unwrap()
}

#[test]
fn a_key_is_parsed_once_and_each_key_keeps_its_own_entry() {
    let cache = PublicKeyCache::new();
    let (a, a_decoding) = rsa_key();
    let (b, b_decoding) = rsa_key();
    let first = cache.get_or_parse(Algorithm::RS512, &a_decoding).unwrap();
    let again = cache.get_or_parse(Algorithm::RS512, &a_decoding).unwrap();
    assert_eq!(cache.len(), 1);
    assert!(first.public_eq(&a) && again.public_eq(&a));
    let other = cache.get_or_parse(Algorithm::RS512, &b_decoding).unwrap();
    assert_eq!(cache.len(), 2);
    assert!(other.public_eq(&b) && !other.public_eq(&a));
}

#[test]
fn a_signature_verifies_under_its_own_key_only_while_both_keys_are_cached() {
    let (a, a_decoding) = rsa_key();
    let (_, b_decoding) = rsa_key();
    let message = b"header.payload";
    let signature = provider::sign(Algorithm::RS512, &a, message).unwrap();
    // Each check goes through the factory, so the second and later ones hit the cache.
    for _ in 0..3 {
        assert!(verifier(Algorithm::RS512, &a_decoding)
            .verify(message, &signature)
            .is_ok());
        assert!(verifier(Algorithm::RS512, &b_decoding)
            .verify(message, &signature)
            .is_err());
    }
    // The same key under another algorithm is its own entry and its own check.
    assert!(verifier(Algorithm::RS256, &a_decoding)
        .verify(message, &signature)
        .is_err());
}

#[test]
fn a_flood_of_new_keys_never_grows_the_cache_past_its_bound() {
    let cache = PublicKeyCache::new();
    for _ in 0..3 * PUBLIC_KEY_CACHE_SIZE {
        let (key, decoding) = ed25519_key();
        let parsed = cache.get_or_parse(Algorithm::EdDSA, &decoding).unwrap();
        assert!(parsed.public_eq(&key));
        assert!(cache.len() <= PUBLIC_KEY_CACHE_SIZE);
    }
    assert!(cache.len() >= 1);
}
