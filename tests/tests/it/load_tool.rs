//! The `tollgate-bench` load tool against the real server: chained refreshes issue no token
//! twice and raise no error, and race mode sees exactly one winner per round, on every backend.
//! Correctness only: nothing here asserts a speed.

use std::time::Duration;

use tollgate_bench::{run_load, run_race, Dialect, LoadOptions, RaceOptions, Stop, Target};
use tollgate_tests::{backend_tests, Backend, TestApp};

fn target(app: &TestApp, dialect: Dialect, client: Option<(String, String)>) -> Target {
    Target {
        base_url: app.base_url.clone(),
        dialect,
        user: "loader".into(),
        password: "load pw/ü".into(),
        client,
        long_lived: false,
    }
}

fn chained_refreshes_issue_every_token_once(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.database.pool_size = 8) else {
        return;
    };
    app.add_user("loader", "load pw/ü");
    let report = run_load(&LoadOptions {
        target: target(&app, Dialect::Product, None),
        users: 6,
        concurrency: 3,
        stop: Stop::Count(300),
        label: "test".into(),
        progress: false,
    })
    .unwrap();
    assert!(report.ok, "{}", report.human());
    assert_eq!(report.logins, 6);
    assert_eq!(report.refreshes, 300);
    assert_eq!(report.duplicates, 0);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.latency_us.p50 > 0 && report.latency_us.p99 >= report.latency_us.p50);
}

fn rfc_dialect_with_a_client_runs_for_a_duration(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    app.add_user("loader", "load pw/ü");
    let secret = app.add_client("bench-client", "password,refresh_token");
    let report = run_load(&LoadOptions {
        target: target(&app, Dialect::Rfc, Some(("bench-client".into(), secret))),
        users: 2,
        concurrency: 2,
        stop: Stop::After(Duration::from_millis(500)),
        label: String::new(),
        progress: false,
    })
    .unwrap();
    assert!(report.ok, "{}", report.human());
    assert!(report.refreshes > 0);
}

fn a_wrong_password_is_a_setup_error_not_a_silent_pass(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    app.add_user("loader", "another password");
    let result = run_load(&LoadOptions {
        target: target(&app, Dialect::Product, None),
        users: 1,
        concurrency: 1,
        stop: Stop::Count(5),
        label: String::new(),
        progress: false,
    });
    assert!(result.is_err());
}

fn race_mode_sees_exactly_one_winner_per_round(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.database.pool_size = 8) else {
        return;
    };
    app.add_user("loader", "load pw/ü");
    let report = run_race(&RaceOptions {
        target: target(&app, Dialect::Product, None),
        racers: 8,
        rounds: 10,
    })
    .unwrap();
    assert!(report.ok, "{:?}", report.failed);
    assert_eq!(report.rounds_ok, 10);
}

fn race_mode_counts_a_retry_grace_repeat_as_one_winner(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.tokens.reuse_grace = 10) else {
        return;
    };
    app.add_user("loader", "load pw/ü");
    let report = run_race(&RaceOptions {
        target: target(&app, Dialect::Rfc, None),
        racers: 4,
        rounds: 5,
    })
    .unwrap();
    assert!(report.ok, "{:?}", report.failed);
}

backend_tests!(
    chained_refreshes_issue_every_token_once,
    rfc_dialect_with_a_client_runs_for_a_duration,
    a_wrong_password_is_a_setup_error_not_a_silent_pass,
    race_mode_sees_exactly_one_winner_per_round,
    race_mode_counts_a_retry_grace_repeat_as_one_winner,
);
