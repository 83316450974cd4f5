//! Rotation: which key signs, when the others stop verifying, retirement on disk, the JWKS.

use std::fs;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use tollgate_application::{
    Error as AppError, PublicKeys as _, TokenSigner as _, TokenVerifier as _,
};
use tollgate_domain::{AccessClaims, TokenRejection};

use super::support::*;
use crate::jwt::key_dir::store_pair;
use crate::jwt::{JwtCodec, KeySet, KeyStatus};
use crate::InfraError;

/// The trust window the tests use: a day.
fn window() -> Duration {
    Duration::days(1)
}

/// Access claims issued a minute before `at`, so they are unexpired at `at`.
fn access_claims_at(at: DateTime<Utc>) -> AccessClaims {
    let mut claims = access_claims();
    claims.issued_at = at - Duration::minutes(1);
    claims.expires_at = at + Duration::minutes(14);
    claims
}

/// `ours` created at t0, `foreign` created a day later and retired at `foreign_retired`.
fn two_keys(foreign_retired: Option<DateTime<Utc>>) -> Arc<KeySet> {
    Arc::new(
        KeySet::in_memory(&[
            (t0(), ours().key.clone(), ours().cert.clone(), None),
            (
                t0() + Duration::days(1),
                foreign().key.clone(),
                foreign().cert.clone(),
                foreign_retired,
            ),
        ])
        .unwrap(),
    )
}

fn kid_of(pair: &Pair) -> String {
    let digest = openssl::sha::sha1(&pair.cert.to_der().unwrap());
    digest.iter().map(|b| format!("{b:02X}")).collect()
}

fn reason<T: std::fmt::Debug>(result: Result<T, AppError>) -> TokenRejection {
    match result {
        Err(AppError::InvalidToken(reason)) => reason,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

#[test]
fn a_superseded_key_verifies_until_the_window_after_the_newer_key_appeared() {
    let keys = two_keys(None);
    assert_eq!(keys.signing_kid(), kid_of(foreign()));
    let old = keys.find(&kid_of(ours())).unwrap();
    let superseded_at = t0() + Duration::days(1);
    assert_eq!(old.signing_ended_at(), Some(superseded_at));
    assert_eq!(keys.signing().signing_ended_at(), None);

    let codec = JwtCodec::new(keys, ISSUER, Duration::zero()).with_trust_window(window());
    let end = superseded_at + window();
    let last_moment = end - Duration::seconds(1);
    let old_token = super::support::codec()
        .sign_access(&access_claims_at(last_moment))
        .unwrap();
    assert!(codec.verify_access(&old_token, last_moment).is_ok());
    let late_token = super::support::codec()
        .sign_access(&access_claims_at(end))
        .unwrap();
    assert_eq!(
        reason(codec.verify_access(&late_token, end)),
        TokenRejection::UnknownKey
    );
    // The signing key knows no end.
    let new_token = codec
        .sign_access(&access_claims_at(end + Duration::days(999)))
        .unwrap();
    assert!(codec
        .verify_access(&new_token, end + Duration::days(999))
        .is_ok());
}

#[test]
fn a_codec_without_a_trust_window_trusts_every_key_of_its_set() {
    let codec = JwtCodec::new(two_keys(None), ISSUER, Duration::zero());
    let much_later = t0() + Duration::days(3650);
    let token = super::support::codec()
        .sign_access(&access_claims_at(much_later))
        .unwrap();
    assert!(codec.verify_access(&token, much_later).is_ok());
}

#[test]
fn a_retired_newer_key_gives_signing_back_and_verifies_for_its_window() {
    let retired_at = t0() + Duration::days(2);
    let keys = two_keys(Some(retired_at));
    assert_eq!(
        keys.signing_kid(),
        kid_of(ours()),
        "the newest key that is not retired signs"
    );
    let retired = keys.find(&kid_of(foreign())).unwrap();
    assert_eq!(retired.retired_at(), Some(retired_at));
    assert_eq!(retired.signing_ended_at(), Some(retired_at));
    assert_eq!(retired.trusted_until(window()), Some(retired_at + window()));
    assert!(retired.is_trusted_at(retired_at + window() - Duration::seconds(1), window()));
    assert!(!retired.is_trusted_at(retired_at + window(), window()));
}

#[test]
fn a_key_stops_signing_at_its_retirement_or_its_supersession_whichever_came_first() {
    let newer = t0() + Duration::days(1);
    // Retired before the newer key appeared.
    let set = KeySet::in_memory(&[
        (
            t0(),
            ours().key.clone(),
            ours().cert.clone(),
            Some(t0() + Duration::hours(1)),
        ),
        (newer, foreign().key.clone(), foreign().cert.clone(), None),
    ])
    .unwrap();
    let old = set.find(&kid_of(ours())).unwrap();
    assert_eq!(old.signing_ended_at(), Some(t0() + Duration::hours(1)));
    // Retired after it: retiring a superseded key does not stretch its window.
    let set = KeySet::in_memory(&[
        (
            t0(),
            ours().key.clone(),
            ours().cert.clone(),
            Some(newer + Duration::days(5)),
        ),
        (newer, foreign().key.clone(), foreign().cert.clone(), None),
    ])
    .unwrap();
    assert_eq!(
        set.find(&kid_of(ours())).unwrap().signing_ended_at(),
        Some(newer)
    );
}

#[test]
fn every_key_retired_is_no_key_set() {
    let result = KeySet::in_memory(&[(t0(), ours().key.clone(), ours().cert.clone(), Some(t0()))]);
    assert!(matches!(result, Err(InfraError::Key(_))));
}

#[test]
fn the_status_says_signing_verifying_retired_or_expired() {
    let superseded = two_keys(None);
    let old = superseded.find(&kid_of(ours())).unwrap();
    let end = t0() + Duration::days(1) + window();
    assert_eq!(
        superseded.signing().status(end, window()),
        KeyStatus::Signing
    );
    assert_eq!(
        old.status(end - Duration::seconds(1), window()),
        KeyStatus::Verifying { until: end }
    );
    assert_eq!(old.status(end, window()), KeyStatus::Expired { since: end });

    let retired_at = t0() + Duration::days(2);
    let with_retired = two_keys(Some(retired_at));
    let retired = with_retired.find(&kid_of(foreign())).unwrap();
    assert_eq!(
        retired.status(retired_at, window()),
        KeyStatus::Retired {
            until: retired_at + window()
        }
    );
    assert_eq!(
        retired.status(retired_at + window(), window()),
        KeyStatus::Expired {
            since: retired_at + window()
        }
    );
}

#[test]
fn the_jwks_lists_the_signing_key_first_and_only_keys_still_trusted() {
    let codec = JwtCodec::new(two_keys(None), ISSUER, Duration::zero()).with_trust_window(window());
    let kids = |at| -> Vec<String> { codec.jwks(at).into_iter().map(|k| k.kid).collect() };
    let end = t0() + Duration::days(1) + window();
    assert_eq!(
        kids(end - Duration::seconds(1)),
        [kid_of(foreign()), kid_of(ours())]
    );
    assert_eq!(kids(end), [kid_of(foreign())]);
}

#[test]
fn a_published_key_has_minimal_base64url_members_and_the_certificate_thumbprint() {
    let jwk = shared_keys().signing().public_jwk();
    assert_eq!(
        (jwk.kty.as_str(), jwk.key_use.as_str(), jwk.alg.as_str()),
        ("RSA", "sig", "RS512")
    );
    assert_eq!(jwk.kid, kid_of(ours()));
    let tollgate_application::JwkParams::Rsa { n, e } = &jwk.params else {
        panic!("{jwk:?}");
    };
    assert_eq!(e, "AQAB");
    let rsa = ours().key.rsa().unwrap();
    let n = URL_SAFE_NO_PAD.decode(n).unwrap();
    assert_ne!(n[0], 0, "no leading zero byte");
    assert_eq!(n, rsa.n().to_vec());
    assert_eq!(n.len(), 256);
    let thumbprint = openssl::sha::sha1(&ours().cert.to_der().unwrap());
    assert_eq!(URL_SAFE_NO_PAD.decode(&jwk.x5t).unwrap(), thumbprint);
}

// --- On disk ---

/// A directory with `ours` (created at t0) and `foreign` (a day later, so it signs).
fn dir_with_two() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    store_pair(dir.path(), t0(), &ours().key, &ours().cert).unwrap();
    store_pair(
        dir.path(),
        t0() + Duration::days(1),
        &foreign().key,
        &foreign().cert,
    )
    .unwrap();
    dir
}

fn key_error<T: std::fmt::Debug>(result: Result<T, InfraError>) -> String {
    match result {
        Err(InfraError::Key(message)) => message,
        other => panic!("expected InfraError::Key, got {other:?}"),
    }
}

#[test]
fn retiring_writes_a_marker_that_the_loader_reads() {
    let dir = dir_with_two();
    let at = t0() + Duration::days(2);
    let retired = KeySet::retire_at(dir.path(), &kid_of(foreign()), at).unwrap();
    assert!(!retired.already_retired);
    assert_eq!(retired.key.retired_at(), Some(at));

    let set = KeySet::load(dir.path()).unwrap();
    assert_eq!(set.signing_kid(), kid_of(ours()));
    let key = set.find(&kid_of(foreign())).unwrap();
    assert_eq!(key.retired_at(), Some(at));
    assert_eq!(key.signing_ended_at(), Some(at));
    let marker = dir.path().join(format!(
        "20261201T101500.000000Z-{}.retired",
        &kid_of(foreign())[..8]
    ));
    assert_eq!(
        fs::read_to_string(marker).unwrap(),
        "20261202T101500.000000Z\n"
    );
}

#[test]
fn retiring_again_keeps_the_first_instant() {
    let dir = dir_with_two();
    let first = t0() + Duration::days(2);
    KeySet::retire_at(dir.path(), &kid_of(ours()), first).unwrap();
    let again = KeySet::retire_at(dir.path(), &kid_of(ours()), first + Duration::days(7)).unwrap();
    assert!(again.already_retired);
    assert_eq!(again.key.retired_at(), Some(first));
}

#[test]
fn the_last_key_that_can_sign_cannot_be_retired() {
    let dir = dir_with_two();
    KeySet::retire_at(dir.path(), &kid_of(ours()), t0()).unwrap();
    let message = key_error(KeySet::retire_at(dir.path(), &kid_of(foreign()), t0()));
    assert!(message.contains("tollgate keys generate"), "{message}");
    assert_eq!(
        KeySet::load(dir.path()).unwrap().signing_kid(),
        kid_of(foreign())
    );
}

#[test]
fn a_kid_prefix_of_eight_digits_in_any_case_is_enough_but_must_be_unique() {
    let dir = dir_with_two();
    let prefix = kid_of(ours())[..8].to_ascii_lowercase();
    let retired = KeySet::retire_at(dir.path(), &prefix, t0()).unwrap();
    assert_eq!(retired.key.kid(), kid_of(ours()));
    assert!(
        key_error(KeySet::retire_at(dir.path(), &kid_of(ours())[..7], t0())).contains("at least 8")
    );
    assert!(key_error(KeySet::retire_at(dir.path(), "0123456789", t0())).contains("names no key"));
}

#[test]
fn an_unreadable_marker_stops_the_load() {
    let dir = dir_with_two();
    let stem = format!("20261130T101500.000000Z-{}", &kid_of(ours())[..8]);
    fs::write(dir.path().join(format!("{stem}.retired")), "yesterday").unwrap();
    assert!(key_error(KeySet::load(dir.path())).contains("not a retirement stamp"));
    // A marker without its pair is ignored like any stray file.
    fs::remove_file(dir.path().join(format!("{stem}.retired"))).unwrap();
    fs::write(
        dir.path().join("20200101T000000.000000Z-00000000.retired"),
        "x",
    )
    .unwrap();
    assert!(KeySet::load(dir.path()).is_ok());
}

#[test]
fn when_every_key_is_retired_load_refuses_and_load_or_generate_makes_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    store_pair(dir.path(), t0(), &ours().key, &ours().cert).unwrap();
    let stem = format!("20261130T101500.000000Z-{}", &kid_of(ours())[..8]);
    fs::write(
        dir.path().join(format!("{stem}.retired")),
        "20261130T111500.000000Z\n",
    )
    .unwrap();
    assert!(key_error(KeySet::load(dir.path())).contains("every key is retired"));

    let set = KeySet::load_or_generate(dir.path()).unwrap();
    assert_ne!(set.signing_kid(), kid_of(ours()));
    assert_eq!(set.keys().count(), 2);
    assert_eq!(
        set.find(&kid_of(ours())).unwrap().retired_at(),
        Some(t0() + Duration::hours(1))
    );
}
