#![doc = include_str!("../README.md")]

pub mod chart;
pub mod client;
pub mod dpop;
pub mod load;
pub mod race;

pub use client::{Dialect, Target};
pub use dpop::{DpopOptions, ProofAlg};
pub use load::{run_load, LoadOptions, LoadReport, Stop};
pub use race::{run_race, RaceOptions, RaceReport};

/// Why a run could not be carried out (as opposed to a check that failed, which is in the report).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Unusable options, or the server refused to start the run (no login succeeded).
    #[error("cannot run: {0}")]
    Setup(String),
    /// A summary line that does not parse.
    #[error("bad summary: {0}")]
    Json(#[source] serde_json::Error),
    /// Drawing or writing the chart failed.
    #[error("chart: {0}")]
    Chart(String),
    /// Reading an input file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
