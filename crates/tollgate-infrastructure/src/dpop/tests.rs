//! Proof verification against the RFC examples and against proofs signed here, one defect at a
//! time; and the in-memory replay cache.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde_json::{json, Value};
use tollgate_application::{Clock, DpopProof, DpopReplayCache, DpopVerifier, Error};
use tollgate_domain::{DpopRejection, Jkt};

use super::verifier::thumbprint;
use super::{MemoryReplayCache, ProofVerifier, MAX_PROOF_BYTES};

const ISSUER: &str = "https://auth.example.com";
const TOKEN_PATH: &str = "/api/oauth2/token";
const HTU: &str = "https://auth.example.com/api/oauth2/token";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).unwrap()
}

/// max_age 60 s, leeway 5 s.
fn verifier() -> ProofVerifier {
    ProofVerifier::new(ISSUER, Duration::seconds(60), Duration::seconds(5)).unwrap()
}

/// A client key: what signs, and the public JWK that goes in the header.
struct ClientKey {
    alg: Algorithm,
    alg_name: &'static str,
    signing: EncodingKey,
    jwk: Value,
}

impl ClientKey {
    fn es256() -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let (mut x, mut y) = (
            openssl::bn::BigNum::new().unwrap(),
            openssl::bn::BigNum::new().unwrap(),
        );
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut BigNumContext::new().unwrap())
            .unwrap();
        let pkcs8 = PKey::from_ec_key(ec)
            .unwrap()
            .private_key_to_pkcs8()
            .unwrap();
        Self {
            alg: Algorithm::ES256,
            alg_name: "ES256",
            signing: EncodingKey::from_ec_der(&pkcs8),
            jwk: json!({
                "kty": "EC",
                "crv": "P-256",
                "x": b64(&x.to_vec_padded(32).unwrap()),
                "y": b64(&y.to_vec_padded(32).unwrap()),
            }),
        }
    }

    fn eddsa() -> Self {
        let key = PKey::generate_ed25519().unwrap();
        Self {
            alg: Algorithm::EdDSA,
            alg_name: "EdDSA",
            signing: EncodingKey::from_ed_der(&key.private_key_to_pkcs8().unwrap()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&key.raw_public_key().unwrap())}),
        }
    }

    fn rsa(alg: Algorithm, alg_name: &'static str, bits: u32) -> Self {
        let rsa = Rsa::generate(bits).unwrap();
        let jwk = json!({"kty": "RSA", "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())});
        Self {
            alg,
            alg_name,
            signing: EncodingKey::from_rsa_der(&rsa.private_key_to_der().unwrap()),
            jwk,
        }
    }

    fn jkt(&self) -> Jkt {
        thumbprint(&serde_json::from_value::<Jwk>(self.jwk.clone()).unwrap()).unwrap()
    }

    /// A proof that verifies at `now()` for POST to the token endpoint.
    fn proof(&self) -> Proof {
        Proof {
            header: json!({"typ": "dpop+jwt", "alg": self.alg_name, "jwk": self.jwk}),
            claims: json!({"jti": "jti-1", "htm": "POST", "htu": HTU, "iat": now().timestamp()}),
        }
    }
}

/// A proof's parts, to be spoiled one at a time before signing.
struct Proof {
    header: Value,
    claims: Value,
}

impl Proof {
    fn header(mut self, name: &str, value: Value) -> Self {
        set(&mut self.header, name, value);
        self
    }

    fn claim(mut self, name: &str, value: Value) -> Self {
        set(&mut self.claims, name, value);
        self
    }

    fn signed_by(&self, key: &ClientKey) -> String {
        // Signing here goes through `jsonwebtoken`'s provider too.
        crate::jwt::ensure_provider_installed();
        let message = format!(
            "{}.{}",
            b64(self.header.to_string().as_bytes()),
            b64(self.claims.to_string().as_bytes())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key.signing, key.alg).unwrap();
        format!("{message}.{signature}")
    }
}

fn set(object: &mut Value, name: &str, value: Value) {
    let map = object.as_object_mut().unwrap();
    if value.is_null() {
        map.remove(name);
    } else {
        map.insert(name.to_owned(), value);
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn verify(proof: &str) -> Result<DpopProof, DpopRejection> {
    verify_with(proof, None)
}

fn verify_with(proof: &str, access_token: Option<&str>) -> Result<DpopProof, DpopRejection> {
    match verifier().verify(proof, "POST", TOKEN_PATH, access_token, now()) {
        Ok(p) => Ok(p),
        Err(Error::InvalidDpopProof(reason)) => Err(reason),
        Err(other) => panic!("unexpected error: {other:?}"),
    }
}

// --- the RFC examples ----------------------------------------------------------------------

#[test]
fn the_rfc_9449_example_proof_verifies_with_its_published_thumbprint() {
    // RFC 9449 §4.1, figure 2 (the key's thumbprint is figure 9's `jkt`).
    let proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
    let iat = Utc.timestamp_opt(1_562_262_616, 0).unwrap();
    let v = ProofVerifier::new(
        "https://server.example.com",
        Duration::seconds(60),
        Duration::zero(),
    )
    .unwrap();
    let p = v
        .verify(proof, "POST", "/token", None, iat + Duration::seconds(10))
        .unwrap();
    assert_eq!(
        p.jkt.as_str(),
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
    assert_eq!(p.jti, "-BwC3ESc6acc2lTc");
    assert_eq!(p.iat, iat);
    assert_eq!(p.expires_at, iat + Duration::seconds(60));
    // The same proof a minute and a second later is too old.
    assert!(matches!(
        v.verify(proof, "POST", "/token", None, iat + Duration::seconds(61)),
        Err(Error::InvalidDpopProof(DpopRejection::Stale))
    ));
}

#[test]
fn the_rfc_7638_example_thumbprint() {
    // RFC 7638 §3.1: optional members (`alg`, `kid`) do not count.
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .unwrap();
    crate::jwt::ensure_provider_installed();
    assert_eq!(
        thumbprint(&jwk).unwrap().as_str(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn the_rfc_9449_access_token_hash_is_checked() {
    // RFC 9449 §7.1: the access token of figure 12 and the `ath` of figure 14.
    let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    let key = ClientKey::es256();
    let good = key
        .proof()
        .claim("ath", json!("fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"))
        .signed_by(&key);
    assert!(verify_with(&good, Some(token)).is_ok());
    assert_eq!(
        verify_with(&good, Some("another-token")),
        Err(DpopRejection::AccessTokenHash)
    );
    let without = key.proof().signed_by(&key);
    assert_eq!(
        verify_with(&without, Some(token)),
        Err(DpopRejection::AccessTokenHash)
    );
    // Without an access token (the token endpoint), `ath` is not looked at.
    assert!(verify(&good).is_ok());
}

// --- proofs signed here --------------------------------------------------------------------

#[test]
fn proofs_by_es256_eddsa_rs256_and_ps256_keys_verify_and_name_their_key() {
    for key in [
        ClientKey::es256(),
        ClientKey::eddsa(),
        ClientKey::rsa(Algorithm::RS256, "RS256", 2048),
        ClientKey::rsa(Algorithm::PS256, "PS256", 2048),
    ] {
        let p = verify(&key.proof().signed_by(&key))
            .unwrap_or_else(|e| panic!("{}: {e}", key.alg_name));
        assert_eq!(p.jkt, key.jkt(), "{}", key.alg_name);
        assert_eq!(p.jti, "jti-1");
        assert_eq!(p.iat, now());
        assert_eq!(p.expires_at, now() + Duration::seconds(65));
    }
    assert_ne!(ClientKey::es256().jkt(), ClientKey::es256().jkt());
}

#[test]
fn the_typ_must_be_dpop_jwt() {
    let key = ClientKey::es256();
    for typ in [
        json!(null),
        json!("JWT"),
        json!("at+jwt"),
        json!("DPOP+JWT"),
    ] {
        let proof = key.proof().header("typ", typ.clone()).signed_by(&key);
        assert_eq!(verify(&proof), Err(DpopRejection::Type), "{typ}");
    }
}

#[test]
fn only_the_allowed_asymmetric_algorithms_are_accepted() {
    let key = ClientKey::es256();
    for alg in ["none", "HS256", "ES384", "RS512", "es256"] {
        let proof = key.proof().header("alg", json!(alg)).signed_by(&key);
        assert_eq!(verify(&proof), Err(DpopRejection::Algorithm), "{alg}");
    }
    // A real HMAC proof, with the secret as an `oct` key.
    let hmac = ClientKey {
        alg: Algorithm::HS256,
        alg_name: "HS256",
        signing: EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef").unwrap(),
        jwk: json!({"kty": "oct"}),
    };
    assert_eq!(
        verify(&hmac.proof().signed_by(&hmac)),
        Err(DpopRejection::Algorithm)
    );
}

#[test]
fn the_jwk_must_be_present_public_and_of_the_algorithms_kind() {
    let ec = ClientKey::es256();
    assert_eq!(
        verify(&ec.proof().header("jwk", json!(null)).signed_by(&ec)),
        Err(DpopRejection::Key)
    );
    for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        let mut jwk = ec.jwk.clone();
        set(&mut jwk, member, json!("AAAA"));
        let proof = ec.proof().header("jwk", jwk).signed_by(&ec);
        assert_eq!(
            verify(&proof),
            Err(DpopRejection::Key),
            "private member {member}"
        );
    }
    // EdDSA named with an EC key, ES256 with an Ed25519 key.
    let ed = ClientKey::eddsa();
    let proof = ed.proof().header("jwk", ec.jwk.clone()).signed_by(&ed);
    assert_eq!(verify(&proof), Err(DpopRejection::Key));
    let proof = ec.proof().header("jwk", ed.jwk.clone()).signed_by(&ec);
    assert_eq!(verify(&proof), Err(DpopRejection::Key));
    // A P-384 key named ES256.
    let mut p384 = ec.jwk.clone();
    set(&mut p384, "crv", json!("P-384"));
    assert_eq!(
        verify(&ec.proof().header("jwk", p384).signed_by(&ec)),
        Err(DpopRejection::Key)
    );
    // RSA below 2048 bits.
    let small = ClientKey::rsa(Algorithm::RS256, "RS256", 1024);
    assert_eq!(
        verify(&small.proof().signed_by(&small)),
        Err(DpopRejection::Key)
    );
}

#[test]
fn a_proof_signed_by_another_key_than_its_jwk_is_refused() {
    for (named, signer) in [
        (ClientKey::es256(), ClientKey::es256()),
        (ClientKey::eddsa(), ClientKey::eddsa()),
    ] {
        let proof = named.proof().signed_by(&signer);
        assert_eq!(
            verify(&proof),
            Err(DpopRejection::Signature),
            "{}",
            named.alg_name
        );
    }
    // A valid proof with one signature byte changed.
    let key = ClientKey::es256();
    let mut proof = key.proof().signed_by(&key).into_bytes();
    let last = proof.len() - 5;
    proof[last] = if proof[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        verify(&String::from_utf8(proof).unwrap()),
        Err(DpopRejection::Signature)
    );
}

#[test]
fn htm_must_be_the_request_method_exactly() {
    let key = ClientKey::es256();
    for htm in ["GET", "post", "POST "] {
        let proof = key.proof().claim("htm", json!(htm)).signed_by(&key);
        assert_eq!(verify(&proof), Err(DpopRejection::Method), "{htm}");
    }
}

#[test]
fn htu_is_compared_after_normalisation_without_query_or_fragment() {
    let key = ClientKey::es256();
    for same in [
        "https://auth.example.com/api/oauth2/token",
        "HTTPS://Auth.Example.COM:443/api/oauth2/token",
        "https://auth.example.com/api/oauth2/token?x=1#frag",
        "https://auth.example.com/api/./oauth2/token",
    ] {
        let proof = key.proof().claim("htu", json!(same)).signed_by(&key);
        assert!(verify(&proof).is_ok(), "{same}");
    }
    for other in [
        "http://auth.example.com/api/oauth2/token",
        "https://auth.example.com:8443/api/oauth2/token",
        "https://evil.example.com/api/oauth2/token",
        "https://auth.example.com/api/oauth2/token/",
        "https://auth.example.com/api/oauth2/revoke",
        "https://user@auth.example.com/api/oauth2/token",
        "/api/oauth2/token",
        "urn:x:api/oauth2/token",
    ] {
        let proof = key.proof().claim("htu", json!(other)).signed_by(&key);
        assert_eq!(verify(&proof), Err(DpopRejection::Url), "{other}");
    }
}

#[test]
fn htu_is_below_an_issuer_with_a_path() {
    let key = ClientKey::es256();
    let v = ProofVerifier::new(
        "https://example.com/auth/",
        Duration::seconds(60),
        Duration::zero(),
    )
    .unwrap();
    let proof = key
        .proof()
        .claim("htu", json!("https://example.com/auth/api/oauth2/token"))
        .signed_by(&key);
    assert!(v.verify(&proof, "POST", TOKEN_PATH, None, now()).is_ok());
    let proof = key.proof().signed_by(&key);
    assert!(v.verify(&proof, "POST", TOKEN_PATH, None, now()).is_err());
}

#[test]
fn the_issuer_must_be_an_absolute_http_url() {
    for bad in [
        "",
        "auth.example.com",
        "ftp://example.com",
        "https://example.com/?q",
        "urn:a:b",
    ] {
        assert!(
            ProofVerifier::new(bad, Duration::seconds(60), Duration::zero()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn iat_must_lie_within_max_age_and_leeway() {
    let key = ClientKey::es256();
    let at = |offset: i64| {
        let proof = key
            .proof()
            .claim("iat", json!(now().timestamp() + offset))
            .signed_by(&key);
        verify(&proof).map(|p| p.iat)
    };
    // max_age 60, leeway 5.
    assert!(at(-65).is_ok());
    assert_eq!(at(-66), Err(DpopRejection::Stale));
    assert_eq!(at(-3600), Err(DpopRejection::Stale));
    assert!(at(5).is_ok());
    assert_eq!(at(6), Err(DpopRejection::Stale));
    assert_eq!(at(86_400), Err(DpopRejection::Stale));
    let fractional = key
        .proof()
        .claim("iat", json!(now().timestamp() as f64 + 0.5))
        .signed_by(&key);
    assert_eq!(verify(&fractional), Err(DpopRejection::Malformed));
}

#[test]
fn the_required_claims_must_be_there() {
    let key = ClientKey::es256();
    for claim in ["jti", "htm", "htu", "iat"] {
        let proof = key.proof().claim(claim, json!(null)).signed_by(&key);
        assert_eq!(verify(&proof), Err(DpopRejection::Malformed), "{claim}");
    }
    let empty = key.proof().claim("jti", json!("")).signed_by(&key);
    assert_eq!(verify(&empty), Err(DpopRejection::Malformed));
    let long = key
        .proof()
        .claim("jti", json!("j".repeat(257)))
        .signed_by(&key);
    assert_eq!(verify(&long), Err(DpopRejection::Malformed));
}

#[test]
fn a_crit_header_or_a_broken_proof_is_malformed() {
    let key = ClientKey::es256();
    let crit = key.proof().header("crit", json!(["exp"])).signed_by(&key);
    assert_eq!(verify(&crit), Err(DpopRejection::Malformed));
    for broken in [
        "",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "..",
        "e30.e30.",
        &format!("{}.", key.proof().signed_by(&key)),
    ] {
        assert_eq!(verify(broken), Err(DpopRejection::Malformed), "{broken:?}");
    }
}

#[test]
fn a_proof_over_the_size_cap_is_refused_unread() {
    let key = ClientKey::es256();
    let sized = |pad: usize| {
        key.proof()
            .claim("pad", json!("x".repeat(pad)))
            .signed_by(&key)
    };
    let base = sized(0).len();
    // Base64 makes 4 characters of every 3 bytes.
    let at_cap = sized((MAX_PROOF_BYTES - base) * 3 / 4);
    assert!(at_cap.len() <= MAX_PROOF_BYTES);
    assert!(verify(&at_cap).is_ok());
    let over = sized((MAX_PROOF_BYTES - base) * 3 / 4 + 8);
    assert!(over.len() > MAX_PROOF_BYTES);
    assert_eq!(verify(&over), Err(DpopRejection::Malformed));
}

// --- the in-memory replay cache ------------------------------------------------------------

struct FixedClock(Mutex<DateTime<Utc>>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn jkt(c: char) -> Jkt {
    Jkt::parse(&c.to_string().repeat(43)).unwrap()
}

#[test]
fn the_memory_cache_accepts_a_jti_once_per_key_until_it_expires() {
    let clock = Arc::new(FixedClock(Mutex::new(now())));
    let cache = MemoryReplayCache::new(clock.clone(), 10);
    let until = now() + Duration::seconds(65);
    assert!(cache.remember(&jkt('a'), "j1", until).unwrap());
    assert!(!cache.remember(&jkt('a'), "j1", until).unwrap(), "replay");
    assert!(
        cache.remember(&jkt('b'), "j1", until).unwrap(),
        "another key's jti"
    );
    assert!(cache.remember(&jkt('a'), "j2", until).unwrap());
    *clock.0.lock().unwrap() = until;
    assert!(
        !cache.remember(&jkt('a'), "j1", until).unwrap(),
        "still remembered at its end"
    );
    *clock.0.lock().unwrap() = until + Duration::seconds(1);
    assert!(cache
        .remember(&jkt('a'), "j1", until + Duration::seconds(65))
        .unwrap());
}

#[test]
fn the_memory_cache_is_bounded_and_never_forgets_a_live_proof() {
    let clock = Arc::new(FixedClock(Mutex::new(now())));
    let cache = MemoryReplayCache::new(clock.clone(), 3);
    let short = now() + Duration::seconds(10);
    let long = now() + Duration::seconds(100);
    assert!(cache.remember(&jkt('a'), "1", short).unwrap());
    assert!(cache.remember(&jkt('a'), "2", long).unwrap());
    assert!(cache.remember(&jkt('a'), "3", long).unwrap());
    assert!(matches!(
        cache.remember(&jkt('a'), "4", long),
        Err(Error::Unavailable(_))
    ));
    // Full still refuses replays rather than erroring.
    assert!(!cache.remember(&jkt('a'), "2", long).unwrap());
    // Once one entry expired, its slot is reused; the live ones are still refused.
    *clock.0.lock().unwrap() = short + Duration::seconds(1);
    assert!(cache.remember(&jkt('a'), "4", long).unwrap());
    assert!(!cache.remember(&jkt('a'), "3", long).unwrap());
}

#[test]
fn many_threads_remembering_one_jti_have_one_winner() {
    let clock = Arc::new(FixedClock(Mutex::new(now())));
    let cache = Arc::new(MemoryReplayCache::new(clock, 100));
    let barrier = Arc::new(std::sync::Barrier::new(16));
    let winners: usize = (0..16)
        .map(|_| {
            let (cache, barrier) = (cache.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                cache
                    .remember(&jkt('a'), "same", now() + Duration::seconds(60))
                    .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| usize::from(h.join().unwrap()))
        .sum();
    assert_eq!(winners, 1);
}
