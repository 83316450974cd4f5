//! One refresh token presented by 16 concurrent requests: exactly one new pair, on every backend.
//! Real threads against the real HTTP server and database; no retries.

use std::sync::Arc;

use tollgate_tests::{all_at_once, backend_tests, Backend, TestApp};

const RACERS: usize = 16;
const ROUNDS: usize = 50;

fn one_refresh_token_raced_by_sixteen_requests_yields_exactly_one_pair(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.database.pool_size = 16) else {
        return;
    };
    app.add_user("racer", "pw");
    let app = Arc::new(app);
    for round in 0..ROUNDS {
        let refresh = app.login("racer", "pw").refresh_token();
        let responses = all_at_once(&app, vec![refresh; RACERS], |app, token| {
            app.refresh(&token)
        });
        let winners: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
        let losers = responses
            .iter()
            .filter(|r| r.status == 400 && r.error() == "invalid_grant")
            .count();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {:?}",
            responses.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        assert_eq!(losers, RACERS - 1, "round {round}");
        // The losers were reuse: the family, winner's new pair included, is revoked.
        let after = app.refresh(&winners[0].refresh_token());
        assert_eq!(after.error(), "invalid_grant", "round {round}");
    }
}

backend_tests!(one_refresh_token_raced_by_sixteen_requests_yields_exactly_one_pair);

/// The same race with PgBouncer (transaction pooling) between the server and PostgreSQL.
mod pgbouncer {
    #[test]
    fn one_refresh_token_raced_by_sixteen_requests_yields_exactly_one_pair() {
        super::one_refresh_token_raced_by_sixteen_requests_yields_exactly_one_pair(
            tollgate_tests::Backend::PgBouncer,
        );
    }
}
