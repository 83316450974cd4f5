//! Operations endpoints: liveness, readiness, Prometheus metrics and the request id.

use tollgate_tests::{backend_tests, Backend, Response, TestApp};

backend_tests!(
    liveness_and_readiness_answer_ok_on_a_healthy_server,
    login_refresh_and_reuse_read_one_one_one_in_the_metrics,
    metrics_bind_moves_metrics_off_the_public_listener,
    a_sane_request_id_is_echoed_and_a_hostile_one_replaced,
);

/// The value of the sample line that is exactly `name` (with its labels), if present.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

fn liveness_and_readiness_answer_ok_on_a_healthy_server(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    for path in ["/healthz", "/readyz"] {
        let r = app.get(path, None);
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.json()["status"], "ok");
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
}

fn login_refresh_and_reuse_read_one_one_one_in_the_metrics(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    app.add_user("alice", "pw");
    let first = app.login("alice", "pw").refresh_token();
    let second = app.refresh(&first);
    assert_eq!(second.status, 200, "{}", second.text);
    let reused = app.refresh(&first);
    assert_eq!(reused.error(), "invalid_grant");

    let r = app.get("/metrics", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/openmetrics-text")));
    let m = &r.text;
    let expect = [
        (
            r#"tollgate_token_requests_total{grant="password",outcome="success"}"#,
            1.0,
        ),
        (
            r#"tollgate_token_requests_total{grant="refresh_token",outcome="success"}"#,
            1.0,
        ),
        (
            r#"tollgate_token_requests_total{grant="refresh_token",outcome="invalid_grant"}"#,
            1.0,
        ),
        ("tollgate_refresh_reuse_detected_total", 1.0),
        (r#"tollgate_families_revoked_total{reason="reuse"}"#, 1.0),
        ("tollgate_login_throttled_total", 0.0),
        // The only family was revoked by the reuse.
        ("tollgate_live_families", 0.0),
        (
            r#"tollgate_http_request_duration_seconds_count{method="POST",route="/api/oauth2/token",status="200"}"#,
            2.0,
        ),
        (
            r#"tollgate_http_request_duration_seconds_count{method="POST",route="/api/oauth2/token",status="400"}"#,
            1.0,
        ),
    ];
    for (name, value) in expect {
        assert_eq!(sample(m, name), Some(value), "{name} in\n{m}");
    }
    assert!(sample(m, "tollgate_db_pool_connections_idle").is_some_and(|v| v >= 0.0));
    assert!(sample(m, "tollgate_db_pool_connections_in_use").is_some_and(|v| v >= 0.0));
    assert!(sample(m, "tollgate_signing_key_age_seconds").is_some_and(|v| v >= 0.0));

    // A new login is a live family.
    app.login("alice", "pw").refresh_token();
    let m = app.get("/metrics", None).text;
    assert_eq!(sample(&m, "tollgate_live_families"), Some(1.0), "{m}");
}

fn metrics_bind_moves_metrics_off_the_public_listener(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.server.metrics_bind = Some("127.0.0.1:0".into());
    }) else {
        return;
    };
    assert_eq!(app.get("/metrics", None).status, 404);
    let port = app.metrics_port.expect("a metrics listener");
    let r = ureq::get(&format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .into_string()
        .unwrap()
        .contains("tollgate_refresh_reuse_detected_total 0"));
}

fn get_with_request_id(app: &TestApp, id: &str) -> Response {
    let r = ureq::get(&format!("{}/healthz", app.base_url))
        .set("X-Request-Id", id)
        .call()
        .unwrap();
    Response {
        status: r.status(),
        headers: r
            .headers_names()
            .into_iter()
            .filter_map(|n| r.header(&n).map(|v| (n.to_ascii_lowercase(), v.to_owned())))
            .collect(),
        text: String::new(),
    }
}

fn a_sane_request_id_is_echoed_and_a_hostile_one_replaced(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    let echoed = get_with_request_id(&app, "trace-42.a_b:c");
    assert_eq!(echoed.header("x-request-id"), Some("trace-42.a_b:c"));
    for hostile in ["has space", "quote\"d", &"x".repeat(200)] {
        let r = get_with_request_id(&app, hostile);
        let id = r.header("x-request-id").expect("a generated id");
        assert_ne!(id, hostile);
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
    // Without one, each request gets a fresh id.
    let a = app.get("/healthz", None);
    let b = app.get("/healthz", None);
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
    assert!(a.header("x-request-id").is_some());
}
