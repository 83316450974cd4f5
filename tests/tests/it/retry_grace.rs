//! The optional retry grace (API.md §3), end to end on every backend: within `tokens.reuse_grace`
//! seconds of a rotation the immediately preceding token gets the same successor pair, byte for
//! byte, while that successor is unused; anything else is reuse and revokes the family.

use std::sync::Arc;

use chrono::Duration;
use tollgate_tests::{all_at_once, backend_tests, Backend, Response, TestApp};

use tollgate_tests::fixtures::{ADMINISTRATOR as USER, PASSWORD};
const GRACE_SECS: i64 = 10;

fn app_with_grace(backend: Backend, grace: i64) -> Option<TestApp> {
    let app = TestApp::spawn_with(backend, |s| s.tokens.reuse_grace = grace)?;
    app.add_user(USER, PASSWORD);
    Some(app)
}

fn login(app: &TestApp) -> String {
    let r = app.login(USER, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    r.refresh_token()
}

fn refreshed(app: &TestApp, token: &str) -> Response {
    let r = app.refresh(token);
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

fn assert_invalid_grant(r: &Response, what: &str) {
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant".to_owned()),
        "{what}: {}",
        r.text
    );
}

/// The two answers carry the same pair: same token strings, same expiries, same bytes.
fn assert_same_pair(retry: &Response, original: &Response) {
    let (a, b) = (retry.json(), original.json());
    for field in [
        "access_token",
        "refresh_token",
        "accessTokenExpiresAt",
        "refreshTokenExpiresAt",
        "expires_in",
        "token_type",
    ] {
        assert_eq!(a[field], b[field], "{field} differs");
    }
    assert_eq!(retry.text, original.text);
}

fn a_retry_inside_the_grace_returns_the_byte_identical_pair(backend: Backend) {
    let Some(app) = app_with_grace(backend, GRACE_SECS) else {
        return;
    };
    let first = login(&app);
    let original = refreshed(&app, &first);
    // Later, but inside the window: the expiries must still be the rotation's, not now's.
    app.clock.advance(Duration::seconds(GRACE_SECS - 3));
    let retry = refreshed(&app, &first);
    assert_same_pair(&retry, &original);
    let again = refreshed(&app, &first);
    assert_same_pair(&again, &original);
    // Nothing was revoked: the successor still rotates, into a new pair.
    let next = refreshed(&app, &original.refresh_token());
    assert_ne!(next.refresh_token(), original.refresh_token());
    assert_eq!(refreshed(&app, &next.refresh_token()).status, 200);
}

fn a_retry_after_the_grace_is_reuse_and_revokes_the_successor(backend: Backend) {
    let Some(app) = app_with_grace(backend, GRACE_SECS) else {
        return;
    };
    let first = login(&app);
    let second = refreshed(&app, &first).refresh_token();
    app.clock.advance(Duration::seconds(GRACE_SECS + 1));
    assert_invalid_grant(&app.refresh(&first), "retry after the window");
    assert_invalid_grant(&app.refresh(&second), "successor after reuse");
}

fn a_token_two_generations_old_is_reuse_even_inside_the_grace(backend: Backend) {
    let Some(app) = app_with_grace(backend, GRACE_SECS) else {
        return;
    };
    let first = login(&app);
    let second = refreshed(&app, &first).refresh_token();
    let third = refreshed(&app, &second).refresh_token();
    // `first` was spent a moment ago, but its successor is spent too.
    assert_invalid_grant(&app.refresh(&first), "grandparent");
    assert_invalid_grant(&app.refresh(&third), "live token after reuse");
    // Even the token the grace would have covered is dead with its family.
    assert_invalid_grant(&app.refresh(&second), "parent after reuse");
}

fn a_retry_after_the_successor_was_used_is_reuse_and_revokes_the_family(backend: Backend) {
    let Some(app) = app_with_grace(backend, GRACE_SECS) else {
        return;
    };
    let first = login(&app);
    let original = refreshed(&app, &first);
    // While the successor is unused the retry is answered...
    assert_same_pair(&refreshed(&app, &first), &original);
    let third = refreshed(&app, &original.refresh_token()).refresh_token();
    // ...once it is used, the same retry is reuse.
    assert_invalid_grant(&app.refresh(&first), "retry after the successor's use");
    assert_invalid_grant(&app.refresh(&third), "grandchild after reuse");
}

fn without_a_grace_an_immediate_retry_is_reuse(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    app.add_user(USER, PASSWORD);
    let first = login(&app);
    let second = refreshed(&app, &first).refresh_token();
    assert_invalid_grant(&app.refresh(&first), "immediate retry");
    assert_invalid_grant(&app.refresh(&second), "successor after reuse");
}

const RACE_ROUNDS: usize = 20;

/// Presents `a` and `b` at the same instant from two threads.
fn at_once(app: &Arc<TestApp>, a: String, b: String) -> (Response, Response) {
    let mut responses = all_at_once(app, vec![a, b], |app, token| app.refresh(&token));
    let b = responses.pop().unwrap();
    let a = responses.pop().unwrap();
    (a, b)
}

fn a_retry_racing_the_successors_use_has_one_of_the_two_linearizable_outcomes(backend: Backend) {
    let Some(app) = app_with_grace(backend, GRACE_SECS) else {
        return;
    };
    let app = Arc::new(app);
    let (mut retry_first, mut use_first) = (0, 0);
    for round in 0..RACE_ROUNDS {
        let first = login(&app);
        let original = refreshed(&app, &first);
        let (retry, used) = at_once(&app, first, original.refresh_token());
        match (retry.status, used.status) {
            // The retry saw the successor unused: it got the identical pair, and the
            // successor's use was an ordinary rotation that leaves the family live.
            (200, 200) => {
                retry_first += 1;
                assert_same_pair(&retry, &original);
                assert_eq!(
                    app.refresh(&used.refresh_token()).status,
                    200,
                    "round {round}: the family must be live"
                );
            }
            // The retry saw the successor spent: reuse, and the family dies with the pair the
            // successor's use may have produced.
            (400, status) => {
                use_first += 1;
                assert_invalid_grant(&retry, "retry after the successor's use");
                let latest = if status == 200 {
                    used.refresh_token()
                } else {
                    assert_invalid_grant(&used, "successor of a revoked family");
                    original.refresh_token()
                };
                assert_invalid_grant(&app.refresh(&latest), "latest token after reuse");
            }
            other => panic!(
                "round {round}: not linearizable: {other:?}\nretry: {}\nuse: {}",
                retry.text, used.text
            ),
        }
    }
    eprintln!("{backend:?}: retry first {retry_first}, successor's use first {use_first}");
}

fn concurrent_retries_inside_the_grace_all_get_the_one_pair(backend: Backend) {
    const RACERS: usize = 8;
    let Some(app) = app_with_grace(backend, GRACE_SECS) else {
        return;
    };
    let app = Arc::new(app);
    for round in 0..5 {
        let first = login(&app);
        let responses = all_at_once(&app, vec![first; RACERS], |app, token| app.refresh(&token));
        // Exactly one successor was minted: the winner's, which every loser of the race and
        // every later retry gets again instead of tripping reuse.
        for r in &responses {
            assert_eq!(r.status, 200, "round {round}: {}", r.text);
            assert_same_pair(r, &responses[0]);
        }
        assert_eq!(
            app.refresh(&responses[0].refresh_token()).status,
            200,
            "round {round}: the family must be live"
        );
    }
}

backend_tests!(
    a_retry_inside_the_grace_returns_the_byte_identical_pair,
    a_retry_after_the_grace_is_reuse_and_revokes_the_successor,
    a_token_two_generations_old_is_reuse_even_inside_the_grace,
    a_retry_after_the_successor_was_used_is_reuse_and_revokes_the_family,
    without_a_grace_an_immediate_retry_is_reuse,
    a_retry_racing_the_successors_use_has_one_of_the_two_linearizable_outcomes,
    concurrent_retries_inside_the_grace_all_get_the_one_pair,
);
