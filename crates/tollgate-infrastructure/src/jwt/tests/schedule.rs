//! Rotation without restarts: a new key published ahead of signing, rescans of the key
//! directory (including one that meets a broken file), and the directory lock.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tollgate_application::{PublicKeys as _, TokenSigner as _, TokenVerifier as _};

use super::support::*;
use crate::jwt::key_dir::store_pair;
use crate::jwt::{JwtCodec, KeyDirectory, KeySet, KeyStatus, SigningAlgorithm, SigningSchedule};

fn ahead() -> Duration {
    Duration::hours(1)
}

/// When `foreign` is created: a day after `ours`.
fn t1() -> DateTime<Utc> {
    t0() + Duration::days(1)
}

/// `ours` created at t0 and `foreign` at t1, looked at `now` with an hour's publish-ahead.
fn scheduled(now: DateTime<Utc>, foreign_retired: Option<DateTime<Utc>>) -> KeySet {
    KeySet::in_memory_scheduled(
        &[
            (t0(), ours().key.clone(), ours().cert.clone(), None),
            (
                t1(),
                foreign().key.clone(),
                foreign().cert.clone(),
                foreign_retired,
            ),
        ],
        SigningSchedule {
            now,
            publish_ahead: ahead(),
        },
    )
    .unwrap()
}

#[test]
fn a_new_key_is_published_ahead_and_signs_only_once_the_window_has_passed() {
    let (old, new) = (kid_of_pair(ours()), kid_of_pair(foreign()));
    let window = Duration::days(1);

    // Half-way through the window: the old key signs, the new one is only published.
    let before = t1() + Duration::minutes(30);
    let set = scheduled(before, None);
    assert_eq!(set.signing_kid(), old);
    let young = set.find(&new).unwrap();
    assert_eq!(young.signs_from(), Some(t1() + ahead()));
    assert_eq!(
        young.status(before, window),
        KeyStatus::Published {
            signs_from: t1() + ahead()
        }
    );
    assert_eq!(set.find(&old).unwrap().signing_ended_at(), None);
    let codec = JwtCodec::new(Arc::new(set), ISSUER, Duration::zero()).with_trust_window(window);
    let published: Vec<String> = codec.jwks(before).into_iter().map(|k| k.kid).collect();
    assert_eq!(
        published,
        [old.clone(), new.clone()],
        "signing key first, then the new one"
    );

    // A second before the window ends: still the old key. At its end: the new key.
    assert_eq!(
        scheduled(t1() + ahead() - Duration::seconds(1), None).signing_kid(),
        old
    );
    let after = scheduled(t1() + ahead(), None);
    assert_eq!(after.signing_kid(), new);
    // The old key stopped signing when the new one started, not when it was made.
    assert_eq!(
        after.find(&old).unwrap().signing_ended_at(),
        Some(t1() + ahead())
    );
    assert_eq!(after.find(&new).unwrap().signs_from(), None);
}

#[test]
fn a_lone_young_key_and_a_young_key_whose_elders_are_retired_sign_at_once() {
    // A fresh install: one key, made a second ago.
    let fresh = KeySet::in_memory_scheduled(
        &[(t0(), ours().key.clone(), ours().cert.clone(), None)],
        SigningSchedule {
            now: t0() + Duration::seconds(1),
            publish_ahead: ahead(),
        },
    )
    .unwrap();
    assert_eq!(fresh.signing_kid(), kid_of_pair(ours()));

    // The old key retired (here: the only one old enough is the retired one).
    let set = KeySet::in_memory_scheduled(
        &[
            (t0(), ours().key.clone(), ours().cert.clone(), Some(t1())),
            (t1(), foreign().key.clone(), foreign().cert.clone(), None),
        ],
        SigningSchedule {
            now: t1() + Duration::seconds(1),
            publish_ahead: ahead(),
        },
    )
    .unwrap();
    assert_eq!(set.signing_kid(), kid_of_pair(foreign()));
}

#[test]
fn a_retired_new_key_never_signs() {
    let set = scheduled(t1() + ahead() * 2, Some(t1() + Duration::minutes(5)));
    assert_eq!(set.signing_kid(), kid_of_pair(ours()));
}

/// A private directory holding `ours`, created at t0.
fn dir_with_ours() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    store_pair(dir.path(), t0(), &ours().key, &ours().cert).unwrap();
    dir
}

#[test]
fn a_rescan_swaps_in_a_new_key_once_its_window_has_passed() {
    let dir = dir_with_ours();
    let now = t1();
    let set = KeyDirectory::load(dir.path(), SigningAlgorithm::Rs512, ahead(), now).unwrap();
    let codec = Arc::new(JwtCodec::new(
        Arc::new(set),
        ISSUER,
        Duration::seconds(LEEWAY_SECS),
    ));
    let keys = KeyDirectory::new(dir.path(), SigningAlgorithm::Rs512, ahead(), codec.clone());
    let old_token = codec.sign_access(&access_claims()).unwrap();

    store_pair(dir.path(), now, &foreign().key, &foreign().cert).unwrap();
    keys.rescan(now + Duration::minutes(1)).unwrap();
    assert_eq!(codec.key_set().signing_kid(), kid_of_pair(ours()));
    assert_eq!(codec.jwks(now).len(), 2, "published before it signs");

    keys.rescan(now + ahead()).unwrap();
    assert_eq!(codec.key_set().signing_kid(), kid_of_pair(foreign()));
    let claims = access_claims();
    let at = claims.issued_at;
    assert!(
        codec.verify_access(&old_token, at).is_ok(),
        "the old key still verifies"
    );
    let new_token = codec.sign_access(&claims).unwrap();
    assert!(codec.verify_access(&new_token, at).is_ok());
}

#[test]
fn a_rescan_that_meets_a_broken_file_keeps_the_keys_it_had() {
    let dir = dir_with_ours();
    let set = KeyDirectory::load(dir.path(), SigningAlgorithm::Rs512, ahead(), t1()).unwrap();
    let codec = Arc::new(JwtCodec::new(
        Arc::new(set),
        ISSUER,
        Duration::seconds(LEEWAY_SECS),
    ));
    let keys = KeyDirectory::new(dir.path(), SigningAlgorithm::Rs512, ahead(), codec.clone());
    let token = codec.sign_access(&access_claims()).unwrap();

    // A key file that does not parse, under a name the scan takes.
    let broken = dir.path().join("20261202T000000.000000Z-0BADC0DE.key.pem");
    fs::write(&broken, "not a key").unwrap();
    fs::set_permissions(&broken, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(keys.rescan(t1() + Duration::hours(2)).is_err());
    assert_eq!(codec.key_set().signing_kid(), kid_of_pair(ours()));
    assert_eq!(codec.key_set().keys().count(), 1);
    let at = access_claims().issued_at;
    assert!(codec.verify_access(&token, at).is_ok());
    assert!(codec.sign_access(&access_claims()).is_ok());

    // Fixed: the next rescan loads again.
    fs::remove_file(&broken).unwrap();
    store_pair(dir.path(), t1(), &foreign().key, &foreign().cert).unwrap();
    keys.rescan(t1() + Duration::hours(2)).unwrap();
    assert_eq!(codec.key_set().signing_kid(), kid_of_pair(foreign()));
}

#[test]
fn openers_racing_on_an_empty_directory_leave_one_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let kids: Vec<String> = std::thread::scope(|s| {
        let openers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    KeySet::open(&dir, SigningAlgorithm::EdDsa, None)
                        .unwrap()
                        .signing_kid()
                        .to_owned()
                })
            })
            .collect();
        openers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let pairs = fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".key.pem")
        })
        .count();
    assert_eq!(pairs, 1);
    assert!(kids.iter().all(|k| k == &kids[0]), "{kids:?}");
}
