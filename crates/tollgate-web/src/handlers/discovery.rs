//! `GET /.well-known/oauth-authorization-server`: authorization server metadata (RFC 8414).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};
use serde::Serialize;
use tollgate_application::PublishedKeys;

use crate::service::Grants;

/// The metadata changes with the configuration, and its algorithms with the keys published, no
/// faster than the JWKS, which is cached as long.
const CACHE_CONTROL: &str = "public, max-age=300";
/// Client authentication at the token and revocation endpoints (API.md §6).
const CLIENT_SECRET_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// The members we publish, in RFC 8414 §2 order. `scopes_supported` is left out: Tollgate has
/// no scopes. Endpoints a host did not mount are left out too. Then one extension member
/// (RFC 8414 §2 allows others), `token_signing_alg_values_supported`, and, with DPoP on,
/// `dpop_signing_alg_values_supported` (RFC 9449 §5.1).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AuthorizationServerMetadata)]
pub(crate) struct Metadata {
    issuer: String,
    token_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    response_types_supported: [&'static str; 0],
    grant_types_supported: [&'static str; 2],
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_endpoint_auth_methods_supported: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    introspection_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    introspection_endpoint_auth_methods_supported: Option<Vec<&'static str>>,
    /// Extension member (not registered by RFC 8414, which names none for this): the distinct
    /// JWS `alg` values of the keys published in the JWKS right now, the signing key's first;
    /// during a key rotation, both keys' algorithms. Present only when the JWKS is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 9449 §5.1: the JWS `alg` values a `DPoP` proof may be signed with. Present only
    /// when the token endpoint accepts proofs.
    #[serde(skip_serializing_if = "Option::is_none")]
    dpop_signing_alg_values_supported: Option<Vec<String>>,
}

/// Which optional endpoints a service mounts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mounted {
    pub(crate) jwks: bool,
    pub(crate) revocation: bool,
    pub(crate) introspection: bool,
}

impl Metadata {
    /// The metadata of a server whose tokens say `iss = issuer`, with its endpoints under
    /// `endpoint_base`.
    pub(crate) fn new(
        issuer: &str,
        endpoint_base: &str,
        require_client: bool,
        mounted: Mounted,
    ) -> Self {
        // The issuer is an identifier compared byte for byte, so it is published exactly as
        // configured; only the endpoint URLs drop a trailing slash so they never hold `//`.
        let base = endpoint_base.trim_end_matches('/');
        let endpoint = |path: &str| format!("{base}{path}");
        // Without `auth.require_client`, public clients may call these endpoints with no secret.
        let mut optional_client = CLIENT_SECRET_METHODS.to_vec();
        if !require_client {
            optional_client.push("none");
        }
        Self {
            issuer: issuer.to_owned(),
            token_endpoint: endpoint("/api/oauth2/token"),
            jwks_uri: mounted.jwks.then(|| endpoint("/.well-known/jwks.json")),
            response_types_supported: [],
            grant_types_supported: ["password", "refresh_token"],
            token_endpoint_auth_methods_supported: optional_client.clone(),
            revocation_endpoint: mounted.revocation.then(|| endpoint("/api/oauth2/revoke")),
            revocation_endpoint_auth_methods_supported: mounted
                .revocation
                .then_some(optional_client),
            introspection_endpoint: mounted
                .introspection
                .then(|| endpoint("/api/oauth2/introspect")),
            // Introspection always needs a configured client.
            introspection_endpoint_auth_methods_supported: mounted
                .introspection
                .then(|| CLIENT_SECRET_METHODS.to_vec()),
            token_signing_alg_values_supported: None,
            dpop_signing_alg_values_supported: None,
        }
    }

    /// This metadata with the algorithms of the keys published now.
    #[must_use]
    fn with_signing_algorithms(mut self, algorithms: Vec<String>) -> Self {
        self.token_signing_alg_values_supported = Some(algorithms);
        self
    }

    /// This metadata with the algorithms a DPoP proof may use.
    #[must_use]
    fn with_dpop_algorithms(mut self, algorithms: Vec<String>) -> Self {
        self.dpop_signing_alg_values_supported = Some(algorithms);
        self
    }
}

/// The server's metadata, computed once when the service was built.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "discovery",
    operation_id = "metadata",
    responses(
        (status = 200, description = "RFC 8414 authorization-server metadata; endpoints the \
server does not mount are left out; `token_signing_alg_values_supported` (extension) lists the \
algorithms of the keys in the JWKS; `dpop_signing_alg_values_supported` (RFC 9449) appears when \
the token endpoint accepts `DPoP` proofs", body = Metadata,
            headers(("Cache-Control" = String, description = "`public, max-age=300`"))),
    ),
)]
pub(crate) async fn discovery(
    metadata: web::Data<Metadata>,
    keys: Option<web::Data<PublishedKeys>>,
    grants: Option<web::Data<Grants>>,
) -> HttpResponse {
    // Read per request: the published keys change with a rotation, without a restart.
    let metadata = match keys {
        Some(keys) => (**metadata)
            .clone()
            .with_signing_algorithms(keys.signing_algorithms()),
        None => (**metadata).clone(),
    };
    // DPoP may be switched on after the metadata was built (`AppState::with_dpop`).
    let metadata = match grants.as_ref().and_then(|g| g.dpop.as_ref()) {
        Some(dpop) => metadata.with_dpop_algorithms(dpop.check.algorithms()),
        None => metadata,
    };
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ))
        .json(&metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const EVERYTHING: Mounted = Mounted {
        jwks: true,
        revocation: true,
        introspection: true,
    };

    /// Tollgate's own server: every endpoint, under the issuer.
    fn metadata(issuer: &str, require_client: bool) -> Metadata {
        Metadata::new(issuer, issuer, require_client, EVERYTHING)
    }

    #[test]
    fn a_host_lists_only_what_it_mounts_under_its_own_base() {
        let only_grants = Mounted {
            jwks: false,
            revocation: false,
            introspection: false,
        };
        let m = as_json(&Metadata::new(
            "https://host.example",
            "https://host.example/auth/",
            false,
            only_grants,
        ));
        assert_eq!(m["issuer"], "https://host.example");
        assert_eq!(
            m["token_endpoint"],
            "https://host.example/auth/api/oauth2/token"
        );
        for absent in [
            "jwks_uri",
            "revocation_endpoint",
            "revocation_endpoint_auth_methods_supported",
            "introspection_endpoint",
            "introspection_endpoint_auth_methods_supported",
            "token_signing_alg_values_supported",
        ] {
            assert!(m.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn the_dpop_algorithms_are_listed_as_given_and_absent_without_dpop() {
        let plain = as_json(&metadata("https://auth.example", false));
        assert!(plain.get("dpop_signing_alg_values_supported").is_none());
        let m = as_json(
            &metadata("https://auth.example", false)
                .with_dpop_algorithms(vec!["ES256".into(), "EdDSA".into()]),
        );
        assert_eq!(
            m["dpop_signing_alg_values_supported"],
            json!(["ES256", "EdDSA"])
        );
    }

    #[test]
    fn the_signing_algorithms_are_listed_as_given() {
        let m = as_json(
            &metadata("https://auth.example", false)
                .with_signing_algorithms(vec!["EdDSA".into(), "RS512".into()]),
        );
        assert_eq!(
            m["token_signing_alg_values_supported"],
            json!(["EdDSA", "RS512"])
        );
    }

    fn as_json(m: &Metadata) -> Value {
        serde_json::to_value(m).unwrap()
    }

    #[test]
    fn endpoints_hang_off_the_issuer_without_a_double_slash() {
        for issuer in ["https://auth.example", "https://auth.example/"] {
            let m = as_json(&metadata(issuer, false));
            assert_eq!(m["issuer"], issuer);
            assert_eq!(m["token_endpoint"], "https://auth.example/api/oauth2/token");
            assert_eq!(m["jwks_uri"], "https://auth.example/.well-known/jwks.json");
            assert_eq!(
                m["revocation_endpoint"],
                "https://auth.example/api/oauth2/revoke"
            );
            assert_eq!(
                m["introspection_endpoint"],
                "https://auth.example/api/oauth2/introspect"
            );
        }
        let m = as_json(&metadata("https://auth.example/tenant/", false));
        assert_eq!(
            m["token_endpoint"],
            "https://auth.example/tenant/api/oauth2/token"
        );
    }

    #[test]
    fn grants_and_response_types_are_fixed_and_scopes_absent() {
        let m = as_json(&metadata("https://auth.example", true));
        assert_eq!(
            m["grant_types_supported"],
            json!(["password", "refresh_token"])
        );
        assert_eq!(m["response_types_supported"], json!([]));
        assert!(m.get("scopes_supported").is_none());
    }

    #[test]
    fn none_is_offered_only_when_clients_are_optional() {
        let open = as_json(&metadata("https://auth.example", false));
        let closed = as_json(&metadata("https://auth.example", true));
        let secrets = json!(["client_secret_basic", "client_secret_post"]);
        let or_none = json!(["client_secret_basic", "client_secret_post", "none"]);
        assert_eq!(open["token_endpoint_auth_methods_supported"], or_none);
        assert_eq!(open["revocation_endpoint_auth_methods_supported"], or_none);
        assert_eq!(closed["token_endpoint_auth_methods_supported"], secrets);
        assert_eq!(
            closed["revocation_endpoint_auth_methods_supported"],
            secrets
        );
        for m in [open, closed] {
            assert_eq!(m["introspection_endpoint_auth_methods_supported"], secrets);
        }
    }
}
