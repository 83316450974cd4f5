//! Brute-force throttling of the password grant end to end (API.md §1: 429 + Retry-After), on
//! every backend: counted per name and per client address in the database.

use chrono::Duration;
use tollgate_server::LoginSettings;
use tollgate_tests::{backend_tests, Backend, Response, TestApp};

backend_tests! {
    ten_tries_from_one_address_get_400s_then_429s_with_retry_after,
    an_attacker_who_waits_out_each_block_meets_doubling_delays,
    a_throttled_name_is_refused_even_with_the_right_password_and_a_success_resets_it,
    forwarded_for_names_the_client_only_behind_a_trusted_proxy,
}

use tollgate_tests::fixtures::{ADMINISTRATOR as USER, PASSWORD};

/// A server with the default `[login]` settings (5 free failures, 1 s doubling, 15 min cap).
fn app(backend: Backend, trusted_proxies: &[&str]) -> Option<TestApp> {
    let proxies: Vec<String> = trusted_proxies.iter().map(|s| (*s).to_owned()).collect();
    let app = TestApp::spawn_with(backend, move |s| {
        s.login = LoginSettings::default();
        s.server.trusted_proxies = proxies;
    })?;
    app.add_user(USER, PASSWORD);
    Some(app)
}

fn outcome(r: &Response) -> (u16, Option<String>) {
    if r.status == 429 {
        assert_eq!(r.error(), "temporarily_unavailable", "{}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-store"));
    } else {
        assert_eq!(r.error(), "invalid_grant", "{}", r.text);
    }
    (r.status, r.header("retry-after").map(str::to_owned))
}

fn seq(v: &[(u16, Option<&str>)]) -> Vec<(u16, Option<String>)> {
    v.iter().map(|(s, r)| (*s, r.map(str::to_owned))).collect()
}

fn ten_tries_from_one_address_get_400s_then_429s_with_retry_after(backend: Backend) {
    let Some(app) = app(backend, &[]) else { return };
    // A different unknown name each time: only the address counter can stop this attacker.
    let got: Vec<_> = (0..10)
        .map(|i| outcome(&app.login(&format!("guess-{i}"), "wrong")))
        .collect();
    eprintln!("{backend:?}: ten immediate tries from one address: {got:?}");
    let free = (400, None);
    let blocked = (429, Some("1"));
    assert_eq!(
        got,
        seq(&[free, free, free, free, free, free, blocked, blocked, blocked, blocked])
    );
}

fn an_attacker_who_waits_out_each_block_meets_doubling_delays(backend: Backend) {
    let Some(app) = app(backend, &[]) else { return };
    let mut got = Vec::new();
    for _ in 0..10 {
        let o = outcome(&app.login(USER, "wrong"));
        if let Some(secs) = &o.1 {
            app.clock.advance(Duration::seconds(secs.parse().unwrap()));
        }
        got.push(o);
    }
    eprintln!("{backend:?}: ten tries waiting out each Retry-After: {got:?}");
    let free = (400, None);
    assert_eq!(
        got,
        seq(&[
            free,
            free,
            free,
            free,
            free,
            free,
            (429, Some("1")),
            free,
            (429, Some("2")),
            free,
        ])
    );
    // The eighth failure blocks for 4 s, and the block is announced to the second.
    app.clock.advance(Duration::seconds(1));
    assert_eq!(outcome(&app.login(USER, PASSWORD)), (429, Some("3".into())));
}

fn a_throttled_name_is_refused_even_with_the_right_password_and_a_success_resets_it(
    backend: Backend,
) {
    // Every attempt from its own forwarded address, so only the name's counter is at work.
    let Some(app) = app(backend, &["127.0.0.1/32"]) else {
        return;
    };
    let mut n = 0;
    let mut login = |password: &str| {
        n += 1;
        app.post_token_with_header(
            &format!("grantType=Password&userName={USER}&password={password}"),
            "X-Forwarded-For",
            &format!("198.51.100.{n}"),
        )
    };
    for _ in 0..6 {
        assert_eq!(login("wrong").status, 400);
    }
    let r = login(PASSWORD);
    assert_eq!(
        outcome(&r),
        (429, Some("1".into())),
        "the right password waits too"
    );
    app.clock.advance(Duration::seconds(1));
    assert_eq!(login(PASSWORD).status, 200);
    // The success reset the name: five free failures again.
    for _ in 0..6 {
        assert_eq!(login("wrong").status, 400);
    }
    assert_eq!(login("wrong").status, 429);
}

fn forwarded_for_names_the_client_only_behind_a_trusted_proxy(backend: Backend) {
    for (trusted, expect_blocked) in [(vec![], true), (vec!["127.0.0.0/8"], false)] {
        let Some(app) = app(backend, &trusted) else {
            return;
        };
        let statuses: Vec<u16> = (0..8)
            .map(|i| {
                app.post_token_with_header(
                    &format!("grantType=Password&userName=guess-{i}&password=wrong"),
                    "X-Forwarded-For",
                    &format!("203.0.113.{i}"),
                )
                .status
            })
            .collect();
        assert_eq!(
            statuses.contains(&429),
            expect_blocked,
            "trusted {trusted:?}: {statuses:?}"
        );
    }
}
