//! `GET /.well-known/jwks.json`: the public keys that verify our tokens (RFC 7517).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};
use serde::Serialize;
use tollgate_application::{PublicJwk, PublishedKeys};

/// Caches may keep the set five minutes. A retired key leaving late is harmless (its tokens have
/// expired); a new key is published as soon as a restarted server signs with it, so verifiers
/// that meet an unknown `kid` should refetch rather than wait for this to run out.
const CACHE_CONTROL: &str = "public, max-age=300";

/// One JWK, members in the order RFC 7517's examples use. Public members only, by construction.
#[derive(Serialize, utoipa::ToSchema)]
struct Jwk<'a> {
    kty: &'a str,
    #[serde(rename = "use")]
    key_use: &'a str,
    alg: &'a str,
    kid: &'a str,
    n: &'a str,
    e: &'a str,
    x5t: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct JwkSet<'a> {
    keys: Vec<Jwk<'a>>,
}

fn jwk_set(keys: &[PublicJwk]) -> JwkSet<'_> {
    JwkSet {
        keys: keys
            .iter()
            .map(|k| Jwk {
                kty: &k.kty,
                key_use: &k.key_use,
                alg: &k.alg,
                kid: &k.kid,
                n: &k.n,
                e: &k.e,
                x5t: &k.x5t,
            })
            .collect(),
    }
}

/// Every key that can still verify a live token. Answered from memory: no blocking work.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    operation_id = "jwks",
    responses(
        (status = 200, description = "RFC 7517 key set of every key that can still verify a live \
token; public members only", body = JwkSet,
            headers(("Cache-Control" = String, description = "`public, max-age=300`"))),
    ),
)]
pub(crate) async fn jwks(keys: web::Data<PublishedKeys>) -> HttpResponse {
    let keys = keys.current();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ))
        .json(jwk_set(&keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_serializes_with_exactly_the_public_jwk_members() {
        let key = PublicJwk {
            kty: "RSA".into(),
            key_use: "sig".into(),
            alg: "RS512".into(),
            kid: "ABCDEF".into(),
            n: "nnnn".into(),
            e: "AQAB".into(),
            x5t: "xxxx".into(),
        };
        let json = serde_json::to_string(&jwk_set(&[key])).unwrap();
        assert_eq!(
            json,
            r#"{"keys":[{"kty":"RSA","use":"sig","alg":"RS512","kid":"ABCDEF","n":"nnnn","e":"AQAB","x5t":"xxxx"}]}"#
        );
        assert_eq!(
            serde_json::to_string(&jwk_set(&[])).unwrap(),
            r#"{"keys":[]}"#
        );
    }
}
