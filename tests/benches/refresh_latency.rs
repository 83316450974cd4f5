//! Refresh latency through the real HTTP server, per storage backend, measured in one run so the
//! numbers can be compared as a ratio on a noisy machine.
//!
//! `cargo bench -p tollgate-tests --bench refresh_latency` (set `TOLLGATE_TEST_POSTGRES_URL` for
//! the PostgreSQL half). For each backend: 1,000 sequential refreshes (each the client's full
//! round trip: HTTP, JWT verification, the rotation transaction, signing the new pair), then
//! 20 login + refresh round trips with the production Argon2id settings (OWASP: 19 MiB, t = 2).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use tollgate_tests::{Backend, TestApp};

const REFRESHES: usize = 1_000;
const LOGINS: usize = 20;

struct Summary {
    median: Duration,
    p90: Duration,
    p99: Duration,
}

fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Summary {
        median: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
    }
}

fn measure(backend: Backend) -> Option<(Summary, Summary)> {
    let app = TestApp::spawn_with(backend, |s| {
        s.password = tollgate_server::PasswordSettings::default();
    })?;
    app.add_user("bench", "bench-password");
    let mut token = app.login("bench", "bench-password").refresh_token();
    // Warm the pool, caches and branch predictors before timing.
    for _ in 0..50 {
        token = app.refresh(&token).refresh_token();
    }
    let mut refreshes = Vec::with_capacity(REFRESHES);
    for _ in 0..REFRESHES {
        let start = Instant::now();
        let r = app.refresh(&token);
        refreshes.push(start.elapsed());
        assert_eq!(r.status, 200, "{}", r.text);
        token = r.refresh_token();
    }
    let mut round_trips = Vec::with_capacity(LOGINS);
    for _ in 0..LOGINS {
        let start = Instant::now();
        let login = app.login("bench", "bench-password");
        let r = app.refresh(&login.refresh_token());
        round_trips.push(start.elapsed());
        assert_eq!(r.status, 200, "{}", r.text);
    }
    Some((summarize(refreshes), summarize(round_trips)))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run only when benching.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut medians = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some((refresh, round_trip)) = measure(backend) else {
            println!("{backend:?}: skipped");
            continue;
        };
        println!(
            "{backend:?}: refresh median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms over {REFRESHES}; \
             login+refresh median {:.1} ms over {LOGINS}",
            ms(refresh.median),
            ms(refresh.p90),
            ms(refresh.p99),
            ms(round_trip.median)
        );
        medians.push(refresh.median);
    }
    if let [sqlite, postgres] = medians[..] {
        println!(
            "refresh median ratio PostgreSQL/SQLite: {:.2}",
            postgres.as_secs_f64() / sqlite.as_secs_f64()
        );
    }
}
