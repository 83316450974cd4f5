//! RS512, ES256 and EdDSA keys side by side: each signs and verifies with its own algorithm only.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Duration;
use serde_json::json;
use tollgate_application::{
    Error as AppError, JwkParams, PublicKeys as _, TokenSigner as _, TokenVerifier as _,
};
use tollgate_domain::TokenRejection;

use super::jwks::jwk_json;
use super::support::*;
use crate::jwt::{JwksVerifier, JwtCodec, KeySet, SigningAlgorithm};

fn single_key_codec(algorithm: SigningAlgorithm) -> JwtCodec {
    let p = pair_for(algorithm);
    let set = KeySet::in_memory(&[(t0(), p.key.clone(), p.cert.clone(), None)]).unwrap();
    JwtCodec::new(Arc::new(set), ISSUER, Duration::seconds(LEEWAY_SECS))
}

fn rejection<T: std::fmt::Debug>(result: Result<T, AppError>) -> TokenRejection {
    match result {
        Err(AppError::InvalidToken(reason)) => reason,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

/// A valid access payload of ours.
fn access_payload() -> String {
    String::from_utf8(segment(&codec().sign_access(&access_claims()).unwrap(), 1)).unwrap()
}

#[test]
fn each_algorithm_signs_under_the_contract_header_and_round_trips() {
    for (algorithm, signature_bytes) in [
        (SigningAlgorithm::Rs512, 256),
        (SigningAlgorithm::Es256, 64),
        (SigningAlgorithm::EdDsa, 64),
    ] {
        let codec = single_key_codec(algorithm);
        let access = codec.sign_access(&access_claims()).unwrap();
        let kid = kid_of_pair(pair_for(algorithm));
        assert_eq!(
            String::from_utf8(segment(&access, 0)).unwrap(),
            format!(
                r#"{{"alg":"{}","kid":"{kid}","typ":"JWT"}}"#,
                algorithm.name()
            )
        );
        assert_eq!(segment(&access, 2).len(), signature_bytes, "{algorithm}");
        assert_eq!(codec.verify_access(&access, t0()).unwrap(), access_claims());
        let refresh = codec.sign_refresh(&refresh_claims(false)).unwrap();
        assert_eq!(
            codec.verify_refresh(&refresh, t0()).unwrap(),
            refresh_claims(false)
        );
        // Tampering is caught for every algorithm.
        let mut other = access_claims();
        other.unique_name = "root".into();
        let swapped = codec.sign_access(&other).unwrap();
        let parts: Vec<&str> = access.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            swapped.split('.').nth(1).unwrap(),
            parts[2]
        );
        assert_eq!(
            rejection(codec.verify_access(&forged, t0())),
            TokenRejection::Signature,
            "{algorithm}"
        );
    }
}

#[test]
fn a_token_naming_another_algorithm_than_its_keys_is_refused_for_every_pair() {
    let codec = all_algorithms_codec();
    let payload = access_payload();
    for key_alg in SigningAlgorithm::ALL {
        let kid = kid_of_pair(pair_for(key_alg));
        // The key's own algorithm under its own kid passes, so what follows fails only for the
        // algorithm.
        let honest = forge(&header(key_alg.name(), &kid), &payload, |input| {
            sign_as(key_alg.name(), &pair_for(key_alg).key, input)
        });
        assert!(codec.verify_access(&honest, t0()).is_ok(), "{key_alg}");
        for header_alg in SigningAlgorithm::ALL {
            if header_alg == key_alg {
                continue;
            }
            // Signed as the header says, by a key of that algorithm, under this key's kid.
            let by_header_alg = forge(&header(header_alg.name(), &kid), &payload, |input| {
                sign_as(header_alg.name(), &pair_for(header_alg).key, input)
            });
            // Signed by this very key, in its own algorithm, but the header names another.
            let by_this_key = forge(&header(header_alg.name(), &kid), &payload, |input| {
                sign_as(key_alg.name(), &pair_for(key_alg).key, input)
            });
            for token in [by_header_alg, by_this_key] {
                assert_eq!(
                    rejection(codec.verify_access(&token, t0())),
                    TokenRejection::Algorithm,
                    "key {key_alg}, header {header_alg}"
                );
            }
        }
    }
}

#[test]
fn the_jwks_has_the_right_members_for_each_key_type() {
    let codec = all_algorithms_codec();
    let jwks = codec.jwks(t0());
    assert_eq!(jwks.len(), 3);
    let set = codec.key_set();
    for jwk in &jwks {
        let key = set.find(&jwk.kid).unwrap();
        assert_eq!(jwk.alg, key.algorithm().name());
        assert_eq!(jwk.key_use, "sig");
        let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
        match (key.algorithm(), &jwk.params) {
            (SigningAlgorithm::Rs512, JwkParams::Rsa { n, .. }) => {
                assert_eq!(jwk.kty, "RSA");
                assert_eq!(b64(n).len(), 256);
            }
            (SigningAlgorithm::Es256, JwkParams::Ec { crv, x, y }) => {
                assert_eq!((jwk.kty.as_str(), crv.as_str()), ("EC", "P-256"));
                assert_eq!((b64(x).len(), b64(y).len()), (32, 32));
                let point = [&[4u8][..], &b64(x), &b64(y)].concat();
                let ec = key.public_key().ec_key().unwrap();
                let mut ctx = openssl::bn::BigNumContext::new().unwrap();
                let expected = ec
                    .public_key()
                    .to_bytes(
                        ec.group(),
                        openssl::ec::PointConversionForm::UNCOMPRESSED,
                        &mut ctx,
                    )
                    .unwrap();
                assert_eq!(point, expected);
            }
            (SigningAlgorithm::EdDsa, JwkParams::Okp { crv, x }) => {
                assert_eq!((jwk.kty.as_str(), crv.as_str()), ("OKP", "Ed25519"));
                assert_eq!(b64(x), key.public_key().raw_public_key().unwrap());
            }
            (alg, params) => panic!("{alg} published as {params:?}"),
        }
        // The kid is still the SHA-1 of the self-signed certificate.
        let expected: String = openssl::sha::sha1(key.certificate_der())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        assert_eq!(jwk.kid, expected);
    }
}

#[test]
fn a_jwks_verifier_takes_every_key_type_and_pins_each_to_its_algorithm() {
    let codec = all_algorithms_codec();
    let keys: Vec<_> = codec.jwks(t0()).iter().map(jwk_json).collect();
    let verifier = JwksVerifier::from_jwks_json(
        &json!({ "keys": keys }).to_string(),
        ISSUER,
        Duration::seconds(LEEWAY_SECS),
    )
    .unwrap();
    assert_eq!(verifier.kids().count(), 3);
    let payload = access_payload();
    for key_alg in SigningAlgorithm::ALL {
        let kid = kid_of_pair(pair_for(key_alg));
        let sign = |alg: SigningAlgorithm| {
            forge(&header(alg.name(), &kid), &payload, |input| {
                sign_as(alg.name(), &pair_for(alg).key, input)
            })
        };
        assert_eq!(
            verifier.verify_access(&sign(key_alg), t0()).unwrap(),
            access_claims()
        );
        for header_alg in SigningAlgorithm::ALL.into_iter().filter(|a| *a != key_alg) {
            assert_eq!(
                rejection(verifier.verify_access(&sign(header_alg), t0())),
                TokenRejection::Algorithm,
                "key {key_alg}, header {header_alg}"
            );
        }
    }
}

#[test]
fn an_ec_or_okp_jwk_with_bad_members_is_a_clear_error() {
    let codec = all_algorithms_codec();
    let by_kty = |kty: &str| {
        codec
            .jwks(t0())
            .iter()
            .map(jwk_json)
            .find(|k| k["kty"] == kty)
            .unwrap()
    };
    let error = |jwk: serde_json::Value| match JwksVerifier::from_jwks_json(
        &json!({ "keys": [jwk] }).to_string(),
        ISSUER,
        Duration::zero(),
    ) {
        Err(crate::InfraError::Jwks(message)) => message,
        other => panic!("expected a JWKS error, got {other:?}"),
    };
    let mut off_curve = by_kty("EC");
    off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    assert!(error(off_curve).contains("not a point of P-256"));
    let mut short = by_kty("OKP");
    short["x"] = json!("AAAA");
    assert!(error(short).contains("`x` is not 32 bytes"));
    let mut no_y = by_kty("EC");
    no_y.as_object_mut().unwrap().remove("y");
    assert!(error(no_y).contains("`y` is missing"));
}

#[test]
fn keys_of_each_algorithm_are_generated_stored_and_loaded_with_their_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    for (i, algorithm) in SigningAlgorithm::ALL.into_iter().enumerate() {
        let at = t0() + Duration::minutes(i as i64);
        let made = KeySet::generate_with(dir.path(), at, algorithm).unwrap();
        assert_eq!(made.algorithm(), algorithm);
        let set = KeySet::load(dir.path()).unwrap();
        assert_eq!(set.signing_kid(), made.kid());
        assert_eq!(set.signing().algorithm(), algorithm);
        let codec = JwtCodec::new(Arc::new(set), ISSUER, Duration::zero());
        let token = codec.sign_access(&access_claims()).unwrap();
        assert!(String::from_utf8(segment(&token, 0))
            .unwrap()
            .contains(&format!(r#""alg":"{algorithm}""#)));
        assert!(codec.verify_access(&token, t0()).is_ok());
    }
    // Every earlier key still loads with its own algorithm.
    let set = KeySet::load(dir.path()).unwrap();
    let algorithms: Vec<_> = set.keys().map(|k| k.algorithm()).collect();
    assert_eq!(algorithms, SigningAlgorithm::ALL);
}

#[test]
fn algorithm_names_parse_exactly() {
    for algorithm in SigningAlgorithm::ALL {
        assert_eq!(algorithm.name().parse(), Ok(algorithm));
    }
    for wrong in ["rs512", "ES384", "Ed25519", "", "none"] {
        assert!(wrong.parse::<SigningAlgorithm>().is_err(), "{wrong}");
    }
}
