//! The `jsonwebtoken` provider rule (docs/ARCHITECTURE.md, "JWT layer"), in a process where
//! nothing installed a provider before Tollgate: Tollgate's OpenSSL provider becomes the
//! default, and a host installing one later is refused without a panic.
//!
//! Its own test binary, so its own process: the provider is process-wide. That is why this file
//! stays outside the package's single `tests/it` binary, where another test would install a
//! provider first.

use std::sync::Arc;

use chrono::{Duration, TimeZone as _, Utc};
use jsonwebtoken::crypto::{CryptoProvider, KeyUtils};
use tollgate_application::{TokenSigner as _, TokenVerifier as _};
use tollgate_domain::{AccessClaims, AccessTokenId, FamilyId, UserId};
use tollgate_infrastructure::jwt::{JwtCodec, KeySet, OPENSSL_PROVIDER};
use uuid::Uuid;

/// A provider a host might install; never used here, since Tollgate's came first.
static HOST: CryptoProvider = CryptoProvider {
    signer_factory: |_, _| Err(jsonwebtoken::errors::ErrorKind::Provider("host".into()).into()),
    verifier_factory: |_, _| Err(jsonwebtoken::errors::ErrorKind::Provider("host".into()).into()),
    key_utils: KeyUtils::new_unimplemented(),
};

#[test]
fn with_no_provider_installed_tollgate_installs_its_openssl_provider() {
    // No built-in backend is compiled in, so the process starts without a provider.
    assert!(CryptoProvider::try_get_default().is_none());

    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(KeySet::load_or_generate(&dir.path().join("keys")).unwrap());
    let codec = JwtCodec::new(keys, "https://auth.example", Duration::seconds(30));
    let installed = CryptoProvider::try_get_default().expect("a provider after building a codec");
    assert!(std::ptr::eq(installed, &OPENSSL_PROVIDER));

    // A host that comes later is told so (the first installed wins), and nothing panics.
    assert!(HOST.install_default().is_err());
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 10, 15, 0).unwrap();
    let claims = AccessClaims {
        cnf_jkt: None,
        unique_name: "administrator".into(),
        sub: UserId::from_uuid(Uuid::new_v4()),
        sid: FamilyId::from_uuid(Uuid::new_v4()),
        jti: AccessTokenId::from_uuid(Uuid::new_v4()),
        issued_at: now,
        expires_at: now + Duration::seconds(900),
        issuer: "https://auth.example".into(),
    };
    let token = codec.sign_access(&claims).unwrap();
    assert_eq!(codec.verify_access(&token, now).unwrap(), claims);
}
