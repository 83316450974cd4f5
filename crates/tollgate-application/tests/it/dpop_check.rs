//! `DpopCheck`: a proof is verified at the clock's instant, then remembered; a replay or a bad
//! proof is refused, and a bad proof costs no replay-cache write.

// Fixtures may panic like tests do.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::Duration;
use mockall::predicate::eq;
use tollgate_application::{
    DpopCheck, DpopPorts, DpopProof, Error, MockClock, MockDpopNonces, MockDpopReplayCache,
    MockDpopVerifier,
};
use tollgate_domain::{AccessClaims, DpopRejection, Jkt, TokenRejection};

use crate::common::now;

const PROOF: &str = "header.claims.signature";
const PATH: &str = "/api/oauth2/token";

fn accepted() -> DpopProof {
    DpopProof {
        jkt: Jkt::parse(&"k".repeat(43)).unwrap(),
        jti: "jti-1".into(),
        iat: now(),
        expires_at: now() + Duration::seconds(65),
        nonce: None,
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

/// A replay cache asked exactly once, answering `outcome`.
fn replay_once(outcome: fn() -> Result<bool, Error>) -> MockDpopReplayCache {
    let mut replay = MockDpopReplayCache::new();
    replay
        .expect_remember()
        .times(1)
        .returning(move |_, _, _| outcome());
    replay
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
    let result =
        check(verifier_accepting(), replay_once(|| Ok(false))).check(PROOF, "POST", PATH, None);

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
    let result = check(
        verifier_accepting(),
        replay_once(|| Err(Error::Unavailable("down".into()))),
    )
    .check(PROOF, "POST", PATH, None);

    assert!(matches!(result, Err(Error::Unavailable(_))));
}

fn with_nonce(nonce: Option<&str>) -> MockDpopVerifier {
    let nonce = nonce.map(str::to_owned);
    let mut verifier = MockDpopVerifier::new();
    verifier
        .expect_verify()
        .times(1)
        .returning(move |_, _, _, _, _| {
            Ok(DpopProof {
                nonce: nonce.clone(),
                ..accepted()
            })
        });
    verifier
}

/// Nonces that accept only "good" at the clock's instant and hand out "next".
fn nonces() -> MockDpopNonces {
    let mut nonces = MockDpopNonces::new();
    nonces
        .expect_accepts()
        .returning(|nonce, at| nonce == "good" && at == now());
    nonces
        .expect_current()
        .with(eq(now()))
        .returning(|_| Ok("next".into()));
    nonces
}

#[test]
fn with_nonces_a_proof_without_a_current_one_is_answered_with_a_new_one_and_not_remembered() {
    for presented in [None, Some("stale")] {
        let mut replay = MockDpopReplayCache::new();
        replay.expect_remember().never();
        let result = check(with_nonce(presented), replay)
            .require_nonces(Arc::new(nonces()))
            .check(PROOF, "POST", PATH, None);
        assert!(
            matches!(&result, Err(Error::UseDpopNonce { nonce }) if nonce == "next"),
            "{presented:?}: {result:?}"
        );
    }
}

#[test]
fn with_nonces_a_proof_with_the_current_one_is_remembered_and_accepted() {
    let dpop = check(with_nonce(Some("good")), replay_once(|| Ok(true)))
        .require_nonces(Arc::new(nonces()));
    assert!(dpop.check(PROOF, "POST", PATH, None).is_ok());
    assert_eq!(dpop.current_nonce().unwrap().as_deref(), Some("next"));
}

#[test]
fn without_nonces_a_nonce_is_neither_needed_nor_handed_out() {
    let mut replay = MockDpopReplayCache::new();
    replay.expect_remember().returning(|_, _, _| Ok(true));
    let dpop = check(with_nonce(None), replay);
    assert!(dpop.check(PROOF, "POST", PATH, None).is_ok());
    assert_eq!(dpop.current_nonce().unwrap(), None);
}

const TOKEN: &str = "access.token.here";

fn claims(bound: Option<Jkt>) -> AccessClaims {
    let s = crate::common::session();
    AccessClaims {
        cnf_jkt: bound,
        ..crate::common::access_claims_for(&s.family, &s.record)
    }
}

fn verifier_for_resource() -> MockDpopVerifier {
    let mut verifier = MockDpopVerifier::new();
    verifier
        .expect_verify()
        .withf(|proof, method, path, token, at| {
            proof == PROOF
                && method == "GET"
                && path == "/api/users/me"
                && *token == Some(TOKEN)
                && *at == now()
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(accepted()));
    verifier
}

#[test]
fn a_bound_token_with_a_proof_by_its_key_and_of_its_hash_is_accepted() {
    let result = check(verifier_for_resource(), replay_once(|| Ok(true))).check_presented(
        &claims(Some(accepted().jkt)),
        TOKEN,
        PROOF,
        "GET",
        "/api/users/me",
    );
    assert_eq!(result.unwrap(), accepted());
}

#[test]
fn a_bound_token_with_a_proof_by_another_key_is_refused() {
    let other = Jkt::parse(&"o".repeat(43)).unwrap();
    let result = check(verifier_for_resource(), replay_once(|| Ok(true))).check_presented(
        &claims(Some(other)),
        TOKEN,
        PROOF,
        "GET",
        "/api/users/me",
    );
    assert!(matches!(
        result,
        Err(Error::InvalidDpopProof(DpopRejection::KeyMismatch))
    ));
}

#[test]
fn an_unbound_token_under_the_dpop_scheme_is_refused_before_the_proof_is_looked_at() {
    let mut verifier = MockDpopVerifier::new();
    verifier.expect_verify().never();
    let mut replay = MockDpopReplayCache::new();
    replay.expect_remember().never();
    let result = check(verifier, replay).check_presented(
        &claims(None),
        TOKEN,
        PROOF,
        "GET",
        "/api/users/me",
    );
    assert!(matches!(
        result,
        Err(Error::InvalidToken(TokenRejection::SchemeMismatch))
    ));
}
