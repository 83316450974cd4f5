//! `GET /.well-known/jwks.json`: the public keys that verify our tokens (RFC 7517).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};
use serde::Serialize;
use tollgate_application::{JwkParams, PublicJwk, PublishedKeys};

use crate::service::Endpoint;

/// How long caches may keep the JWKS by default, in seconds (its `Cache-Control: max-age`;
/// [`WebConfig::jwks_max_age`](crate::WebConfig::jwks_max_age)). A retired key leaving late is
/// harmless (its tokens have expired); a new key is published `keys.publish_ahead`, at least
/// this long, before any server signs with it, so a verifier holding a cached copy never meets
/// an unknown `kid`.
pub const JWKS_MAX_AGE_SECONDS: u32 = 300;

/// One JWK, members in the order RFC 7517's examples use. Public members only, by construction;
/// each key type's own members only (`n`, `e` for RSA; `crv`, `x`, `y` for EC; `crv`, `x` for OKP).
#[derive(Serialize, utoipa::ToSchema)]
struct Jwk<'a> {
    kty: &'a str,
    #[serde(rename = "use")]
    key_use: &'a str,
    alg: &'a str,
    kid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    crv: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<&'a str>,
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
            .map(|k| {
                let (crv, n, e, x, y) = match &k.params {
                    JwkParams::Rsa { n, e } => (None, Some(n), Some(e), None, None),
                    JwkParams::Ec { crv, x, y } => (Some(crv), None, None, Some(x), Some(y)),
                    JwkParams::Okp { crv, x } => (Some(crv), None, None, Some(x), None),
                };
                Jwk {
                    kty: &k.kty,
                    key_use: &k.key_use,
                    alg: &k.alg,
                    kid: &k.kid,
                    crv: crv.map(String::as_str),
                    n: n.map(String::as_str),
                    e: e.map(String::as_str),
                    x: x.map(String::as_str),
                    y: y.map(String::as_str),
                    x5t: &k.x5t,
                }
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
            headers(("Cache-Control" = String, description = "`public, max-age=300` \
(`keys.jwks_max_age`)"))),
    ),
)]
pub(crate) async fn jwks(
    keys: web::Data<PublishedKeys>,
    endpoint: web::Data<Endpoint>,
) -> HttpResponse {
    let keys = keys.current();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            cache_control(endpoint.config.jwks_max_age),
        ))
        .json(jwk_set(&keys))
}

fn cache_control(max_age: u32) -> HeaderValue {
    // Digits and ASCII only, so always a valid header value; the fallback is never taken.
    HeaderValue::try_from(format!("public, max-age={max_age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_says_the_configured_max_age() {
        assert_eq!(cache_control(JWKS_MAX_AGE_SECONDS), "public, max-age=300");
        assert_eq!(cache_control(1), "public, max-age=1");
    }

    #[test]
    fn a_key_serializes_with_exactly_the_public_jwk_members() {
        let key = PublicJwk {
            kty: "RSA".into(),
            key_use: "sig".into(),
            alg: "RS512".into(),
            kid: "ABCDEF".into(),
            params: JwkParams::Rsa {
                n: "nnnn".into(),
                e: "AQAB".into(),
            },
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

    #[test]
    fn ec_and_okp_keys_serialize_with_their_own_members_only() {
        let key = |kty: &str, alg: &str, params| PublicJwk {
            kty: kty.into(),
            key_use: "sig".into(),
            alg: alg.into(),
            kid: "K".into(),
            params,
            x5t: "t".into(),
        };
        let ec = key(
            "EC",
            "ES256",
            JwkParams::Ec {
                crv: "P-256".into(),
                x: "xx".into(),
                y: "yy".into(),
            },
        );
        let okp = key(
            "OKP",
            "EdDSA",
            JwkParams::Okp {
                crv: "Ed25519".into(),
                x: "xx".into(),
            },
        );
        assert_eq!(
            serde_json::to_string(&jwk_set(&[ec, okp])).unwrap(),
            concat!(
                r#"{"keys":[{"kty":"EC","use":"sig","alg":"ES256","kid":"K","crv":"P-256","x":"xx","y":"yy","x5t":"t"},"#,
                r#"{"kty":"OKP","use":"sig","alg":"EdDSA","kid":"K","crv":"Ed25519","x":"xx","x5t":"t"}]}"#
            )
        );
    }
}
