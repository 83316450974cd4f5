//! Token verification (API.md §2, RFC 8725) on hostile input. Two shapes per input: the raw bytes
//! as a compact token, and the input split at the first `0xFF` into a header and a payload that
//! are base64url-encoded and joined to a real signature, so that header and claim parsing are
//! reached (`$kid` in the header is replaced by our signing key's kid). Nothing may panic and nothing forged may verify.
#![no_main]

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use libfuzzer_sys::fuzz_target;
use tollgate_application::TokenVerifier;
use tollgate_infrastructure::jwt::{JwtCodec, KeySet};

struct Fixture {
    codec: JwtCodec,
    kid: String,
    signature: String,
    now: DateTime<Utc>,
    _dir: std::path::PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tollgate-fuzz-keys-{}", std::process::id()));
        let keys = Arc::new(KeySet::load_or_generate(&dir).expect("key set"));
        let kid = keys.signing_kid().to_owned();
        let codec = JwtCodec::new(keys, "https://tollgate.fuzz", Duration::seconds(30));
        // Any signature of the right length: the forged header/payload must still be refused.
        let signature = URL_SAFE_NO_PAD.encode([7u8; 256]);
        Fixture {
            codec,
            kid,
            signature,
            now: DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let raw = String::from_utf8_lossy(data);
    assert!(f.codec.verify_access(&raw, f.now).is_err());
    assert!(f.codec.verify_refresh(&raw, f.now).is_err());

    let (header, payload) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"{}"[..]),
    };
    // `$kid` in the header stands for our signing key's kid, so the fuzzer gets past the key
    // lookup to the signature and claims checks.
    let header = String::from_utf8_lossy(header).replace("$kid", &f.kid);
    let forged = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.as_bytes()),
        URL_SAFE_NO_PAD.encode(payload),
        f.signature
    );
    assert!(f.codec.verify_access(&forged, f.now).is_err());
    assert!(f.codec.verify_refresh(&forged, f.now).is_err());
});
