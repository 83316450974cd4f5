//! Integration tests of `tollgate-web`: the extractors and parsers through the public API.
//!
//! One test binary per package: every file that used to be its own binary under `tests/` is a
//! module here, so the package's dependencies are linked once instead of once per file.

mod extractor;
mod parsers_proptest;
