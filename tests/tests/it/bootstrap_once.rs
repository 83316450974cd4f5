//! `[bootstrap]` creates the first user only while the user table is empty: a deleted or renamed
//! administrator does not come back at the next start.

use tollgate_server::SecretString;
use tollgate_tests::{backend_tests, Backend, TestApp, TestEnv};

backend_tests! {
    the_bootstrap_user_is_created_on_an_empty_database,
    a_deleted_bootstrap_user_does_not_come_back_at_restart,
    a_renamed_bootstrap_user_does_not_come_back_at_restart,
}

const ADMIN: &str = "admin";
const PASSWORD: &str = "Bootstrap-Password-1";

fn with_bootstrap(s: &mut tollgate_server::Settings) {
    s.bootstrap.user = Some(ADMIN.to_owned());
    s.bootstrap.password = Some(SecretString::new(PASSWORD));
}

fn the_bootstrap_user_is_created_on_an_empty_database(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else {
        return;
    };
    let app = TestApp::spawn_in(env, with_bootstrap);
    assert_eq!(app.login(ADMIN, PASSWORD).status, 200);
}

fn a_deleted_bootstrap_user_does_not_come_back_at_restart(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else {
        return;
    };
    let app = TestApp::spawn_in(env.clone(), with_bootstrap);
    app.add_user("operator", "Operator-Password-1");
    app.admin().delete(ADMIN).unwrap();
    app.stop();
    let app = TestApp::spawn_in(env, with_bootstrap);
    assert_eq!(app.login(ADMIN, PASSWORD).status, 400);
    let names: Vec<String> = app
        .admin()
        .list()
        .unwrap()
        .into_iter()
        .map(|u| u.name.to_string())
        .collect();
    assert_eq!(names, ["operator"]);
}

fn a_renamed_bootstrap_user_does_not_come_back_at_restart(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else {
        return;
    };
    let app = TestApp::spawn_in(env.clone(), with_bootstrap);
    // No rename command exists: an operator renames by creating the new name and deleting the
    // old one, which is what the table sees either way.
    app.add_user("root", PASSWORD);
    app.admin().delete(ADMIN).unwrap();
    app.stop();
    let app = TestApp::spawn_in(env, with_bootstrap);
    assert_eq!(app.login(ADMIN, PASSWORD).status, 400);
    assert_eq!(app.login("root", PASSWORD).status, 200);
}
