//! The `tollgate` binary.

use std::process::ExitCode;

use clap::Parser;
use tollgate_server::cli::Cli;

fn main() -> ExitCode {
    match Cli::parse().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes helps operators; none of our errors carries a secret.
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            eprintln!("tollgate: {message}");
            ExitCode::FAILURE
        }
    }
}
