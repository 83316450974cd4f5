//! The security event trail end to end, on every backend: what the real app stores in
//! `security_events` when a login fails, a refresh token is reused, a session is logged out and a
//! client fails to authenticate, and that no password, token or secret of the run reaches it.

use tollgate_application::{EventFilter, SecurityEventLog, SecurityEventRecord};
use tollgate_domain::UserName;
use tollgate_tests::fixtures::{app_with_user, ADMINISTRATOR as USER, PASSWORD};
use tollgate_tests::{backend_tests, encode, forge, Backend, TestApp};

backend_tests! {
    a_failed_login_a_reuse_and_a_logout_leave_their_rows,
    a_failed_client_authentication_is_stored_with_the_client_and_address,
    the_trail_holds_no_password_token_or_secret_of_the_run,
}

/// Every stored event, oldest first.
fn trail(app: &TestApp) -> Vec<SecurityEventRecord> {
    let mut events = app
        .services
        .database
        .security_event_store()
        .list(&EventFilter {
            limit: 10_000,
            ..EventFilter::default()
        })
        .unwrap();
    events.reverse();
    events
}

/// The request-caused events (start-up's `key_generated` left out), as (kind, detail).
fn kinds(events: &[SecurityEventRecord]) -> Vec<(&str, Option<&str>)> {
    events
        .iter()
        .filter(|e| e.kind != "key_generated")
        .map(|e| (e.kind.as_str(), e.detail.as_deref()))
        .collect()
}

fn user_id(app: &TestApp) -> tollgate_domain::UserId {
    app.services
        .ports
        .users
        .find_by_name(&UserName::parse(USER).unwrap())
        .unwrap()
        .unwrap()
        .id
}

fn sid(access_token: &str) -> String {
    forge::decode(access_token).payload["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn a_failed_login_a_reuse_and_a_logout_leave_their_rows(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let alice = user_id(&app);

    assert_eq!(app.login(USER, "not the password").status, 400);

    let first = app.login(USER, PASSWORD);
    assert_eq!(first.status, 200, "{}", first.text);
    let stolen = first.refresh_token();
    assert_eq!(app.refresh(&stolen).status, 200);
    assert_eq!(app.refresh(&stolen).error(), "invalid_grant", "reuse");
    let reused_family = sid(&first.access_token());

    let second = app.login(USER, PASSWORD);
    let r = app.post_authorized(
        "/api/oauth2/logout",
        Some(&format!("Bearer {}", second.access_token())),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    let logged_out = sid(&second.access_token());

    let events = trail(&app);
    assert_eq!(
        kinds(&events),
        [
            ("login_failed", Some("wrong_password")),
            ("refresh_reuse", events[events.len() - 3].detail.as_deref()),
            ("family_revoked", Some("reuse")),
            ("family_revoked", Some("logout")),
        ],
        "{events:#?}"
    );
    let request_events: Vec<_> = events
        .iter()
        .filter(|e| e.kind != "key_generated")
        .collect();
    for e in &request_events {
        assert_eq!(e.user_id, Some(alice), "{e:?}");
        assert_eq!(e.address.as_deref(), Some("127.0.0.1"), "{e:?}");
        assert_eq!(e.client_id, None, "no client was used: {e:?}");
    }
    let family = |e: &SecurityEventRecord| e.family_id.map(|f| f.to_string());
    assert_eq!(request_events[0].family_id, None);
    assert_eq!(family(request_events[1]), Some(reused_family.clone()));
    assert!(request_events[1]
        .detail
        .as_deref()
        .unwrap()
        .starts_with("token_id "));
    assert_eq!(family(request_events[2]), Some(reused_family));
    assert_eq!(family(request_events[3]), Some(logged_out));
    // Every instant comes from the app's clock, in order.
    assert!(request_events
        .windows(2)
        .all(|w| w[0].occurred_at <= w[1].occurred_at));
    assert!(request_events
        .iter()
        .all(|e| e.occurred_at <= app.services.ports.clock.now()));
}

fn a_failed_client_authentication_is_stored_with_the_client_and_address(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let secret = app.add_client("web-app", "password,refresh_token");
    let body = format!(
        "grant_type=password&username={}&password={}",
        encode(USER),
        encode(PASSWORD)
    );
    let refused = app.post_with_basic("/api/oauth2/token", "web-app", "not-the-secret", &body);
    assert_eq!(refused.status, 401, "{}", refused.text);
    // With the right secret, a failed login names the client it came through.
    let wrong = format!(
        "grant_type=password&username={}&password=wrong",
        encode(USER)
    );
    let failed = app.post_with_basic("/api/oauth2/token", "web-app", &secret, &wrong);
    assert_eq!(failed.status, 400, "{}", failed.text);

    let events = trail(&app);
    let request_events: Vec<_> = events
        .iter()
        .filter(|e| e.kind != "key_generated")
        .collect();
    assert_eq!(
        kinds(&events),
        [
            ("client_auth_failed", None),
            ("login_failed", Some("wrong_password"))
        ]
    );
    for e in request_events {
        assert_eq!(e.client_id.as_deref(), Some("web-app"), "{e:?}");
        assert_eq!(e.address.as_deref(), Some("127.0.0.1"), "{e:?}");
    }
}

fn the_trail_holds_no_password_token_or_secret_of_the_run(backend: Backend) {
    let Some(app) = app_with_user(backend, USER) else {
        return;
    };
    let secret = app.add_client("web-app", "password,refresh_token");
    let wrong_password = "Wr0ng-Guess-7741";
    let typed_in_name = "P4ssword-typed-in-the-name-field";
    let mut known = vec![
        PASSWORD.to_owned(),
        wrong_password.to_owned(),
        typed_in_name.to_owned(),
        secret.clone(),
    ];

    app.login(USER, wrong_password);
    app.login(typed_in_name, PASSWORD);
    app.post_with_basic(
        "/api/oauth2/token",
        "web-app",
        wrong_password,
        &format!("grant_type=password&username={USER}&password={PASSWORD}"),
    );
    let pair = app.login(USER, PASSWORD);
    let next = app.refresh(&pair.refresh_token());
    app.refresh(&pair.refresh_token());
    let other = app.login(USER, PASSWORD);
    app.post_authorized(
        "/api/oauth2/logout",
        Some(&format!("Bearer {}", other.access_token())),
    );
    let revoked = app.login(USER, PASSWORD);
    let r = app.post_with_basic(
        "/api/oauth2/revoke",
        "web-app",
        &secret,
        &format!("token={}", revoked.refresh_token()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    for response in [&pair, &next, &other, &revoked] {
        known.push(response.access_token());
        known.push(response.refresh_token());
    }

    let events = trail(&app);
    assert!(
        events.len() >= 8,
        "the run left too few events: {events:#?}"
    );
    for e in &events {
        let row = format!("{e:?}");
        for secret in &known {
            assert!(!row.contains(secret.as_str()), "{secret} stored in {row}");
        }
        // The name typed into a failed login is stored only as a digest.
        assert!(!row.contains(USER), "a raw user name in {row}");
    }
    let revocations: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "family_revoked")
        .map(|e| (e.detail.as_deref(), e.client_id.as_deref()))
        .collect();
    assert_eq!(
        revocations,
        [
            (Some("reuse"), None),
            (Some("logout"), None),
            (Some("revoked"), Some("web-app"))
        ]
    );
}
