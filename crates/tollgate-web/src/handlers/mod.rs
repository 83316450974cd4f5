//! One handler per file.

pub(crate) mod token;
