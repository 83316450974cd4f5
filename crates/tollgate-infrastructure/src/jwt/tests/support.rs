//! Keys shared by the jwt tests: RSA generation costs ~100 ms, so each key is made once.

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone as _, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::sign::Signer;
use openssl::x509::X509;
use tollgate_domain::{AccessClaims, AccessTokenId, FamilyId, RefreshClaims, TokenId, UserId};
use uuid::Uuid;

use crate::jwt::x509::new_pair;
use crate::jwt::{JwtCodec, KeySet, SigningAlgorithm};

pub(super) const ISSUER: &str = "https://auth.example";
pub(super) const LEEWAY_SECS: i64 = 30;

/// A key pair and its certificate.
pub(super) struct Pair {
    pub key: PKey<Private>,
    pub cert: X509,
}

/// The issue instant of the test tokens (whole seconds) and creation time of [`ours`].
pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 10, 15, 0).unwrap()
}

fn make(slot: &'static OnceLock<Pair>) -> &'static Pair {
    make_for(slot, SigningAlgorithm::Rs512)
}

fn make_for(slot: &'static OnceLock<Pair>, algorithm: SigningAlgorithm) -> &'static Pair {
    slot.get_or_init(|| {
        let (key, cert) = new_pair(t0(), algorithm).unwrap();
        Pair { key, cert }
    })
}

/// A shared key pair of each algorithm; the RS512 one is [`ours`].
pub(super) fn pair_for(algorithm: SigningAlgorithm) -> &'static Pair {
    static ES256: OnceLock<Pair> = OnceLock::new();
    static EDDSA: OnceLock<Pair> = OnceLock::new();
    match algorithm {
        SigningAlgorithm::Rs512 => ours(),
        SigningAlgorithm::Es256 => make_for(&ES256, algorithm),
        SigningAlgorithm::EdDsa => make_for(&EDDSA, algorithm),
    }
}

/// The `kid` of a pair: uppercase hex SHA-1 of its certificate's DER.
pub(super) fn kid_of_pair(pair: &Pair) -> String {
    openssl::sha::sha1(&pair.cert.to_der().unwrap())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// A key set of one key of each algorithm (the EdDSA one, newest, signs), and a codec over it
/// that trusts them all.
pub(super) fn all_algorithms_codec() -> JwtCodec {
    static SET: OnceLock<Arc<KeySet>> = OnceLock::new();
    let set = SET.get_or_init(|| {
        let pairs: Vec<_> = SigningAlgorithm::ALL
            .into_iter()
            .enumerate()
            .map(|(i, alg)| {
                let p = pair_for(alg);
                let created = t0() - Duration::hours(3 - i as i64);
                (created, p.key.clone(), p.cert.clone(), None)
            })
            .collect();
        Arc::new(KeySet::in_memory(&pairs).unwrap())
    });
    JwtCodec::new(set.clone(), ISSUER, Duration::seconds(LEEWAY_SECS))
}

/// A JWS signature of `input` with `key` for `algorithm`, made independently of the codec
/// (OpenSSL's own calls; ECDSA converted from DER to `r || s`).
pub(super) fn sign_as(algorithm: &str, key: &PKey<Private>, input: &[u8]) -> Vec<u8> {
    match algorithm {
        "ES256" => {
            let der = Signer::new(MessageDigest::sha256(), key)
                .unwrap()
                .sign_oneshot_to_vec(input)
                .unwrap();
            let sig = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
            let mut raw = sig.r().to_vec_padded(32).unwrap();
            raw.extend(sig.s().to_vec_padded(32).unwrap());
            raw
        }
        "EdDSA" => Signer::new_without_digest(key)
            .unwrap()
            .sign_oneshot_to_vec(input)
            .unwrap(),
        _ => rs512(key)(input),
    }
}

/// The key of [`shared_keys`].
pub(super) fn ours() -> &'static Pair {
    static OURS: OnceLock<Pair> = OnceLock::new();
    make(&OURS)
}

/// A key that is not in [`shared_keys`].
pub(super) fn foreign() -> &'static Pair {
    static FOREIGN: OnceLock<Pair> = OnceLock::new();
    make(&FOREIGN)
}

/// A key set holding only [`ours`].
pub(super) fn shared_keys() -> Arc<KeySet> {
    static SET: OnceLock<Arc<KeySet>> = OnceLock::new();
    SET.get_or_init(|| {
        let p = ours();
        Arc::new(KeySet::in_memory(&[(t0(), p.key.clone(), p.cert.clone(), None)]).unwrap())
    })
    .clone()
}

/// A codec over [`shared_keys`] with [`ISSUER`] and [`LEEWAY_SECS`].
pub(super) fn codec() -> JwtCodec {
    JwtCodec::new(shared_keys(), ISSUER, Duration::seconds(LEEWAY_SECS))
}

pub(super) fn access_claims() -> AccessClaims {
    AccessClaims {
        cnf_jkt: None,
        unique_name: "administrator".into(),
        sub: UserId::from_uuid(Uuid::from_u128(0x1111_1111_1111_4111_8111_1111_1111_1111)),
        sid: FamilyId::from_uuid(Uuid::from_u128(0x2222_2222_2222_4222_8222_2222_2222_2222)),
        jti: AccessTokenId::from_uuid(Uuid::from_u128(0x3333_3333_3333_4333_8333_3333_3333_3333)),
        issued_at: t0(),
        expires_at: t0() + Duration::seconds(900),
        issuer: ISSUER.into(),
    }
}

pub(super) fn refresh_claims(short_term: bool) -> RefreshClaims {
    RefreshClaims {
        unique_name: "administrator".into(),
        token_id: TokenId::from_uuid(Uuid::from_u128(0x4444_4444_4444_4444_8444_4444_4444_4444)),
        short_term,
        sub: UserId::from_uuid(Uuid::from_u128(0x1111_1111_1111_4111_8111_1111_1111_1111)),
        issued_at: t0(),
        expires_at: t0() + Duration::hours(24),
        issuer: ISSUER.into(),
    }
}

/// `{"alg":"RS512","kid":<ours>,"typ":"JWT"}`.
pub(super) fn our_header() -> String {
    header("RS512", shared_keys().signing_kid())
}

pub(super) fn header(alg: &str, kid: &str) -> String {
    format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"JWT"}}"#)
}

/// A compact JWS of these exact header and payload texts, signed by `sign`.
pub(super) fn forge(header: &str, payload: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// RS512 with `key`, independently of the codec.
pub(super) fn rs512(key: &PKey<Private>) -> impl FnOnce(&[u8]) -> Vec<u8> + '_ {
    move |input| {
        let mut signer = Signer::new(MessageDigest::sha512(), key).unwrap();
        signer.set_rsa_padding(Padding::PKCS1).unwrap();
        signer.sign_oneshot_to_vec(input).unwrap()
    }
}

/// A payload signed with our key under our header: passes every check up to the claims.
pub(super) fn signed_by_us(payload: &str) -> String {
    forge(&our_header(), payload, rs512(&ours().key))
}

/// The decoded segment `i` of a compact JWS.
pub(super) fn segment(token: &str, i: usize) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(token.split('.').nth(i).unwrap())
        .unwrap()
}
