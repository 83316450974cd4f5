//! Integration tests of `tollgate-server`: the real `tollgate` binary run as a child process.
//!
//! One test binary per package: every file that used to be its own binary under `tests/` is a
//! module here, so the package's dependencies are linked once instead of once per file.

mod audit_cli;
mod cli;
mod client_cli;
mod config_show;
mod demo;
mod fresh_start;
mod help;
mod key_rotation;
mod log_scan;
mod logs;
mod multi_process;
mod server_process;
