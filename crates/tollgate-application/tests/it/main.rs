//! Use-case tests of `tollgate-application`, against mockall mocks of its ports.
//!
//! One test binary per package: every file that used to be its own binary under `tests/` is a
//! module here, so the package's dependencies are linked once instead of once per file.

mod access_guard;
mod audit_trail;
mod clients;
mod common;
mod dpop_check;
mod introspection;
mod login;
mod login_throttle;
mod refresh;
mod retry_grace;
mod revocation;
mod user_admin;
