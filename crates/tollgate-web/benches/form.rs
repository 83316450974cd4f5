//! The token endpoint's form parser, per dialect: its share of a refresh's CPU.
//!
//! `cargo bench -p tollgate-web --bench form`.
#![allow(missing_docs, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tollgate_web::parse_token_request;

/// A refresh token of the real size (RS512: about 600 characters).
fn token() -> String {
    format!(
        "eyJhbGciOiJSUzUxMiJ9.{}.{}",
        "a".repeat(250),
        "b".repeat(342)
    )
}

fn form(c: &mut Criterion) {
    let token = token();
    let bodies = [
        (
            "product refresh",
            format!("grantType=RefreshToken&refreshToken={token}"),
        ),
        (
            "rfc refresh",
            format!("grant_type=refresh_token&refresh_token={token}&client_id=app"),
        ),
        (
            "product login",
            "grantType=Password&userName=administrator&password=Pass%20word%2F1".to_owned(),
        ),
    ];
    let mut group = c.benchmark_group("form");
    group.throughput(Throughput::Elements(1));
    for (name, body) in &bodies {
        group.bench_function(*name, |b| {
            b.iter(|| parse_token_request(black_box(body.as_bytes())).expect("valid form"));
        });
    }
    group.finish();
}

criterion_group!(benches, form);
criterion_main!(benches);
