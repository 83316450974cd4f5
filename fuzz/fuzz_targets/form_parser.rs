//! The token endpoint's form parser (both dialects, API.md §1) on arbitrary bytes: it must never
//! panic, and whatever it accepts must hold only non-empty, UTF-8, decoded values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_web::{Grant, TokenRequest};

fuzz_target!(|body: &[u8]| {
    let Ok(request) = TokenRequest::parse(body) else {
        return;
    };
    match &request.grant {
        Grant::Password { user_name, .. } => assert!(!user_name.is_empty()),
        Grant::RefreshToken { refresh_token } => assert!(!refresh_token.is_empty()),
    }
    assert!(request.client_id.as_deref().is_none_or(|v| !v.is_empty()));
    assert!(request
        .client_secret
        .as_deref()
        .is_none_or(|v| !v.is_empty()));
});
