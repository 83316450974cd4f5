//! Which backend a database URL asks for.

use crate::InfraError;

/// A database URL, checked against the backends compiled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `sqlite://<path>` with the scheme in lower case, the form diesel opens as the SQLite URI
    /// `file:<path>` (so `?mode=ro` and friends work).
    #[cfg(feature = "sqlite")]
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`, handed to libpq unchanged.
    #[cfg(feature = "postgres")]
    Postgres(String),
}

/// Picks the backend from the URL scheme.
///
/// Error messages name only the scheme, never the rest of the URL: it may hold a password.
pub(crate) fn parse(url: &str) -> Result<Target, InfraError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(InfraError::UnsupportedDatabase(
            "expected a URL of the form sqlite://<path> or postgres://…".into(),
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => sqlite(rest),
        "postgres" | "postgresql" => postgres(url),
        other => Err(InfraError::UnsupportedDatabase(format!(
            "unknown scheme `{}`: expected sqlite://<path>, postgres:// or postgresql://",
            other.escape_default()
        ))),
    }
}

#[cfg(feature = "sqlite")]
fn sqlite(path: &str) -> Result<Target, InfraError> {
    let (file, query) = path.split_once('?').unwrap_or((path, ""));
    if file.is_empty() {
        return Err(InfraError::UnsupportedDatabase(
            "sqlite:// needs a file path, e.g. sqlite://data/tollgate.db".into(),
        ));
    }
    if file == ":memory:" || query.split('&').any(|pair| pair == "mode=memory") {
        // Every pooled connection would open its own empty database.
        return Err(InfraError::UnsupportedDatabase(
            "in-memory SQLite is not supported: use a file path".into(),
        ));
    }
    // diesel turns only the lower-case prefix into a `file:` URI.
    Ok(Target::Sqlite(format!("sqlite://{path}")))
}

#[cfg(not(feature = "sqlite"))]
fn sqlite(_path: &str) -> Result<Target, InfraError> {
    Err(InfraError::UnsupportedDatabase(
        "sqlite:// needs the `sqlite` cargo feature of tollgate-infrastructure, \
         which this build was compiled without"
            .into(),
    ))
}

#[cfg(feature = "postgres")]
fn postgres(url: &str) -> Result<Target, InfraError> {
    Ok(Target::Postgres(url.to_owned()))
}

#[cfg(not(feature = "postgres"))]
fn postgres(_url: &str) -> Result<Target, InfraError> {
    Err(InfraError::UnsupportedDatabase(
        "postgres:// needs the `postgres` cargo feature of tollgate-infrastructure, \
         which this build was compiled without"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(url: &str) -> String {
        match parse(url) {
            Err(InfraError::UnsupportedDatabase(m)) => m,
            other => panic!("expected UnsupportedDatabase for {url}, got {other:?}"),
        }
    }

    #[test]
    fn unknown_schemes_are_named_without_the_rest_of_the_url() {
        let m = message("mysql://root:hunter2@db/tollgate");
        assert!(m.contains("`mysql`"), "{m}");
        assert!(!m.contains("hunter2"), "{m}");
        assert!(message("tollgate.db").contains("sqlite://"));
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_urls_need_a_file() {
        let sqlite = |u: &str| Some(Target::Sqlite(u.to_owned()));
        assert_eq!(parse("sqlite://a/b.db").ok(), sqlite("sqlite://a/b.db"));
        assert_eq!(
            parse("sqlite:///abs/b.db").ok(),
            sqlite("sqlite:///abs/b.db")
        );
        assert_eq!(parse("SQLite://a.db").ok(), sqlite("sqlite://a.db"));
        assert_eq!(
            parse("sqlite://mode=memory.db").ok(),
            sqlite("sqlite://mode=memory.db")
        );
        assert!(message("sqlite://").contains("file path"));
        assert!(message("sqlite://?mode=ro").contains("file path"));
        assert!(message("sqlite://:memory:").contains("in-memory"));
        assert!(message("sqlite://x.db?cache=shared&mode=memory").contains("in-memory"));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn both_postgres_schemes_are_accepted() {
        assert!(matches!(parse("postgres://h/db"), Ok(Target::Postgres(_))));
        assert!(matches!(
            parse("PostgreSQL://h/db"),
            Ok(Target::Postgres(_))
        ));
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn postgres_without_the_feature_names_the_feature() {
        assert!(message("postgres://h/db").contains("`postgres` cargo feature"));
    }

    #[cfg(not(feature = "sqlite"))]
    #[test]
    fn sqlite_without_the_feature_names_the_feature() {
        assert!(message("sqlite://a.db").contains("`sqlite` cargo feature"));
    }
}
