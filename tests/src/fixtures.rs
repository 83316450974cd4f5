//! The users and the plain app the end-to-end suites share, instead of a copy per suite.

use crate::{Backend, TestApp};

/// The password of every fixture user.
pub const PASSWORD: &str = "Password1";
/// The ordinary user the client-facing suites log in as.
pub const ALICE: &str = "alice";
/// The user the operator-facing suites log in as.
pub const ADMINISTRATOR: &str = "administrator";

/// A fresh app on `backend` with default settings and `user` (password [`PASSWORD`]) stored;
/// `None` when the backend is skipped.
pub fn app_with_user(backend: Backend, user: &str) -> Option<TestApp> {
    let app = TestApp::spawn(backend)?;
    app.add_user(user, PASSWORD);
    Some(app)
}
