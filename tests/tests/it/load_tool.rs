//! The `tollgate-bench` load tool against the real server: chained refreshes issue no token
//! twice and raise no error, and race mode sees exactly one winner per round, on every backend.
//! With `--dpop` (RFC 9449) the same checks hold for DPoP-bound families, each refresh with a
//! fresh proof. Correctness only: nothing here asserts a speed.

use std::time::Duration;

use tollgate_bench::{
    run_load, run_race, Dialect, DpopOptions, LoadOptions, ProofAlg, RaceOptions, Stop, Target,
};
use tollgate_tests::{backend_tests, Backend, TestApp};

fn target(app: &TestApp, dialect: Dialect, client: Option<(String, String)>) -> Target {
    Target {
        base_url: app.base_url.clone(),
        dialect,
        user: "loader".into(),
        password: "load pw/ü".into(),
        client,
        long_lived: false,
        dpop: None,
    }
}

/// `target` with DPoP proofs by `alg` keys; `issuer: None` finds the `htu` in the metadata.
fn dpop_target(app: &TestApp, alg: ProofAlg, issuer: Option<String>) -> Target {
    Target {
        dpop: Some(DpopOptions { alg, issuer }),
        ..target(app, Dialect::Product, None)
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

fn dpop_chained_refreshes_are_bound_and_issue_every_token_once(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.database.pool_size = 8) else {
        return;
    };
    app.add_user("loader", "load pw/ü");
    // The issuer (`https://tollgate.test`) is not the address the server listens on: the
    // proofs' htu comes from the metadata, as a client's would.
    let report = run_load(&LoadOptions {
        target: dpop_target(&app, ProofAlg::Es256, None),
        users: 4,
        concurrency: 2,
        stop: Stop::Count(120),
        label: "test".into(),
        progress: false,
    })
    .unwrap();
    assert!(report.ok, "{}", report.human());
    assert_eq!(report.dpop, Some(ProofAlg::Es256));
    assert_eq!((report.logins, report.refreshes), (4, 120));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

fn dpop_race_mode_sees_exactly_one_winner_per_round(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.database.pool_size = 16) else {
        return;
    };
    app.add_user("loader", "load pw/ü");
    let issuer = app.services.policy.issuer.clone();
    let report = run_race(&RaceOptions {
        target: dpop_target(&app, ProofAlg::Eddsa, Some(issuer)),
        racers: 16,
        rounds: 10,
    })
    .unwrap();
    assert!(report.ok, "{:?}", report.failed);
    assert_eq!((report.rounds_ok, report.dpop), (10, Some(ProofAlg::Eddsa)));
}

fn a_dpop_run_with_proofs_for_another_url_fails(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    app.add_user("loader", "load pw/ü");
    // The listener's address, not the issuer: every proof is refused, no user logs in.
    let wrong = dpop_target(&app, ProofAlg::Es256, Some(app.base_url.clone()));
    let result = run_load(&LoadOptions {
        target: wrong,
        users: 1,
        concurrency: 1,
        stop: Stop::Count(5),
        label: String::new(),
        progress: false,
    });
    let error = result.unwrap_err().to_string();
    assert!(error.contains("invalid_dpop_proof"), "{error}");
}

backend_tests!(
    chained_refreshes_issue_every_token_once,
    rfc_dialect_with_a_client_runs_for_a_duration,
    a_wrong_password_is_a_setup_error_not_a_silent_pass,
    race_mode_sees_exactly_one_winner_per_round,
    race_mode_counts_a_retry_grace_repeat_as_one_winner,
    dpop_chained_refreshes_are_bound_and_issue_every_token_once,
    dpop_race_mode_sees_exactly_one_winner_per_round,
    a_dpop_run_with_proofs_for_another_url_fails,
);
