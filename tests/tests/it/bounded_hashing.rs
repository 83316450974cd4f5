//! Bounded password hashing end to end: at most `password.max_concurrent_hashes` verifications
//! run at once, a login that cannot get a slot within `password.queue_timeout` is `503` with
//! `Retry-After`, and refreshes do not queue behind logins.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration as StdDuration;

use tollgate_application::{Error, PasswordHasher};
use tollgate_domain::{Password, PasswordHash};
use tollgate_infrastructure::{Argon2Hasher, Argon2Params};
use tollgate_tests::{all_at_once, backend_tests, Backend, TestApp};

backend_tests! {
    logins_never_hash_more_than_the_configured_number_at_once,
    a_login_that_cannot_get_a_slot_in_time_is_503_with_retry_after,
    a_refresh_does_not_queue_behind_waiting_logins,
}

/// Cheap Argon2 that also sleeps in `verify` and records how many verifications overlapped.
struct SlowCountingHasher {
    inner: Argon2Hasher,
    delay: StdDuration,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    done: AtomicUsize,
}

impl SlowCountingHasher {
    fn new(delay: StdDuration) -> Arc<Self> {
        Arc::new(Self {
            inner: Argon2Hasher::new(Argon2Params {
                memory_kib: 8,
                iterations: 1,
                parallelism: 1,
            })
            .unwrap(),
            delay,
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        })
    }
}

impl PasswordHasher for SlowCountingHasher {
    fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        self.inner.hash(password)
    }

    fn verify(&self, password: &Password, hash: Option<&PasswordHash>) -> Result<bool, Error> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        thread::sleep(self.delay);
        let result = self.inner.verify(password, hash);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.done.fetch_add(1, Ordering::SeqCst);
        result
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        self.inner.needs_rehash(hash)
    }
}

fn app(
    backend: Backend,
    hasher: &Arc<SlowCountingHasher>,
    slots: usize,
    queue_timeout: f64,
) -> Option<Arc<TestApp>> {
    let app = TestApp::spawn_with_hasher(backend, hasher.clone(), |s| {
        s.password.max_concurrent_hashes = slots;
        s.password.queue_timeout = queue_timeout;
    })?;
    Some(Arc::new(app))
}

/// `n` logins with unknown names, all sent at once; their responses' status and Retry-After.
fn flood(app: &Arc<TestApp>, n: usize) -> Vec<(u16, Option<String>)> {
    all_at_once(app, (0..n).collect(), |app, i| {
        let r = app.login(&format!("nobody-{i}"), "wrong");
        (r.status, r.header("retry-after").map(str::to_owned))
    })
}

fn logins_never_hash_more_than_the_configured_number_at_once(backend: Backend) {
    let hasher = SlowCountingHasher::new(StdDuration::from_millis(200));
    let Some(app) = app(backend, &hasher, 2, 30.0) else {
        return;
    };
    let results = flood(&app, 8);
    assert!(results.iter().all(|(s, _)| *s == 400), "{results:?}");
    assert_eq!(
        hasher.peak.load(Ordering::SeqCst),
        2,
        "two slots, both used"
    );
}

fn a_login_that_cannot_get_a_slot_in_time_is_503_with_retry_after(backend: Backend) {
    let hasher = SlowCountingHasher::new(StdDuration::from_millis(1500));
    let Some(app) = app(backend, &hasher, 1, 0.2) else {
        return;
    };
    let results = flood(&app, 3);
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s == 503).collect();
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 400).count(),
        1,
        "{results:?}"
    );
    assert_eq!(refused.len(), 2, "{results:?}");
    assert!(refused.iter().all(|(_, ra)| ra.as_deref() == Some("5")));
    assert_eq!(hasher.peak.load(Ordering::SeqCst), 1);
}

fn a_refresh_does_not_queue_behind_waiting_logins(backend: Backend) {
    let hasher = SlowCountingHasher::new(StdDuration::from_millis(500));
    let Some(app) = app(backend, &hasher, 1, 30.0) else {
        return;
    };
    app.add_user("alice", "Password1");
    let r = app.login("alice", "Password1");
    assert_eq!(r.status, 200, "{}", r.text);
    let refresh_token = r.refresh_token();
    let before = hasher.done.load(Ordering::SeqCst);
    let flooding = {
        let app = Arc::clone(&app);
        thread::spawn(move || flood(&app, 6))
    };
    // Let the flood take the slot and queue behind it.
    thread::sleep(StdDuration::from_millis(300));
    let r = app.refresh(&refresh_token);
    assert_eq!(r.status, 200, "{}", r.text);
    let hashed_meanwhile = hasher.done.load(Ordering::SeqCst) - before;
    assert!(
        hashed_meanwhile < 3,
        "the refresh waited for {hashed_meanwhile} of 6 queued logins"
    );
    assert!(flooding.join().unwrap().iter().all(|(s, _)| *s == 400));
}
