//! Test harness for Tollgate's end-to-end suites: the real server on port 0, an adjustable clock,
//! a small HTTP client and JWT forging helpers.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod app;
mod clock;
pub mod fixtures;
pub mod forge;
mod http;

pub use app::{encode, Backend, TestApp, TestEnv};
pub use clock::TestClock;
pub use http::{is_expires_at, Response};

/// Instantiates each `fn name(backend: Backend)` in the calling module once per storage backend,
/// as `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::Backend::Postgres) } )*
        }
    };
}
