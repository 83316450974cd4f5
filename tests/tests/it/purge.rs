//! The background purge of `serve` (API.md §5), end to end on every backend: with the server's
//! clock moved past a session's expiry, the next tick deletes that session and keeps the others.

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use tollgate_tests::{backend_tests, Backend, TestApp};

use tollgate_tests::fixtures::{ADMINISTRATOR as USER, PASSWORD};

backend_tests! {
    the_background_purge_deletes_expired_sessions_and_keeps_live_ones,
    without_an_interval_nothing_is_purged,
}

fn app(backend: Backend, interval: u64) -> Option<TestApp> {
    let app = TestApp::spawn_with(backend, |s| s.purge.interval = interval)?;
    app.add_user(USER, PASSWORD);
    Some(app)
}

fn login(app: &TestApp) -> String {
    let r = app.login(USER, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    r.refresh_token()
}

/// Moves the clock so that a session left alone since login is dead, while one refreshed
/// 23 hours in is not; returns how many sessions the user has afterwards, once `settle` says so.
fn sessions_after_expiry(app: &TestApp, settle: impl Fn(usize) -> bool) -> usize {
    let _abandoned = login(app);
    let kept = login(app);
    app.clock.advance(Duration::hours(23));
    let r = app.refresh(&kept);
    assert_eq!(r.status, 200, "{}", r.text);
    // 25 hours after login: the abandoned session's only token (24 h, plus 30 s leeway) is dead.
    app.clock.advance(Duration::hours(2));
    let deadline = Instant::now() + StdDuration::from_secs(15);
    loop {
        let n = app.admin().list_sessions(USER).unwrap().len();
        if settle(n) || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(StdDuration::from_millis(100));
    }
}

fn the_background_purge_deletes_expired_sessions_and_keeps_live_ones(backend: Backend) {
    let Some(app) = app(backend, 1) else { return };

    let left = sessions_after_expiry(&app, |n| n < 2);

    assert_eq!(
        left, 1,
        "the expired session is purged, the refreshed one stays"
    );
    let live = &app.admin().list_sessions(USER).unwrap()[0];
    assert!(live.revoked_at.is_none());
}

fn without_an_interval_nothing_is_purged(backend: Backend) {
    let Some(app) = app(backend, 0) else { return };

    // Wait a little longer than one tick of the other test would need.
    let started = Instant::now();
    let left = sessions_after_expiry(&app, |_| started.elapsed() > StdDuration::from_secs(2));

    assert_eq!(left, 2);
}
