//! [`JwksVerifier`]: the server's tokens verified from its published keys alone.

use chrono::Duration;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde_json::{json, Value};
use tollgate_application::{
    Error as AppError, JwkParams, PublicKeys as _, TokenSigner as _, TokenVerifier as _,
};
use tollgate_domain::TokenRejection::{self, *};

use super::support::*;
use crate::jwt::{JwksVerifier, KeySet};
use crate::InfraError;

/// A published key as JSON, as the server serves it.
pub(super) fn jwk_json(jwk: &tollgate_application::PublicJwk) -> Value {
    let mut json = json!({
        "kty": jwk.kty, "use": jwk.key_use, "alg": jwk.alg, "kid": jwk.kid, "x5t": jwk.x5t,
    });
    match &jwk.params {
        JwkParams::Rsa { n, e } => {
            json["n"] = json!(n);
            json["e"] = json!(e);
        }
        JwkParams::Ec { crv, x, y } => {
            json["crv"] = json!(crv);
            json["x"] = json!(x);
            json["y"] = json!(y);
        }
        JwkParams::Okp { crv, x } => {
            json["crv"] = json!(crv);
            json["x"] = json!(x);
        }
    }
    json
}

/// Our key as the server publishes it.
fn our_jwk() -> Value {
    jwk_json(&codec().jwks(t0()).remove(0))
}

/// `foreign` as a JWK.
fn foreign_jwk() -> Value {
    let set =
        KeySet::in_memory(&[(t0(), foreign().key.clone(), foreign().cert.clone(), None)]).unwrap();
    without(jwk_json(&set.signing().public_jwk()), "x5t")
}

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

fn verifier(keys: &[Value]) -> JwksVerifier {
    JwksVerifier::from_jwks_json(&jwks(keys), ISSUER, Duration::seconds(LEEWAY_SECS)).unwrap()
}

fn rejection<T: std::fmt::Debug>(result: Result<T, AppError>) -> TokenRejection {
    match result {
        Err(AppError::InvalidToken(reason)) => reason,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

/// The message of the JWKS error for `json`.
fn jwks_error(json: &str) -> String {
    match JwksVerifier::from_jwks_json(json, ISSUER, Duration::zero()) {
        Err(InfraError::Jwks(message)) => message,
        other => panic!("expected InfraError::Jwks for {json}, got {other:?}"),
    }
}

fn with(mut jwk: Value, member: &str, value: Value) -> Value {
    jwk[member] = value;
    jwk
}

fn without(mut jwk: Value, member: &str) -> Value {
    jwk.as_object_mut().unwrap().remove(member);
    jwk
}

#[test]
fn tokens_the_codec_signed_verify_with_the_published_keys_alone() {
    let verifier = verifier(&[foreign_jwk(), our_jwk()]);
    let access = codec().sign_access(&access_claims()).unwrap();
    assert_eq!(
        verifier.verify_access(&access, t0()).unwrap(),
        access_claims()
    );
    for short_term in [true, false] {
        let refresh = codec().sign_refresh(&refresh_claims(short_term)).unwrap();
        assert_eq!(
            verifier.verify_refresh(&refresh, t0()).unwrap(),
            refresh_claims(short_term)
        );
    }
}

#[test]
fn a_kid_the_jwks_does_not_have_is_an_unknown_key() {
    let verifier = verifier(&[foreign_jwk()]);
    let access = codec().sign_access(&access_claims()).unwrap();
    assert_eq!(rejection(verifier.verify_access(&access, t0())), UnknownKey);
}

#[test]
fn a_foreign_key_published_under_our_kid_is_a_bad_signature() {
    let mut impostor = foreign_jwk();
    impostor["kid"] = our_jwk()["kid"].clone();
    let access = codec().sign_access(&access_claims()).unwrap();
    assert_eq!(
        rejection(verifier(&[impostor]).verify_access(&access, t0())),
        Signature
    );
}

#[test]
fn other_algorithms_are_refused_as_the_codec_refuses_them() {
    let verifier = verifier(&[our_jwk()]);
    let payload =
        String::from_utf8(segment(&codec().sign_access(&access_claims()).unwrap(), 1)).unwrap();
    let kid = shared_keys().signing_kid().to_owned();
    for alg in ["none", "RS256", "PS512", "HS512", "ES512"] {
        let token = forge(&header(alg, &kid), &payload, rs512(&ours().key));
        assert_eq!(
            rejection(verifier.verify_access(&token, t0())),
            Algorithm,
            "{alg}"
        );
    }
}

#[test]
fn issuer_audience_and_times_are_checked_as_strictly_as_by_the_codec() {
    let access = codec().sign_access(&access_claims()).unwrap();
    let refresh = codec().sign_refresh(&refresh_claims(true)).unwrap();
    let ours = verifier(&[our_jwk()]);
    assert_eq!(rejection(ours.verify_refresh(&access, t0())), Audience);
    assert_eq!(rejection(ours.verify_access(&refresh, t0())), Audience);
    let after_expiry = t0() + Duration::seconds(900 + LEEWAY_SECS);
    assert_eq!(
        rejection(ours.verify_access(&access, after_expiry)),
        Expired
    );
    assert_eq!(
        rejection(ours.verify_access(&access, t0() - Duration::seconds(LEEWAY_SECS + 1))),
        NotYetValid
    );
    let elsewhere = JwksVerifier::from_jwks_json(
        &jwks(&[our_jwk()]),
        "https://other.example",
        Duration::zero(),
    )
    .unwrap();
    assert_eq!(rejection(elsewhere.verify_access(&access, t0())), Issuer);
    assert_eq!(rejection(ours.verify_access("not.a.jwt", t0())), Malformed);
}

#[test]
fn keys_of_another_type_or_use_are_skipped() {
    // P-384 is no curve of ours (ES256 keys are P-256).
    let ec = json!({ "kty": "EC", "crv": "P-384", "kid": "ec", "x": "AA", "y": "AA" });
    let skipped = [
        ec,
        with(foreign_jwk(), "use", json!("enc")),
        with(foreign_jwk(), "key_ops", json!(["encrypt"])),
        with(foreign_jwk(), "alg", json!("RS256")),
        without(foreign_jwk(), "kid"),
        with(foreign_jwk(), "kid", json!("")),
    ];
    let mut keys = skipped.to_vec();
    keys.push(our_jwk());
    let verifier = verifier(&keys);
    assert_eq!(
        verifier.kids().collect::<Vec<_>>(),
        [shared_keys().signing_kid()]
    );
    // No restriction at all is fine too.
    let bare = without(without(our_jwk(), "use"), "alg");
    let bare = with(bare, "key_ops", json!(["verify"]));
    assert_eq!(self::verifier(&[bare]).kids().count(), 1);

    assert!(jwks_error(&jwks(&skipped)).contains("no key usable"));
}

#[test]
fn a_malformed_jwks_is_a_clear_error() {
    let cases: Vec<(String, &str)> = vec![
        ("<html>".into(), "not JSON"),
        ("{}".into(), "no `keys` array"),
        (r#"{"keys":{}}"#.into(), "no `keys` array"),
        (jwks(&[json!("RSA")]), "keys[0] is not an object"),
        (jwks(&[without(our_jwk(), "n")]), "`n` is missing"),
        (
            jwks(&[with(our_jwk(), "e", json!(65537))]),
            "`e` is missing or not a string",
        ),
        (
            jwks(&[with(our_jwk(), "n", json!("AQAB=="))]),
            "`n` is not unpadded base64url",
        ),
        (
            jwks(&[with(our_jwk(), "n", json!("a+b/"))]),
            "`n` is not unpadded base64url",
        ),
        (
            jwks(&[with(our_jwk(), "e", json!("Ag"))]),
            "exponent must be odd",
        ),
        (
            jwks(&[with(our_jwk(), "e", json!("AQ"))]),
            "exponent must be odd",
        ),
        (jwks(&[our_jwk(), our_jwk()]), "share the kid"),
        (jwks(&[]), "no key usable"),
        (
            format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(300 * 1024)),
            "over 256 KiB",
        ),
    ];
    for (json, expected) in cases {
        let message = jwks_error(&json);
        assert!(
            message.contains(expected),
            "{message:?} should say {expected:?}"
        );
        assert!(
            InfraError::Jwks(message.clone())
                .to_string()
                .starts_with("invalid JWKS: "),
            "{message}"
        );
    }
}

#[test]
fn a_short_modulus_is_refused() {
    let weak = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    let rsa = weak.rsa().unwrap();
    use base64::Engine as _;
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = json!({ "kty": "RSA", "kid": "weak", "n": b64(rsa.n().to_vec()), "e": b64(rsa.e().to_vec()) });
    let message = jwks_error(&jwks(&[jwk]));
    assert!(message.contains("modulus of 1024 bits"), "{message}");
    assert!(message.contains("\"weak\""), "{message}");
}

#[test]
fn a_key_published_with_private_members_is_refused() {
    for member in ["d", "p", "q", "dp", "dq", "qi"] {
        let message = jwks_error(&jwks(&[with(our_jwk(), member, json!("AQAB"))]));
        assert!(message.contains("private member"), "{member}: {message}");
        assert!(
            !message.contains("AQAB"),
            "the value is never echoed: {message}"
        );
    }
}

#[test]
fn debug_output_names_the_kids_and_no_key_material() {
    let verifier = verifier(&[our_jwk()]);
    let debug = format!("{verifier:?}");
    assert!(debug.contains(shared_keys().signing_kid()), "{debug}");
    assert!(!debug.contains(our_jwk()["n"].as_str().unwrap()), "{debug}");
}
