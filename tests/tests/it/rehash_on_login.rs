//! A hash made under other Argon2 parameters is replaced by one under the configured parameters
//! at the next successful login, so old accounts do not keep a cost (and timing) of their own.

use tollgate_domain::UserName;
use tollgate_server::PasswordSettings;
use tollgate_tests::{backend_tests, Backend, TestApp, TestEnv};

backend_tests! {
    a_login_rehashes_a_password_stored_with_other_parameters,
}

fn stored_hash(app: &TestApp, name: &str) -> String {
    app.services
        .ports
        .users
        .find_by_name(&UserName::parse(name).unwrap())
        .unwrap()
        .unwrap()
        .password_hash
        .as_str()
        .to_owned()
}

fn a_login_rehashes_a_password_stored_with_other_parameters(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else {
        return;
    };
    // The test environment's cheap parameters: m=8, t=1.
    let app = TestApp::spawn_in(env.clone(), |_| {});
    app.add_user("alice", "Password1");
    assert!(stored_hash(&app, "alice").starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
    app.stop();

    let app = TestApp::spawn_in(env, |s| s.password = PasswordSettings::default());
    assert_eq!(app.login("alice", "wrong").status, 400);
    assert!(
        stored_hash(&app, "alice").starts_with("$argon2id$v=19$m=8,t=1,p=1$"),
        "a failed login changes nothing"
    );
    assert_eq!(app.login("alice", "Password1").status, 200);
    let rehashed = stored_hash(&app, "alice");
    assert!(
        rehashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{rehashed}"
    );
    assert_eq!(app.login("alice", "Password1").status, 200);
    assert_eq!(stored_hash(&app, "alice"), rehashed, "a current hash stays");
}
