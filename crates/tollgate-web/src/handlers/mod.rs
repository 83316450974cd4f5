//! One handler per file.

pub(crate) mod discovery;
pub(crate) mod introspect;
pub(crate) mod jwks;
pub(crate) mod logout;
pub(crate) mod me;
pub(crate) mod revoke;
pub(crate) mod token;
