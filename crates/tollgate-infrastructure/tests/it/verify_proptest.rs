//! Property tests of token verification through the public `JwtCodec` / `TokenVerifier` API:
//! no input panics, nothing but a token we signed verifies, and any change to one of ours
//! (a flipped character, a cut, an extra segment) is refused. Few cases by default; the
//! `token_verification` fuzzer goes further (docs/SECURITY.md).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use tollgate_application::{TokenSigner, TokenVerifier};
use tollgate_domain::{AccessClaims, AccessTokenId, FamilyId, UserId};
use tollgate_infrastructure::jwt::{JwtCodec, KeySet};
use uuid::Uuid;

const ISSUER: &str = "https://tollgate.test";

struct Fixture {
    codec: JwtCodec,
    token: String,
    now: DateTime<Utc>,
    _dir: tempfile::TempDir,
}

/// One key (RSA generation is slow) and one genuine access token for every case.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(KeySet::load_or_generate(&dir.path().join("keys")).unwrap());
        let codec = JwtCodec::new(keys, ISSUER, Duration::seconds(30));
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let token = codec
            .sign_access(&AccessClaims {
                cnf_jkt: None,
                unique_name: "alice".into(),
                sub: UserId::from_uuid(Uuid::from_u128(1)),
                sid: FamilyId::from_uuid(Uuid::from_u128(2)),
                jti: AccessTokenId::from_uuid(Uuid::from_u128(3)),
                issued_at: now,
                expires_at: now + Duration::minutes(15),
                issuer: ISSUER.into(),
            })
            .unwrap();
        assert!(codec.verify_access(&token, now).is_ok());
        Fixture {
            codec,
            token,
            now,
            _dir: dir,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_verifies(token in "\\PC{0,300}") {
        let f = fixture();
        prop_assert!(f.codec.verify_access(&token, f.now).is_err());
        prop_assert!(f.codec.verify_refresh(&token, f.now).is_err());
    }

    #[test]
    fn jwt_shaped_noise_never_verifies(token in "[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,400}") {
        let f = fixture();
        prop_assert!(f.codec.verify_access(&token, f.now).is_err());
    }

    #[test]
    fn any_changed_character_of_a_genuine_token_is_refused(
        at in any::<prop::sample::Index>(),
        replacement in "[A-Za-z0-9_.=+/ -]",
    ) {
        let f = fixture();
        let i = at.index(f.token.len());
        let mut forged = f.token.clone();
        prop_assume!(&forged[i..=i] != replacement.as_str());
        forged.replace_range(i..=i, &replacement);
        // Base64url's last character may carry unused bits; a change there can decode to the
        // same bytes, which is the same token, not a forgery.
        prop_assume!(!is_same_decoding(&f.token, &forged));
        prop_assert!(f.codec.verify_access(&forged, f.now).is_err(), "{forged}");
    }

    #[test]
    fn cut_or_extended_tokens_are_refused(cut in 1usize..400, tail in "[A-Za-z0-9_.-]{1,20}") {
        let f = fixture();
        let cut = cut.min(f.token.len());
        prop_assert!(f.codec.verify_access(&f.token[..f.token.len() - cut], f.now).is_err());
        let longer = format!("{}{tail}", f.token);
        prop_assert!(f.codec.verify_access(&longer, f.now).is_err());
    }
}

/// Whether two compact tokens decode to the same three byte strings.
fn is_same_decoding(a: &str, b: &str) -> bool {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let decode = |t: &str| -> Option<Vec<Vec<u8>>> {
        t.split('.')
            .map(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .collect()
    };
    matches!((decode(a), decode(b)), (Some(x), Some(y)) if x == y)
}
