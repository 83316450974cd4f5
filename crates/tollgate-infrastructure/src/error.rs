use thiserror::Error;
use tollgate_application::Error as AppError;

/// Failures of the adapters themselves (start-up, keys, storage plumbing).
///
/// Port methods return [`tollgate_application::Error`]; the conversion below decides which
/// failures are "storage unavailable" (retryable, HTTP 503) and which are unexpected. The
/// storage variants exist only when a backend feature (`sqlite`, `postgres`) is on.
#[derive(Debug, Error)]
pub enum InfraError {
    /// A file could not be read or written.
    #[error("i/o error on {path}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// OpenSSL failed (key generation, parsing, signing).
    #[error("cryptography error")]
    Crypto(#[from] openssl::error::ErrorStack),
    /// A key or certificate file is unusable.
    #[error("invalid key material: {0}")]
    Key(String),
    /// Password hashing failed or its parameters are invalid.
    #[error("password hashing error: {0}")]
    PasswordHash(String),
    /// A file holding secrets (database, private key) can be read by group or others; the
    /// message names the file and the `chmod` that fixes it.
    #[error("{0}")]
    InsecureFile(String),
    /// A JWKS document is unusable (see `jwt::JwksVerifier::from_jwks_json`).
    #[error("invalid JWKS: {0}")]
    Jwks(String),
    /// The DPoP settings are unusable (the issuer is not an absolute http(s) URL).
    #[error("invalid DPoP settings: {0}")]
    Dpop(String),
    /// The database URL names a backend this build does not have, or is malformed.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("unsupported database URL: {0}")]
    UnsupportedDatabase(String),
    /// A connection could not be had from the pool (timeout, refused).
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("database connection unavailable")]
    Pool(#[from] r2d2::Error),
    /// Opening a connection failed.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("database connection failed")]
    Connection(#[from] diesel::ConnectionError),
    /// A query failed.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("database error")]
    Database(#[from] diesel::result::Error),
    /// Applying migrations failed.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value could not be turned back into a domain value.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

impl From<InfraError> for AppError {
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn from(e: InfraError) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as D};
        match e {
            InfraError::Pool(_) | InfraError::Connection(_) => AppError::Unavailable(Box::new(e)),
            InfraError::Database(D::DatabaseError(
                K::ClosedConnection | K::UnableToSendCommand | K::SerializationFailure,
                _,
            )) => AppError::Unavailable(Box::new(e)),
            // SQLite reports a writer that waited out its busy timeout as a plain error.
            InfraError::Database(D::DatabaseError(K::Unknown, ref info))
                if is_transient_message(info.message()) =>
            {
                AppError::Unavailable(Box::new(e))
            }
            other => AppError::Unexpected(Box::new(other)),
        }
    }

    /// Without storage nothing here is a transient outage.
    #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
    fn from(e: InfraError) -> Self {
        AppError::Unexpected(Box::new(e))
    }
}

/// Messages of errors that mean "the database is there but cannot serve us right now".
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn is_transient_message(message: &str) -> bool {
    const TRANSIENT: [&str; 6] = [
        "database is locked",
        "database table is locked",
        "terminating connection",
        "server closed the connection",
        "connection to server",
        "the database system is",
    ];
    TRANSIENT.iter().any(|t| message.contains(t))
}
