//! Integration tests of `tollgate-infrastructure`: the store contract on every backend, backend
//! specifics, verification properties and (ignored) load measurements.
//!
//! `jwt_provider_default.rs` and `jwt_provider_host_first.rs` stay separate binaries: each
//! installs (or expects) a process-wide `jsonwebtoken` crypto provider, so each needs a process
//! of its own, and any JWT test in this binary would install Tollgate's provider first.
//!
//! One test binary per package: every file that used to be its own binary under `tests/` is a
//! module here, so the package's dependencies are linked once instead of once per file.

mod store_backends;
mod store_contract;
mod store_load;
mod verify_proptest;
