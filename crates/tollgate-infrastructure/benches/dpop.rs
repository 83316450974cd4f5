//! What a DPoP refresh adds to a bearer one, part by part: the proof check alone
//! (`ProofVerifier::verify` of an ES256 and an EdDSA proof: header screening, JWK parsing, the
//! signature, the claims, the key thumbprint; no replay cache) and the replay cache's insert alone
//! on SQLite (and PostgreSQL when `TOLLGATE_TEST_POSTGRES_URL` is set), through the store the
//! server uses (`Database::dpop_replay_cache`, pool and SQLite writer lock included), and for
//! PostgreSQL the same insert on a bare diesel connection beside it.
//!
//! For ES256, two lower layers of the same proof, to see where the check's time goes:
//! `jsonwebtoken` alone (`decode_header`, `DecodingKey::from_jwk`, `decode` through the OpenSSL
//! provider: key import, signature, claims) and OpenSSL alone (the key made from the JWK's
//! point, then one ECDSA verification of the signing input's digest).
//!
//! `cargo bench -p tollgate-infrastructure --bench dpop`. Compare the sum with a bearer refresh
//! (`refresh_use_case`, `storage_bound`) and with the load tool's `--dpop` runs (BENCHMARKS.md).
// A benchmark that cannot set itself up should stop at once and say why.
#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone as _, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use tollgate_application::{DpopReplayCache, DpopVerifier};
use tollgate_domain::Jkt;
use tollgate_infrastructure::db::{Database, PoolOptions};
use tollgate_infrastructure::dpop::ProofVerifier;
use tollgate_infrastructure::testing::{DpopKey, TestDatabase};
use uuid::Uuid;

const ISSUER: &str = "https://auth.example.com";
const TOKEN_PATH: &str = "/api/oauth2/token";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0)
        .single()
        .expect("valid instant")
}

/// A proof for `POST` to the token endpoint, made at [`now`] with a fresh key, by the test client
/// (`testing::DpopKey`, signing through OpenSSL).
fn proof_by(key: &DpopKey) -> String {
    key.proof("POST", &format!("{ISSUER}{TOKEN_PATH}"), now())
        .sign()
}

fn es256_proof() -> String {
    proof_by(&DpopKey::es256())
}

fn eddsa_proof() -> String {
    proof_by(&DpopKey::eddsa())
}

fn verify(c: &mut Criterion) {
    let verifier =
        ProofVerifier::new(ISSUER, Duration::seconds(60), Duration::seconds(5)).expect("verifier");
    let mut group = c.benchmark_group("dpop");
    group.throughput(Throughput::Elements(1));
    for (name, proof) in [("ES256", es256_proof()), ("EdDSA", eddsa_proof())] {
        // A proof that does not verify would make the number meaningless.
        verifier
            .verify(&proof, "POST", TOKEN_PATH, None, now())
            .expect("the proof verifies");
        group.bench_function(format!("verify {name} proof"), |b| {
            b.iter(|| {
                verifier
                    .verify(black_box(&proof), "POST", TOKEN_PATH, None, now())
                    .expect("verifies")
            });
        });
    }
    ecdsa_layers(&mut group, &es256_proof());
    group.finish();
}

/// The ES256 proof's check one and two layers down: `jsonwebtoken`, then OpenSSL alone.
fn ecdsa_layers(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    proof: &str,
) {
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.set_required_spec_claims::<&str>(&[]);
    group.bench_function("ES256 layer: jsonwebtoken header+from_jwk+decode", |b| {
        b.iter(|| {
            let header = jsonwebtoken::decode_header(black_box(proof)).expect("header");
            let key = DecodingKey::from_jwk(header.jwk.as_ref().expect("jwk")).expect("key");
            jsonwebtoken::decode::<serde_json::Value>(proof, &key, &validation).expect("decode")
        });
    });
    let header = jsonwebtoken::decode_header(proof).expect("header");
    let jwk = serde_json::to_value(header.jwk.expect("jwk")).expect("jwk json");
    let coordinate = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().expect("coordinate"))
            .expect("base64")
    };
    let mut point = vec![4_u8];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));
    let (input, signature) = proof.rsplit_once('.').expect("JWS");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64");
    let signature = EcdsaSig::from_private_components(
        BigNum::from_slice(&signature[..32]).expect("r"),
        BigNum::from_slice(&signature[32..]).expect("s"),
    )
    .expect("signature");
    group.bench_function("ES256 layer: openssl key from point+verify", |b| {
        b.iter(|| {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
            let mut ctx = BigNumContext::new().expect("ctx");
            let point = EcPoint::from_bytes(&group, black_box(&point), &mut ctx).expect("point");
            let key = EcKey::from_public_key(&group, &point).expect("key");
            let digest = openssl::sha::sha256(input.as_bytes());
            assert!(signature.verify(&digest, &key).expect("verify"));
        });
    });
}

/// The replay cache's insert alone: one new (`jkt`, `jti`) per iteration, as every accepted
/// proof writes; then, for PostgreSQL, the same `INSERT … ON CONFLICT DO NOTHING` in a
/// transaction on one bare diesel connection (no pool), as `storage_bound` measures a rotation,
/// so the two can be compared.
fn replay_cache(c: &mut Criterion) {
    let mut databases = vec![("sqlite", TestDatabase::sqlite())];
    if let Some(pg) = TestDatabase::postgres() {
        databases.push(("postgres", pg));
    }
    let jkt = Jkt::parse(&"k".repeat(43)).expect("thumbprint");
    let mut group = c.benchmark_group("dpop");
    group.throughput(Throughput::Elements(1));
    for (name, db) in &databases {
        let database = Database::connect(db.url(), &PoolOptions::default()).expect("connect");
        let cache = database.dpop_replay_cache();
        group.bench_function(format!("replay-cache insert {name}"), |b| {
            b.iter(|| {
                let jti = Uuid::new_v4().to_string();
                let fresh = cache
                    .remember(&jkt, &jti, now() + Duration::seconds(65))
                    .expect("insert");
                assert!(fresh, "a new jti is remembered");
            });
        });
        if *name == "postgres" {
            bare_postgres_insert(&mut group, db.url());
        }
    }
    group.finish();
}

fn bare_postgres_insert(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    url: &str,
) {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    let mut conn = PgConnection::establish(url).expect("connect");
    group.bench_function("replay-cache insert postgres, bare diesel", |b| {
        b.iter(|| {
            let digest = Uuid::new_v4().simple().to_string();
            let inserted = conn
                .transaction::<_, diesel::result::Error, _>(|conn| {
                    diesel::sql_query(
                        "INSERT INTO dpop_proofs (proof_digest, expires_at) \
                         VALUES ($1, now() + interval '65 seconds') ON CONFLICT DO NOTHING",
                    )
                    .bind::<Text, _>(&digest)
                    .execute(conn)
                })
                .expect("insert");
            assert_eq!(inserted, 1);
        });
    });
}

criterion_group!(benches, verify, replay_cache);
criterion_main!(benches);
