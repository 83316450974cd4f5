//! The key directory: generation, permissions, loading and the choice of the signing key.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;

use chrono::Duration;
use tollgate_application::{Error as AppError, TokenSigner as _, TokenVerifier as _};
use tollgate_domain::TokenRejection;

use super::support::*;
use crate::jwt::key_dir::store_pair;
use crate::jwt::{JwtCodec, KeySet};
use crate::InfraError;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The names in `dir`, without the lock file.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != ".lock")
        .collect();
    names.sort();
    names
}

fn key_error(result: Result<KeySet, InfraError>) -> String {
    match result {
        Err(InfraError::Key(message)) => message,
        other => panic!("expected InfraError::Key, got {other:?}"),
    }
}

/// A fresh directory holding [`ours`] stored as created at `t0()`.
fn dir_with_ours() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    store_pair(dir.path(), t0(), &ours().key, &ours().cert).unwrap();
    dir
}

#[test]
fn load_or_generate_makes_a_private_directory_and_key_and_reloads_the_same_kid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state").join("keys");

    let generated = KeySet::load_or_generate(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    let files = names(&dir);
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(
        mode(&dir.join(".lock")),
        0o600,
        "the lock file holds nothing secret, but is ours"
    );
    let (cert_file, key_file) = (&files[0], &files[1]);
    assert!(
        key_file.ends_with(".key.pem") && cert_file.ends_with(".crt.pem"),
        "{files:?}"
    );
    assert_eq!(mode(&dir.join(key_file)), 0o600);
    // `<stamp>-<first 8 of kid>`; both files share it.
    let kid = generated.signing_kid().to_owned();
    assert_eq!(kid.len(), 40);
    let stem = key_file.trim_end_matches(".key.pem");
    assert_eq!(cert_file.trim_end_matches(".crt.pem"), stem);
    assert!(
        stem.ends_with(&format!("-{}", &kid[..8])),
        "{stem} vs {kid}"
    );

    let key = generated.keys().next().unwrap();
    assert_eq!(key.public_key().bits(), 2048);
    assert!(key.not_after() - key.created_at() > Duration::days(3649));
    let cert = openssl::x509::X509::from_der(key.certificate_der()).unwrap();
    assert!(cert.verify(key.public_key()).unwrap(), "self-signed");

    let reloaded = KeySet::load(&dir).unwrap();
    assert_eq!(reloaded.signing_kid(), kid);
    let again = KeySet::load_or_generate(&dir).unwrap();
    assert_eq!(again.signing_kid(), kid);
    assert_eq!(names(&dir), files, "a second start generates nothing");

    // What the first process signed, the second one verifies.
    let signed = JwtCodec::new(Arc::new(generated), ISSUER, Duration::zero())
        .sign_refresh(&refresh_claims(true))
        .unwrap();
    let verifier = JwtCodec::new(Arc::new(reloaded), ISSUER, Duration::zero());
    assert_eq!(
        verifier.verify_refresh(&signed, t0()).unwrap(),
        refresh_claims(true)
    );
}

#[test]
fn the_newest_key_signs_and_every_key_verifies() {
    let dir = dir_with_ours();
    let newer = store_pair(
        dir.path(),
        t0() + Duration::days(30),
        &foreign().key,
        &foreign().cert,
    )
    .unwrap();

    let both = Arc::new(KeySet::load(dir.path()).unwrap());
    assert_eq!(both.signing_kid(), newer.kid());
    let kids: Vec<&str> = both.keys().map(|k| k.kid()).collect();
    assert_eq!(
        kids,
        [shared_keys().signing_kid(), newer.kid()],
        "oldest first"
    );

    let old_codec = codec();
    let new_codec = JwtCodec::new(both.clone(), ISSUER, Duration::seconds(LEEWAY_SECS));
    let old_token = old_codec.sign_access(&access_claims()).unwrap();
    let new_token = new_codec.sign_access(&access_claims()).unwrap();
    assert!(String::from_utf8(segment(&new_token, 0))
        .unwrap()
        .contains(newer.kid()));
    assert_eq!(
        new_codec.verify_access(&old_token, t0()).unwrap(),
        access_claims()
    );
    assert_eq!(
        new_codec.verify_access(&new_token, t0()).unwrap(),
        access_claims()
    );
    // A server still on the old set does not know the new key.
    assert!(matches!(
        old_codec.verify_access(&new_token, t0()),
        Err(AppError::InvalidToken(TokenRejection::UnknownKey))
    ));
}

#[test]
fn generate_adds_a_key_that_signs_from_the_next_load() {
    let dir = tempfile::tempdir().unwrap();
    // Stored as made long ago, so the freshly generated key (stamped "now") is newer.
    store_pair(
        dir.path(),
        t0() - Duration::days(3650),
        &ours().key,
        &ours().cert,
    )
    .unwrap();
    let before = KeySet::load(dir.path()).unwrap();
    let info = KeySet::generate(dir.path()).unwrap();
    assert_eq!(
        before.signing_kid(),
        shared_keys().signing_kid(),
        "a loaded set does not change"
    );
    let after = KeySet::load(dir.path()).unwrap();
    assert_eq!(after.signing_kid(), info.kid());
    assert_eq!(after.keys().count(), 2);
    assert!(after.find(shared_keys().signing_kid()).is_some());
}

#[test]
fn a_private_key_readable_by_others_is_refused() {
    let dir = dir_with_ours();
    let key_file = names(dir.path())
        .into_iter()
        .find(|n| n.ends_with(".key.pem"))
        .unwrap();
    let path = dir.path().join(key_file);
    for loose in [0o640, 0o604, 0o620] {
        fs::set_permissions(&path, fs::Permissions::from_mode(loose)).unwrap();
        let message = key_error(KeySet::load(dir.path()));
        assert!(message.contains("chmod 600"), "{message}");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    assert!(
        KeySet::load(dir.path()).is_ok(),
        "read-only for the owner is fine"
    );
}

#[test]
fn a_key_directory_writable_by_others_is_refused() {
    let dir = dir_with_ours();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o770)).unwrap();
    assert!(key_error(KeySet::load(dir.path())).contains("chmod 700"));
    assert!(matches!(
        KeySet::generate_at(dir.path(), t0()),
        Err(InfraError::Key(_))
    ));
    // Readable but not writable by others: loads (with a warning).
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    assert!(KeySet::load(dir.path()).is_ok());
}

#[test]
fn other_files_in_the_directory_are_ignored() {
    let dir = dir_with_ours();
    let p = dir.path();
    fs::write(p.join("README"), "keys live here").unwrap();
    fs::write(p.join("old.key.pem"), "not named like ours").unwrap();
    fs::write(
        p.join(".20261130T101500.000000Z-ABCDEF01.key.pem.tmp"),
        "half written",
    )
    .unwrap();
    fs::write(
        p.join("20261130T101500.000000Z-abcdef01.key.pem"),
        "lowercase kid8",
    )
    .unwrap();
    fs::write(
        p.join("20991231T000000.000000Z-ABCDEF01.crt.pem"),
        "orphan certificate",
    )
    .unwrap();
    fs::create_dir(p.join("archive")).unwrap();
    let set = KeySet::load(p).unwrap();
    assert_eq!(set.keys().count(), 1);
    assert_eq!(set.signing_kid(), shared_keys().signing_kid());
}

#[test]
fn an_empty_or_missing_directory_is_an_error_for_load() {
    let dir = tempfile::tempdir().unwrap();
    assert!(key_error(KeySet::load(dir.path())).contains("no key pair"));
    assert!(matches!(
        KeySet::load(&dir.path().join("missing")),
        Err(InfraError::Io { .. })
    ));
}

#[test]
fn a_certificate_that_does_not_match_its_key_or_name_is_refused() {
    let dir = dir_with_ours();
    let cert_file = names(dir.path())
        .into_iter()
        .find(|n| n.ends_with(".crt.pem"))
        .unwrap();
    let cert_path = dir.path().join(&cert_file);
    fs::write(&cert_path, foreign().cert.to_pem().unwrap()).unwrap();
    assert!(key_error(KeySet::load(dir.path())).contains("not for its private key"));

    // The right pair under a name claiming another kid.
    fs::write(&cert_path, ours().cert.to_pem().unwrap()).unwrap();
    let stem = cert_file.trim_end_matches(".crt.pem");
    let renamed = format!("{}-00000000", stem.rsplit_once('-').unwrap().0);
    for suffix in [".crt.pem", ".key.pem"] {
        fs::rename(
            dir.path().join(format!("{stem}{suffix}")),
            dir.path().join(format!("{renamed}{suffix}")),
        )
        .unwrap();
    }
    assert!(key_error(KeySet::load(dir.path())).contains("file name says kid"));
}

#[test]
fn a_key_without_its_certificate_or_unparsable_is_refused() {
    let dir = dir_with_ours();
    let files = names(dir.path());
    let cert_file = files.iter().find(|n| n.ends_with(".crt.pem")).unwrap();
    let key_file = files.iter().find(|n| n.ends_with(".key.pem")).unwrap();
    fs::write(
        dir.path().join(key_file),
        "-----BEGIN PRIVATE KEY-----\ngarbage\n",
    )
    .unwrap();
    let message = key_error(KeySet::load(dir.path()));
    assert!(message.contains("not a PEM private key"), "{message}");
    assert!(!message.contains("garbage"), "{message}");
    fs::remove_file(dir.path().join(cert_file)).unwrap();
    fs::remove_file(dir.path().join(key_file)).unwrap();

    store_pair(dir.path(), t0(), &ours().key, &ours().cert).unwrap();
    fs::remove_file(dir.path().join(cert_file)).unwrap();
    assert!(matches!(
        KeySet::load(dir.path()),
        Err(InfraError::Io { .. })
    ));
}

#[test]
fn the_same_key_stored_twice_is_refused() {
    let dir = dir_with_ours();
    store_pair(
        dir.path(),
        t0() + Duration::seconds(1),
        &ours().key,
        &ours().cert,
    )
    .unwrap();
    assert!(key_error(KeySet::load(dir.path())).contains("stored twice"));
}

#[test]
fn a_key_of_another_type_or_curve_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // P-384: an EC key, but not of the one curve we use (ES256 is P-256).
    let ec = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::SECP384R1).unwrap(),
    )
    .unwrap();
    let ec = openssl::pkey::PKey::from_ec_key(ec).unwrap();
    // The certificate does not matter: the key is refused first.
    store_pair(dir.path(), t0(), &ec, &ours().cert).unwrap();
    assert!(key_error(KeySet::load(dir.path())).contains("not an RSA key"));
}
