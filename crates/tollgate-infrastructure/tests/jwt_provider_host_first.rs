//! The `jsonwebtoken` provider rule (docs/ARCHITECTURE.md, "JWT layer"), in a process whose host
//! installed its own provider before Tollgate: Tollgate keeps it, verifies through it, and never
//! panics.
//!
//! Its own test binary, so its own process: the provider is process-wide. That is why this file
//! stays outside the package's single `tests/it` binary, where another test would install a
//! provider first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{Duration, TimeZone as _, Utc};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use tollgate_application::{Error as AppError, TokenSigner as _, TokenVerifier as _};
use tollgate_domain::{AccessClaims, AccessTokenId, FamilyId, TokenRejection, UserId};
use tollgate_infrastructure::jwt::{JwtCodec, KeySet, OPENSSL_PROVIDER};
use uuid::Uuid;

static VERIFIERS_MADE: AtomicUsize = AtomicUsize::new(0);

fn host_signer(
    alg: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    (OPENSSL_PROVIDER.signer_factory)(alg, key)
}

/// Stands for any other backend (`rust_crypto`, `aws_lc_rs`, the host's own): it counts, then
/// does the work.
fn host_verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    VERIFIERS_MADE.fetch_add(1, Ordering::SeqCst);
    (OPENSSL_PROVIDER.verifier_factory)(alg, key)
}

static HOST: CryptoProvider = CryptoProvider {
    signer_factory: host_signer,
    verifier_factory: host_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

#[test]
fn a_host_provider_installed_first_stays_and_tollgate_verifies_through_it() {
    HOST.install_default().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(KeySet::load_or_generate(&dir.path().join("keys")).unwrap());
    let codec = JwtCodec::new(keys, "https://auth.example", Duration::seconds(30));
    assert!(std::ptr::eq(
        CryptoProvider::try_get_default().unwrap(),
        &HOST
    ));

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
    assert!(VERIFIERS_MADE.load(Ordering::SeqCst) >= 1);

    // Still strict: a tampered token is refused.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = if parts[2].starts_with('A') { "B" } else { "A" }.to_owned() + &parts[2][1..];
    assert!(matches!(
        codec.verify_access(&parts.join("."), now),
        Err(AppError::InvalidToken(TokenRejection::Signature))
    ));
}
