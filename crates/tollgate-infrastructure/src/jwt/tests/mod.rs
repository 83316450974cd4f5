//! The `jwt` module's tests, one file per concern; `support` holds the shared keys and helpers.

mod algorithms;
mod codec;
mod jwks;
mod key_cache;
mod keys;
mod lifecycle;
mod schedule;
mod support;
