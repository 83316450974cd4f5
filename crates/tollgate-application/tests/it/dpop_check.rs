//! `DpopCheck`: a proof is verified at the clock's instant, then remembered; a replay or a bad
//! proof is refused, and a bad proof costs no replay-cache write.

// Fixtures may panic like tests do.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::Duration;
use mockall::predicate::eq;
use tollgate_application::{
    DpopCheck, DpopPorts, DpopProof, Error, MockClock, MockDpopReplayCache, MockDpopVerifier,
};
use tollgate_domain::{DpopRejection, Jkt};

use crate::common::now;

const PROOF: &str = "header.claims.signature";
const PATH: &str = "/api/oauth2/token";

fn accepted() -> DpopProof {
    DpopProof {
        jkt: Jkt::parse(&"k".repeat(43)).unwrap(),
        jti: "jti-1".into(),
        iat: now(),
        expires_at: now() + Duration::seconds(65),
    }
}

fn check(verifier: MockDpopVerifier, replay: MockDpopReplayCache) -> DpopCheck {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    DpopCheck::new(DpopPorts {
        clock: Arc::new(clock),
        verifier: Arc::new(verifier),
        replay: Arc::new(replay),
    })
}

fn verifier_accepting() -> MockDpopVerifier {
    let mut verifier = MockDpopVerifier::new();
    verifier
        .expect_verify()
        .withf(|proof, method, path, token, at| {
            proof == PROOF && method == "POST" && path == PATH && token.is_none() && *at == now()
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(accepted()));
    verifier
}

#[test]
fn a_fresh_proof_is_verified_then_remembered_until_it_expires() {
    let mut replay = MockDpopReplayCache::new();
    let expected = accepted();
    replay
        .expect_remember()
        .with(
            eq(expected.jkt.clone()),
            eq(expected.jti.clone()),
            eq(expected.expires_at),
        )
        .times(1)
        .returning(|_, _, _| Ok(true));

    let result = check(verifier_accepting(), replay).check(PROOF, "POST", PATH, None);

    assert_eq!(result.unwrap(), expected);
}

#[test]
fn a_replayed_proof_is_refused() {
    let mut replay = MockDpopReplayCache::new();
    replay
        .expect_remember()
        .times(1)
        .returning(|_, _, _| Ok(false));

    let result = check(verifier_accepting(), replay).check(PROOF, "POST", PATH, None);

    assert!(matches!(
        result,
        Err(Error::InvalidDpopProof(DpopRejection::Replayed))
    ));
}

#[test]
fn a_bad_proof_is_refused_without_a_replay_cache_write() {
    let mut verifier = MockDpopVerifier::new();
    verifier
        .expect_verify()
        .times(1)
        .returning(|_, _, _, _, _| Err(Error::InvalidDpopProof(DpopRejection::Signature)));
    let mut replay = MockDpopReplayCache::new();
    replay.expect_remember().never();

    let result = check(verifier, replay).check(PROOF, "POST", PATH, None);

    assert!(matches!(
        result,
        Err(Error::InvalidDpopProof(DpopRejection::Signature))
    ));
}

#[test]
fn a_replay_cache_outage_is_passed_on() {
    let mut replay = MockDpopReplayCache::new();
    replay
        .expect_remember()
        .times(1)
        .returning(|_, _, _| Err(Error::Unavailable("down".into())));

    let result = check(verifier_accepting(), replay).check(PROOF, "POST", PATH, None);

    assert!(matches!(result, Err(Error::Unavailable(_))));
}
