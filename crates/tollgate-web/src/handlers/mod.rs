//! One handler per file.

pub(crate) mod logout;
pub(crate) mod me;
pub(crate) mod token;
