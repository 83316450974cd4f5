use thiserror::Error;

/// Why the server or a command could not do its work.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The settings could not be read or are invalid.
    #[error("configuration error: {0}")]
    Config(String),
    /// An adapter failed to start (database, keys, hasher).
    #[error(transparent)]
    Infra(#[from] tollgate_infrastructure::InfraError),
    /// A use case failed.
    #[error(transparent)]
    App(#[from] tollgate_application::Error),
    /// The TLS certificate or key (`server.tls.*`) is unusable.
    #[error("TLS error: {0}")]
    Tls(String),
    /// Input given on the command line was refused.
    #[error("{0}")]
    Input(String),
    /// Binding, serving or reading input failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<config::ConfigError> for ServerError {
    fn from(e: config::ConfigError) -> Self {
        Self::Config(e.to_string())
    }
}
