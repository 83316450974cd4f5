//! Test harness for Tollgate's end-to-end suites: the real server on port 0, an adjustable clock,
//! a small HTTP client and JWT forging helpers.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod app;
mod clock;
mod concurrent;
pub mod fixtures;
pub mod forge;
mod http;

pub use app::{encode, Backend, TestApp, TestEnv};
pub use clock::TestClock;
pub use concurrent::all_at_once;
pub use http::{is_expires_at, Response};

#[doc(hidden)]
pub use tollgate_infrastructure::per_backend;

/// Instantiates each `fn name(backend: Backend)` in the calling module once per storage backend,
/// as `sqlite::name` and `postgres::name` (the store contract's `per_backend!` with this harness's
/// backends; a skipped backend is skipped by `TestApp::spawn`).
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $crate::per_backend! {
            [sqlite => Some($crate::Backend::Sqlite), postgres => Some($crate::Backend::Postgres)]
            $($name),*
        }
    };
}
