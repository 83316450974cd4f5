//! Signing and strict verification.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Duration;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use tollgate_application::{Error as AppError, TokenSigner as _, TokenVerifier as _};
use tollgate_domain::TokenRejection::{self, *};

use super::support::*;
use crate::jwt::JwtCodec;

/// The rejection reason, or a panic naming what came back instead.
fn rejection<T: std::fmt::Debug>(result: Result<T, AppError>) -> TokenRejection {
    match result {
        Err(AppError::InvalidToken(reason)) => reason,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

fn refresh_rejection(token: &str) -> TokenRejection {
    rejection(codec().verify_refresh(token, t0()))
}

fn access_rejection(token: &str) -> TokenRejection {
    rejection(codec().verify_access(token, t0()))
}

/// A valid refresh payload, with `edit` applied to its JSON object.
fn refresh_payload_with(
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> String {
    let token = codec().sign_refresh(&refresh_claims(true)).unwrap();
    let mut map = serde_json::from_slice(&segment(&token, 1)).unwrap();
    edit(&mut map);
    serde_json::to_string(&map).unwrap()
}

#[test]
fn an_access_token_round_trips_with_every_claim() {
    let claims = access_claims();
    let token = codec().sign_access(&claims).unwrap();
    assert_eq!(codec().verify_access(&token, t0()).unwrap(), claims);
}

#[test]
fn a_refresh_token_round_trips_with_every_claim() {
    for short_term in [true, false] {
        let claims = refresh_claims(short_term);
        let token = codec().sign_refresh(&claims).unwrap();
        assert_eq!(codec().verify_refresh(&token, t0()).unwrap(), claims);
    }
}

#[test]
fn the_header_is_exactly_the_contract_with_the_certificate_thumbprint_as_kid() {
    let token = codec().sign_access(&access_claims()).unwrap();
    let kid = shared_keys().signing_kid().to_owned();
    assert_eq!(
        String::from_utf8(segment(&token, 0)).unwrap(),
        format!(r#"{{"alg":"RS512","kid":"{kid}","typ":"JWT"}}"#)
    );
    assert_eq!(kid.len(), 40);
    assert!(
        kid.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
        "{kid}"
    );
    let thumbprint = openssl::sha::sha1(&ours().cert.to_der().unwrap());
    let expected: String = thumbprint.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(kid, expected);
    // Base64url without padding throughout.
    assert!(!token.contains('=') && !token.contains('+') && !token.contains('/'));
}

#[test]
fn payload_claims_come_in_the_contract_order() {
    let (iat, exp) = (t0().timestamp(), t0().timestamp() + 900);
    let access = codec().sign_access(&access_claims()).unwrap();
    assert_eq!(
        String::from_utf8(segment(&access, 1)).unwrap(),
        format!(
            r#"{{"unique_name":"administrator","sub":"11111111-1111-4111-8111-111111111111","sid":"22222222-2222-4222-8222-222222222222","jti":"33333333-3333-4333-8333-333333333333","nbf":{iat},"exp":{exp},"iat":{iat},"iss":"https://auth.example","aud":"access"}}"#
        )
    );
    let exp = t0().timestamp() + 86_400;
    let refresh = codec().sign_refresh(&refresh_claims(false)).unwrap();
    assert_eq!(
        String::from_utf8(segment(&refresh, 1)).unwrap(),
        format!(
            r#"{{"unique_name":"administrator","token_id":"44444444-4444-4444-8444-444444444444","short_term_expiration":"False","sub":"11111111-1111-4111-8111-111111111111","nbf":{iat},"exp":{exp},"iat":{iat},"iss":"https://auth.example","aud":"refresh"}}"#
        )
    );
    let short = codec().sign_refresh(&refresh_claims(true)).unwrap();
    assert!(String::from_utf8(segment(&short, 1))
        .unwrap()
        .contains(r#""short_term_expiration":"True""#));
}

#[test]
fn the_same_claims_give_byte_identical_tokens() {
    let one = codec().sign_refresh(&refresh_claims(true)).unwrap();
    let two = JwtCodec::new(shared_keys(), ISSUER, Duration::zero())
        .sign_refresh(&refresh_claims(true))
        .unwrap();
    assert_eq!(one, two);
    let mut other = refresh_claims(true);
    other.unique_name.push('x');
    assert_ne!(one, codec().sign_refresh(&other).unwrap());
}

/// Which verification a forged token is shown to.
#[derive(Clone, Copy, Debug)]
enum Shown {
    AsRefresh,
    AsAccess,
}

/// One forged or misused token, the verification it is shown to and the reason it must get.
struct Forgery {
    what: String,
    token: String,
    shown: Shown,
    expected: TokenRejection,
}

fn forgery(
    what: impl Into<String>,
    token: String,
    shown: Shown,
    expected: TokenRejection,
) -> Forgery {
    Forgery {
        what: what.into(),
        token,
        shown,
        expected,
    }
}

/// Every forgery the verifier must refuse, with the reason it must report. Each row is one
/// attack; the controls after the table show that what the row changed is what made it fail.
fn forgeries() -> Vec<Forgery> {
    use Shown::*;
    let access = codec().sign_access(&access_claims()).unwrap();
    let refresh = codec().sign_refresh(&refresh_claims(true)).unwrap();
    let parts: Vec<&str> = access.split('.').collect();
    let payload = refresh_payload_with(|_| {});
    let kid = shared_keys().signing_kid().to_owned();
    let mut rows = Vec::new();

    // --- the signature -----------------------------------------------------------------------
    let mut other = access_claims();
    other.unique_name = "root".into();
    let other_payload = codec().sign_access(&other).unwrap();
    let other_payload = other_payload.split('.').nth(1).unwrap();
    rows.push(forgery(
        "payload swapped under the original signature",
        format!("{}.{other_payload}.{}", parts[0], parts[2]),
        AsAccess,
        Signature,
    ));
    // Still canonical base64url, wrong bytes.
    let first = if parts[2].starts_with('A') { "B" } else { "A" };
    rows.push(forgery(
        "first signature character changed",
        format!("{}.{}.{first}{}", parts[0], parts[1], &parts[2][1..]),
        AsAccess,
        Signature,
    ));
    let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    rows.push(forgery(
        "signature one byte short of the modulus",
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(&sig[1..])
        ),
        AsAccess,
        Signature,
    ));
    rows.push(forgery(
        "empty signature",
        format!("{}.{}.", parts[0], parts[1]),
        AsAccess,
        Signature,
    ));
    // Full length but not below the modulus: OpenSSL cannot even run the check.
    rows.push(forgery(
        "signature of all ones",
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode([0xff; 256])
        ),
        AsAccess,
        Signature,
    ));
    rows.push(forgery(
        "signed by a foreign key under our kid",
        forge(&our_header(), &payload, rs512(&foreign().key)),
        AsRefresh,
        Signature,
    ));

    // --- the algorithm -----------------------------------------------------------------------
    for header in [
        header("none", &kid),
        r#"{"alg":"none"}"#.to_owned(),
        r#"{"alg":"none","typ":"JWT"}"#.to_owned(),
    ] {
        let unsigned = forge(&header, &payload, |_| Vec::new());
        assert!(unsigned.ends_with('.'));
        rows.push(forgery(
            format!("unsigned, {header}"),
            unsigned,
            AsRefresh,
            Algorithm,
        ));
    }
    // The classic confusion attack: HMAC with the published public key as the secret.
    let public_pems = [
        ("public key", ours().key.public_key_to_pem().unwrap()),
        ("certificate", ours().cert.to_pem().unwrap()),
    ];
    for (which, secret) in public_pems {
        let forged = forge(&header("HS512", &kid), &payload, |input| {
            let key = PKey::hmac(&secret).unwrap();
            let mut signer = Signer::new(MessageDigest::sha512(), &key).unwrap();
            signer.sign_oneshot_to_vec(input).unwrap()
        });
        rows.push(forgery(
            format!("HS512 keyed with our {which} PEM"),
            forged,
            AsRefresh,
            Algorithm,
        ));
    }
    for alg in ["RS256", "PS512", "rs512", "ES512", ""] {
        rows.push(forgery(
            format!("alg {alg:?} signed by our RS512 key"),
            forge(&header(alg, &kid), &payload, rs512(&ours().key)),
            AsRefresh,
            Algorithm,
        ));
    }

    // --- the key id --------------------------------------------------------------------------
    let foreign_kid: String = openssl::sha::sha1(&foreign().cert.to_der().unwrap())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    rows.push(forgery(
        "a foreign key under its own kid",
        forge(
            &header("RS512", &foreign_kid),
            &payload,
            rs512(&foreign().key),
        ),
        AsRefresh,
        UnknownKey,
    ));
    rows.push(forgery(
        "our kid in lower case",
        forge(
            &header("RS512", &kid.to_lowercase()),
            &payload,
            rs512(&ours().key),
        ),
        AsRefresh,
        UnknownKey,
    ));
    rows.push(forgery(
        "no kid",
        forge(
            r#"{"alg":"RS512","typ":"JWT"}"#,
            &payload,
            rs512(&ours().key),
        ),
        AsRefresh,
        UnknownKey,
    ));

    // --- the header's shape ------------------------------------------------------------------
    for header in [
        format!(r#"{{"alg":"RS512","kid":"{kid}","typ":"JWT","crit":["exp"]}}"#),
        format!(r#"{{"alg":"RS512","kid":"{kid}","typ":"JWT","crit":null}}"#),
        format!(r#"{{"alg":"RS512","kid":"{kid}","typ":"at+jwt"}}"#),
        format!(r#"{{"alg":"RS512","alg":"RS512","kid":"{kid}","typ":"JWT"}}"#),
        format!(r#"{{"kid":"{kid}","typ":"JWT"}}"#),
        format!(r#"{{"alg":512,"kid":"{kid}"}}"#),
        r#"["RS512"]"#.to_owned(),
    ] {
        rows.push(forgery(
            format!("header {header}"),
            forge(&header, &payload, rs512(&ours().key)),
            AsRefresh,
            Malformed,
        ));
    }

    // --- the audience: each token only for its own use --------------------------------------
    rows.push(forgery(
        "an access token as refresh",
        access.clone(),
        AsRefresh,
        Audience,
    ));
    rows.push(forgery(
        "a refresh token as access",
        refresh.clone(),
        AsAccess,
        Audience,
    ));
    for aud in [
        serde_json::json!(["refresh"]),
        serde_json::json!("Refresh"),
        serde_json::Value::Null,
    ] {
        let token = signed_by_us(&refresh_payload_with(|m| {
            m.insert("aud".into(), aud.clone());
        }));
        rows.push(forgery(format!("aud {aud}"), token, AsRefresh, Audience));
    }
    let no_aud = signed_by_us(&refresh_payload_with(|m| {
        m.remove("aud");
    }));
    rows.push(forgery("no aud", no_aud, AsRefresh, Audience));

    // --- the issuer --------------------------------------------------------------------------
    let mut claims = access_claims();
    claims.issuer = "https://auth.example/".into();
    rows.push(forgery(
        "issuer with a trailing slash",
        codec().sign_access(&claims).unwrap(),
        AsAccess,
        Issuer,
    ));
    let no_iss = signed_by_us(&refresh_payload_with(|m| {
        m.remove("iss");
    }));
    rows.push(forgery("no iss", no_iss, AsRefresh, Issuer));
    rows
}

#[test]
fn forged_and_misused_tokens_are_refused_with_their_reason() {
    let rows = forgeries();
    assert!(rows.len() >= 30, "the table lost rows: {}", rows.len());
    let wrong: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let got = match row.shown {
                Shown::AsRefresh => codec().verify_refresh(&row.token, t0()).map(|_| ()),
                Shown::AsAccess => codec().verify_access(&row.token, t0()).map(|_| ()),
            };
            match got {
                Err(AppError::InvalidToken(reason)) if reason == row.expected => None,
                other => Some(format!(
                    "{}: expected {:?}, got {other:?}",
                    row.what, row.expected
                )),
            }
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} rows failed:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_forgeries_differ_from_an_accepted_token_only_in_what_they_change() {
    // The payload the table signs with foreign keys and odd headers verifies under our key and
    // our header, so the change in each row is what made it fail.
    let payload = refresh_payload_with(|_| {});
    let kid = shared_keys().signing_kid().to_owned();
    assert!(codec()
        .verify_refresh(&signed_by_us(&payload), t0())
        .is_ok());
    // Unknown members are ignored, and typ may be left out.
    let extra = format!(r#"{{"alg":"RS512","kid":"{kid}","x5t":"abc"}}"#);
    assert!(codec()
        .verify_refresh(&forge(&extra, &payload, rs512(&ours().key)), t0())
        .is_ok());
    assert!(codec()
        .verify_access(&codec().sign_access(&access_claims()).unwrap(), t0())
        .is_ok());
}

#[test]
fn another_issuers_verifier_refuses_our_token() {
    let token = codec().sign_refresh(&refresh_claims(true)).unwrap();
    let elsewhere = JwtCodec::new(
        shared_keys(),
        "https://other.example",
        Duration::seconds(30),
    );
    assert_eq!(rejection(elsewhere.verify_refresh(&token, t0())), Issuer);
}

#[test]
fn a_token_is_accepted_until_exp_plus_leeway() {
    let claims = access_claims();
    let token = codec().sign_access(&claims).unwrap();
    let leeway = Duration::seconds(LEEWAY_SECS);
    let last_moment = claims.expires_at + leeway - Duration::nanoseconds(1);
    assert!(codec().verify_access(&token, claims.expires_at).is_ok());
    assert!(codec().verify_access(&token, last_moment).is_ok());
    assert_eq!(
        rejection(codec().verify_access(&token, claims.expires_at + leeway)),
        Expired
    );
    // Without leeway, exp itself is already too late.
    let strict = JwtCodec::new(shared_keys(), ISSUER, Duration::zero());
    assert_eq!(
        rejection(strict.verify_access(&token, claims.expires_at)),
        Expired
    );
    assert!(strict
        .verify_access(&token, claims.expires_at - Duration::seconds(1))
        .is_ok());
}

#[test]
fn a_token_is_not_accepted_before_nbf_minus_leeway() {
    let claims = refresh_claims(true);
    let token = codec().sign_refresh(&claims).unwrap();
    let leeway = Duration::seconds(LEEWAY_SECS);
    assert!(codec()
        .verify_refresh(&token, claims.issued_at - leeway)
        .is_ok());
    assert_eq!(
        rejection(codec().verify_refresh(&token, claims.issued_at - leeway - Duration::seconds(1))),
        NotYetValid
    );
}

#[test]
fn a_huge_leeway_neither_panics_nor_expires_anything() {
    let codec = JwtCodec::new(shared_keys(), ISSUER, Duration::MAX);
    let token = codec.sign_refresh(&refresh_claims(true)).unwrap();
    assert!(codec
        .verify_refresh(&token, t0() + Duration::days(365 * 100))
        .is_ok());
    let negative = JwtCodec::new(shared_keys(), ISSUER, Duration::seconds(-60));
    assert!(negative.verify_refresh(&token, t0()).is_ok());
}

#[test]
fn garbage_is_malformed_without_panicking() {
    let valid = codec().sign_refresh(&refresh_claims(true)).unwrap();
    let huge = format!(
        "{}.{}.{}",
        "a".repeat(4000),
        "b".repeat(4000),
        "c".repeat(4000)
    );
    let cases: Vec<String> = vec![
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        "abc".into(),
        "abc.def".into(),
        "a.b.c.d".into(),
        "!!!.???.***".into(),
        "eyJ.eyJ.sig=".into(),
        "é.é.é".into(),
        "eyJhbGciOiJSUzUxMiJ9 .e.e".into(),
        format!("{valid}."),
        format!("{valid}.{valid}"),
        format!("{valid}\n"),
        valid.replacen('.', "..", 1),
        huge,
        // Valid base64url, not JSON.
        format!("{}.e30.AAAA", URL_SAFE_NO_PAD.encode("not json")),
        // A header of length 1 mod 4: no valid base64.
        "a.e30.AAAA".into(),
        // Non-canonical trailing bits ("QR" decodes like "QQ").
        format!("eyJhbGciOiJSUzUxMiJ9QR.e30.AAAA"),
    ];
    for token in &cases {
        assert_eq!(refresh_rejection(token), Malformed, "{token:.80}");
        assert_eq!(access_rejection(token), Malformed, "{token:.80}");
    }
}

#[test]
fn a_token_over_the_size_cap_is_malformed_even_when_well_signed() {
    let mut claims = refresh_claims(true);
    claims.unique_name = "n".repeat(JwtCodec::MAX_TOKEN_BYTES);
    let token = codec().sign_refresh(&claims).unwrap();
    assert_eq!(refresh_rejection(&token), Malformed);
}

#[test]
fn missing_or_mistyped_claims_are_malformed() {
    type Edit = Box<dyn Fn(&mut serde_json::Map<String, serde_json::Value>)>;
    let set = |k: &'static str, v: serde_json::Value| -> Edit {
        Box::new(move |m| {
            m.insert(k.into(), v.clone());
        })
    };
    let remove = |k: &'static str| -> Edit {
        Box::new(move |m| {
            m.remove(k);
        })
    };
    use serde_json::json;
    let iat = t0().timestamp();
    let edits: Vec<(&str, Edit)> = vec![
        ("no token_id", remove("token_id")),
        ("token_id not a uuid", set("token_id", json!("not-a-uuid"))),
        (
            "token_id simple form",
            set("token_id", json!("44444444444444448444444444444444")),
        ),
        (
            "token_id braced",
            set("token_id", json!("{44444444-4444-4444-8444-444444444444}")),
        ),
        ("token_id a number", set("token_id", json!(4))),
        ("sub not a uuid", set("sub", json!("administrator"))),
        ("no sub", remove("sub")),
        (
            "short_term lowercase",
            set("short_term_expiration", json!("true")),
        ),
        (
            "short_term a bool",
            set("short_term_expiration", json!(true)),
        ),
        ("no short_term", remove("short_term_expiration")),
        ("no unique_name", remove("unique_name")),
        ("unique_name a number", set("unique_name", json!(7))),
        ("no exp", remove("exp")),
        ("exp a string", set("exp", json!((iat + 60).to_string()))),
        ("exp fractional", set("exp", json!(iat as f64 + 60.5))),
        ("no nbf", remove("nbf")),
        ("no iat", remove("iat")),
        ("iat != nbf", set("iat", json!(iat - 1))),
        ("exp out of range", set("exp", json!(i64::MAX))),
    ];
    for (what, edit) in edits {
        let token = signed_by_us(&refresh_payload_with(|m| edit(m)));
        assert_eq!(refresh_rejection(&token), Malformed, "{what}");
    }
    for payload in ["[]", "null", "\"x\"", "{", ""] {
        assert_eq!(
            refresh_rejection(&signed_by_us(payload)),
            Malformed,
            "{payload}"
        );
    }
    // The access token's own uuids are checked too.
    let access = codec().sign_access(&access_claims()).unwrap();
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&segment(&access, 1)).unwrap();
    map.insert("sid".into(), json!("nope"));
    assert_eq!(
        access_rejection(&signed_by_us(&serde_json::to_string(&map).unwrap())),
        Malformed
    );
}

#[test]
fn the_first_failed_check_is_the_one_reported() {
    // Wrong audience and issuer, expired, unsigned: the algorithm is checked first.
    let claims = access_claims();
    let token = codec().sign_access(&claims).unwrap();
    let late = claims.expires_at + Duration::days(1);
    let unsigned = forge(
        &header("none", shared_keys().signing_kid()),
        &String::from_utf8(segment(&token, 1)).unwrap(),
        |_| Vec::new(),
    );
    assert_eq!(
        rejection(codec().verify_refresh(&unsigned, late)),
        Algorithm
    );
    // Signed, but wrong audience and expired: audience first.
    assert_eq!(rejection(codec().verify_refresh(&token, late)), Audience);
    // Right audience, wrong issuer and expired: issuer first.
    let elsewhere = JwtCodec::new(shared_keys(), "https://other.example", Duration::zero());
    assert_eq!(rejection(elsewhere.verify_access(&token, late)), Issuer);
}

#[test]
fn debug_output_holds_no_key_material() {
    let shown = format!("{:?} {:?}", codec(), shared_keys());
    assert!(shown.contains(shared_keys().signing_kid()), "{shown}");
    for secret_marker in ["BEGIN", "PRIVATE", "MII"] {
        assert!(!shown.contains(secret_marker), "{shown}");
    }
    assert!(shown.len() < 400, "{shown}");
}
