//! The HTTP Basic client-credentials parser (RFC 6749 §2.3.1) on arbitrary header bytes: it must
//! never panic, refuse with `invalid_client` only, and never yield an empty part.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &[u8]| {
    match tollgate_web::parse_basic(value) {
        Ok(credentials) => {
            assert!(credentials.id.as_deref().is_none_or(|v| !v.is_empty()));
            assert!(credentials.secret.as_deref().is_none_or(|v| !v.is_empty()));
        }
        Err(e) => assert_eq!(e.code(), "invalid_client"),
    }
});
