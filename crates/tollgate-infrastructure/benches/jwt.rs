//! JWT signing and verification speed per algorithm (RS512 with RSA-2048, ES256, EdDSA), one
//! thread.
//!
//! `cargo bench -p tollgate-infrastructure --bench jwt`. Each login or refresh signs one pair
//! (`sign_refresh+sign_access`); each refresh also verifies one refresh token. The RS512 group
//! keeps its old name (`jwt/…`) so results compare with earlier runs; compare each with
//! `openssl speed rsa2048 ecdsap256 ed25519` in the same run.
// A benchmark that cannot set itself up should stop at once and say why.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use chrono::{Duration, TimeZone as _, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tollgate_application::{TokenSigner as _, TokenVerifier as _};
use tollgate_domain::{AccessClaims, AccessTokenId, FamilyId, RefreshClaims, TokenId, UserId};
use tollgate_infrastructure::jwt::{JwtCodec, KeySet, SigningAlgorithm};
use uuid::Uuid;

fn jwt(c: &mut Criterion) {
    for algorithm in SigningAlgorithm::ALL {
        bench_algorithm(c, algorithm);
    }
}

fn bench_algorithm(c: &mut Criterion, algorithm: SigningAlgorithm) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let keys = KeySet::load_or_generate_with(&dir.path().join("keys"), algorithm).expect("key set");
    let codec = JwtCodec::new(
        Arc::new(keys),
        "https://auth.example",
        Duration::seconds(30),
    );
    let now = Utc
        .with_ymd_and_hms(2026, 11, 30, 10, 15, 0)
        .single()
        .expect("valid instant");
    let user = UserId::from_uuid(Uuid::new_v4());
    let refresh = RefreshClaims {
        unique_name: "administrator".into(),
        token_id: TokenId::from_uuid(Uuid::new_v4()),
        short_term: true,
        sub: user,
        issued_at: now,
        expires_at: now + Duration::hours(24),
        issuer: "https://auth.example".into(),
    };
    let access = AccessClaims {
        cnf_jkt: None,
        unique_name: "administrator".into(),
        sub: user,
        sid: FamilyId::from_uuid(Uuid::new_v4()),
        jti: AccessTokenId::from_uuid(Uuid::new_v4()),
        issued_at: now,
        expires_at: now + Duration::minutes(15),
        issuer: "https://auth.example".into(),
    };
    let refresh_token = codec.sign_refresh(&refresh).expect("sign");
    let access_token = codec.sign_access(&access).expect("sign");

    let name = match algorithm {
        SigningAlgorithm::Rs512 => "jwt".to_owned(),
        other => format!("jwt-{other}"),
    };
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign_refresh+sign_access", |b| {
        b.iter(|| {
            let r = codec.sign_refresh(black_box(&refresh)).expect("sign");
            let a = codec.sign_access(black_box(&access)).expect("sign");
            (r, a)
        });
    });
    group.bench_function("verify_refresh", |b| {
        b.iter(|| {
            codec
                .verify_refresh(black_box(&refresh_token), now)
                .expect("valid")
        });
    });
    group.bench_function("verify_access", |b| {
        b.iter(|| {
            codec
                .verify_access(black_box(&access_token), now)
                .expect("valid")
        });
    });
    group.finish();
}

criterion_group!(benches, jwt);
criterion_main!(benches);
