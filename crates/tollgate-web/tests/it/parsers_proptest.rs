//! Property tests of the two hand-written parsers that face attackers first: the token form
//! (API.md §1) and HTTP Basic client credentials (RFC 6749 §2.3.1). Few cases by default so the
//! suite stays quick; `PROPTEST_CASES=100000` for a long run (the fuzzers go further: see
//! docs/SECURITY.md).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use proptest::prelude::*;
use tollgate_web::{parse_basic, Grant, TokenRequest};

/// Percent-encodes every byte but unreserved characters, as a careful client would.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Randomly upper/lower-cases ASCII letters: names are case-insensitive.
fn recase(name: &str, mask: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_form_parser_never_panics_and_refuses_only_with_documented_codes(
        body in proptest::collection::vec(any::<u8>(), 0..512)
    ) {
        if let Err(e) = TokenRequest::parse(&body) {
            prop_assert!(matches!(e.code(), "invalid_request" | "unsupported_grant_type"));
        }
    }

    #[test]
    fn form_like_noise_never_panics(
        body in "([a-zA-Z_%0-9]{0,12}(=[a-zA-Z%0-9+]{0,12})?&){0,20}"
    ) {
        let _ = TokenRequest::parse(body.as_bytes());
    }

    #[test]
    fn any_login_round_trips_in_either_dialect_among_unknown_parameters(
        user in "[^\\x00-\\x1f\\x7f]{1,64}",
        password in "\\PC{1,64}",
        product in any::<bool>(),
        mask in any::<u64>(),
        noise in proptest::collection::vec(("[a-z]{1,8}", "[a-z0-9]{0,8}"), 0..5),
    ) {
        prop_assume!(!user.trim().is_empty());
        let (grant, name) = if product { ("grantType", "userName") } else { ("grant_type", "username") };
        let mut pairs = vec![
            format!("{}={}", recase(grant, mask), recase("password", mask >> 7)),
            format!("{}={}", recase(name, mask >> 13), encode(&user)),
            format!("{}={}", recase("password", mask >> 29), encode(&password)),
        ];
        for (k, v) in &noise {
            // Only names the parser does not know: a known one would be a (refused) repeat.
            if !["password", "username", "granttype", "grant_type", "refreshtoken", "refresh_token",
                 "longlivedrefreshtoken", "client_id", "client_secret"].contains(&k.as_str()) {
                pairs.push(format!("x{k}={v}"));
            }
        }
        pairs.rotate_left((mask % 3) as usize);
        let parsed = TokenRequest::parse(pairs.join("&").as_bytes()).unwrap();
        match parsed.grant {
            Grant::Password { user_name, password: p, long_lived } => {
                prop_assert_eq!(user_name, user);
                prop_assert_eq!(p.expose(), password.as_str());
                prop_assert!(!long_lived);
            }
            Grant::RefreshToken { .. } => prop_assert!(false, "wrong grant"),
        }
    }

    #[test]
    fn a_known_parameter_given_twice_is_always_invalid_request(
        first in "[a-z0-9]{1,10}",
        second in "[a-z0-9]{1,10}",
        which in 0usize..4,
    ) {
        let names = [("refreshToken", "refresh_token"), ("client_id", "client_id"),
                     ("client_secret", "client_secret"), ("grantType", "grant_type")];
        let (a, b) = names[which];
        let body = format!("grant_type=refresh_token&refresh_token=t&{a}={first}&{b}={second}");
        prop_assert_eq!(TokenRequest::parse(body.as_bytes()).unwrap_err().code(), "invalid_request");
    }

    #[test]
    fn the_basic_parser_never_panics_and_refuses_only_with_invalid_client(
        value in proptest::collection::vec(any::<u8>(), 0..256)
    ) {
        if let Err(e) = parse_basic(&value) {
            prop_assert_eq!(e.code(), "invalid_client");
        }
    }

    #[test]
    fn basic_credentials_round_trip(
        id in "\\PC{1,40}",
        secret in "\\PC{1,60}",
        scheme_mask in any::<u64>(),
    ) {
        let value = format!(
            "{} {}",
            recase("basic", scheme_mask),
            STANDARD.encode(format!("{}:{}", encode(&id), encode(&secret)))
        );
        let parsed = parse_basic(value.as_bytes()).unwrap();
        prop_assert_eq!(parsed.id.as_deref(), Some(id.as_str()));
        prop_assert_eq!(parsed.secret.as_deref(), Some(secret.as_str()));
    }

    #[test]
    fn basic_without_a_raw_colon_is_refused(raw in "[^:]{0,64}") {
        let value = format!("Basic {}", STANDARD.encode(raw));
        prop_assert_eq!(parse_basic(value.as_bytes()).unwrap_err().code(), "invalid_client");
    }
}
