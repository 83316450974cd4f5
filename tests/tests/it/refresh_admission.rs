//! `server.max_concurrent_refreshes`: at most that many refresh grants run at once; the others
//! wait their turn (holding no thread) and are then served as usual, unless they wait longer
//! than `server.refresh_queue_timeout`.

use std::sync::Arc;
use std::time::Duration;

use tollgate_tests::{all_at_once, backend_tests, Backend, Response, TestApp};

backend_tests! {
    refreshes_beyond_the_limit_wait_their_turn,
    as_many_refreshes_as_the_limit_run_together,
    refreshes_that_wait_past_the_queue_timeout_are_refused_and_spend_nothing,
}

/// `at_once` chains refreshed all at once on a server allowing `turns` refreshes at a time
/// (and `queue_timeout` seconds of waiting for one, when given). A refresh reads the clock once
/// as it starts, and the test clock makes each reading last `reading` and counts how many
/// overlap. Returns the app, the tokens presented and their answers, in the same order.
fn refresh_all_at_once(
    backend: Backend,
    turns: usize,
    queue_timeout: Option<f64>,
    reading: Duration,
    at_once: usize,
) -> Option<(Arc<TestApp>, Vec<String>, Vec<Response>)> {
    let app = TestApp::spawn_with(backend, |s| {
        s.server.max_concurrent_refreshes = turns;
        if let Some(timeout) = queue_timeout {
            s.server.refresh_queue_timeout = timeout;
        }
        s.database.pool_size = 16;
        // Nothing but the refreshes reads the clock while it is slowed.
        s.purge.interval = 0;
    })?;
    app.add_user("walker", "pw");
    let tokens: Vec<String> = (0..at_once)
        .map(|_| app.login("walker", "pw").refresh_token())
        .collect();
    app.clock.slow_readings(reading);
    let app = Arc::new(app);
    let answers = all_at_once(&app, tokens.clone(), |app, token| app.refresh(&token));
    app.clock.slow_readings(Duration::ZERO);
    Some((app, tokens, answers))
}

fn statuses(answers: &[Response]) -> Vec<u16> {
    answers.iter().map(|r| r.status).collect()
}

fn refreshes_beyond_the_limit_wait_their_turn(backend: Backend) {
    let Some((app, _, answers)) =
        refresh_all_at_once(backend, 1, None, Duration::from_millis(300), 4)
    else {
        return;
    };
    assert_eq!(
        statuses(&answers),
        [200; 4],
        "every waiting refresh is served"
    );
    assert_eq!(
        app.clock.peak_readings(),
        1,
        "one turn: the refreshes ran one after another"
    );
}

/// The other side of the test above: the probe does see refreshes overlap, up to the limit, so
/// the peak of one there is the limit's doing.
fn as_many_refreshes_as_the_limit_run_together(backend: Backend) {
    let Some((app, _, answers)) =
        refresh_all_at_once(backend, 3, None, Duration::from_millis(300), 6)
    else {
        return;
    };
    assert_eq!(statuses(&answers), [200; 6]);
    assert_eq!(app.clock.peak_readings(), 3);
}

/// A refresh that waits for its turn longer than `server.refresh_queue_timeout` is answered 503
/// `temporarily_unavailable` with `Retry-After`, and its token is not spent: the client can retry
/// it. With one turn, readings of 800 ms and a 1 s timeout, the first refresh starts at once and
/// the last of four waits at least three readings (2.4 s), so both outcomes occur whatever the
/// machine's pace.
fn refreshes_that_wait_past_the_queue_timeout_are_refused_and_spend_nothing(backend: Backend) {
    let Some((app, tokens, answers)) =
        refresh_all_at_once(backend, 1, Some(1.0), Duration::from_millis(800), 4)
    else {
        return;
    };

    let statuses = statuses(&answers);
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    assert_eq!(app.clock.peak_readings(), 1, "still one at a time");
    for (answer, token) in answers.iter().zip(&tokens) {
        match answer.status {
            200 => {}
            503 => {
                assert_eq!(answer.error(), "temporarily_unavailable", "{}", answer.text);
                assert_eq!(answer.header("retry-after"), Some("5"));
                // Not spent: the same token refreshes now, and nothing was revoked for reuse.
                assert_eq!(app.refresh(token).status, 200, "a refused token stays live");
            }
            other => panic!("unexpected status {other}: {}", answer.text),
        }
    }
}
