//! The OpenAPI document (`GET /api/openapi.json`) against the routes the real app serves, and
//! the Swagger page (`/api/docs`).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use tollgate_tests::{backend_tests, Backend, TestApp};

backend_tests!(
    the_document_lists_exactly_the_routes_the_app_serves,
    every_documented_operation_is_served_and_nothing_else_on_its_path,
    the_swagger_page_serves_html_pointing_at_the_document,
);

/// Every (method, path) the server's app registers: `TokenService::register` in `service.rs`,
/// `configure` in `lib.rs`, and the OpenAPI routes in `openapi.rs`. Cross-checked against the
/// sources by `every_route_in_the_web_sources_is_in_the_served_list`.
const SERVED: [(&str, &str); 12] = [
    ("post", "/api/oauth2/token"),
    ("post", "/api/oauth2/logout"),
    ("post", "/api/oauth2/revoke"),
    ("post", "/api/oauth2/introspect"),
    ("get", "/api/users/me"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/.well-known/oauth-authorization-server"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("get", "/api/docs"),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The (method, path) pairs the document describes.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("path item");
            METHODS
                .iter()
                .filter(|m| item.contains_key(**m))
                .map(move |m| ((*m).to_owned(), path.clone()))
        })
        .collect()
}

fn served() -> BTreeSet<(String, String)> {
    SERVED
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect()
}

fn document(app: &TestApp) -> Value {
    let r = app.get("/api/openapi.json", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    doc
}

fn the_document_lists_exactly_the_routes_the_app_serves(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    let doc = document(&app);
    let documented = documented(&doc);
    let served = served();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
}

fn every_documented_operation_is_served_and_nothing_else_on_its_path(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    let documented = documented(&document(&app));
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in ["get", "post", "put", "delete", "patch"] {
            let status = app.request(method, path).status;
            if documented.contains(&(method.to_owned(), path.clone())) {
                assert_ne!(status, 404, "{method} {path} is documented but not served");
                assert_ne!(status, 405, "{method} {path} is documented but not served");
            } else {
                assert!(
                    status == 404 || status == 405,
                    "{method} {path} answers {status} but is not documented"
                );
            }
        }
    }
}

fn the_swagger_page_serves_html_pointing_at_the_document(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    // The agent follows the redirect from `/api/docs` to `/api/docs/`.
    for path in ["/api/docs", "/api/docs/"] {
        let r = app.get(path, None);
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(r
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")));
        assert!(r.text.contains("swagger-ui"), "{path}: {}", r.text);
    }
    let init = app.get("/api/docs/swagger-initializer.js", None);
    assert_eq!(init.status, 200, "{}", init.text);
    assert!(init.text.contains("/api/openapi.json"), "{}", init.text);
}

/// Routes are registered with `web::resource("…")` (and the Swagger page with
/// `SwaggerUi::new("…")`); every such literal in the web crate must be in [`SERVED`], so a new
/// route cannot slip past the document. `/metrics` is also registered by `configure_metrics`.
#[test]
fn every_route_in_the_web_sources_is_in_the_served_list() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/tollgate-web/src");
    let mut found = BTreeSet::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for marker in ["web::resource(", "SwaggerUi::new("] {
                for (at, _) in text.match_indices(marker) {
                    let rest = &text[at + marker.len()..];
                    if let Some(literal) = rest.strip_prefix('"') {
                        let end = literal.find('"').unwrap();
                        found.insert(literal[..end].to_owned());
                    } else {
                        // A constant: the OpenAPI routes name theirs.
                        let end = rest.find(')').unwrap();
                        found.insert(rest[..end].trim().to_owned());
                    }
                }
            }
        }
    }
    let served: BTreeSet<String> = SERVED.iter().map(|(_, p)| (*p).to_owned()).collect();
    let known_constants = [
        ("OPENAPI_PATH", "/api/openapi.json"),
        ("DOCS_PATH", "/api/docs"),
        // The Swagger page's assets, documented as `/api/docs`.
        ("/api/docs/{_:.*}", "/api/docs"),
    ];
    let registered: BTreeSet<String> = found
        .iter()
        .map(|route| {
            known_constants
                .iter()
                .find(|(name, _)| name == route)
                .map_or(route.as_str(), |(_, path)| path)
                .to_owned()
        })
        .collect();
    assert_eq!(registered, served, "registered in the sources vs SERVED");
}
