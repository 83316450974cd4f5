//! JWT signing and verification speed per algorithm (one thread).
//!
//! `cargo bench -p tollgate-infrastructure --bench jwt`. Each login or refresh signs one pair
//! (`sign_refresh+sign_access`); each refresh also verifies one refresh token. Benchmarks are
//! named `jwt/<ALG>/…`; adding an algorithm is one line in [`ALGORITHMS`].
// A benchmark that cannot set itself up should stop at once and say why.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, TimeZone as _, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tollgate_application::{TokenSigner as _, TokenVerifier as _};
use tollgate_domain::{AccessClaims, AccessTokenId, FamilyId, RefreshClaims, TokenId, UserId};
use tollgate_infrastructure::jwt::{JwtCodec, KeySet};
use uuid::Uuid;

type MakeKeys = fn(&Path) -> KeySet;

/// Each algorithm's name and how to make a key set in a fresh directory that signs with it.
const ALGORITHMS: &[(&str, MakeKeys)] = &[("RS512", |dir| {
    KeySet::load_or_generate(dir).expect("key set")
})];

fn jwt(c: &mut Criterion) {
    for (name, make_keys) in ALGORITHMS {
        let dir = tempfile::tempdir().expect("temporary directory");
        algorithm(c, name, make_keys(&dir.path().join("keys")));
    }
}

fn algorithm(c: &mut Criterion, name: &str, keys: KeySet) {
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

    let mut group = c.benchmark_group(format!("jwt/{name}"));
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
