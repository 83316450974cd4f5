//! One typed `Settings`: defaults, then an optional TOML file, then `TOLLGATE__SECTION__KEY`
//! environment variables.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::Duration;
use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;
use tollgate_domain::TokenPolicy;

use crate::ServerError;

/// Everything the server can be told. Every key is listed in the README's table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where relative paths (SQLite file, key directory) live. Default `data`.
    pub data_dir: PathBuf,
    /// HTTP listener.
    pub server: ServerSettings,
    /// Storage.
    pub database: DatabaseSettings,
    /// Signing keys.
    pub keys: KeySettings,
    /// Token lifetimes and issuer.
    pub tokens: TokenSettings,
    /// Argon2id cost.
    pub password: PasswordSettings,
    /// Client authentication.
    pub auth: AuthSettings,
    /// Optional first user, created at start when absent.
    pub bootstrap: BootstrapSettings,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address. Default `127.0.0.1:8080`.
    pub bind: String,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Seconds a graceful shutdown waits for requests in flight.
    pub shutdown_timeout: u64,
    /// HTTPS (issue 7): both files set ⇒ `serve` speaks TLS 1.2+ only.
    pub tls: TlsSettings,
}

/// `[server.tls]`: a PEM certificate chain and its private key; relative paths are under
/// `data_dir`. Both or neither.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// Certificate chain (PEM), leaf first.
    pub cert: Option<PathBuf>,
    /// Private key (PEM), mode 0600 or stricter.
    pub key: Option<PathBuf>,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (relative paths are under `data_dir`) or `postgres://…`.
    pub url: String,
    /// Most connections in the pool.
    pub pool_size: u32,
    /// Seconds to wait for a pooled connection before answering 503.
    pub connect_timeout: u64,
}

/// `[keys]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeySettings {
    /// Directory of key pairs (relative paths are under `data_dir`); a key is generated when empty.
    pub dir: PathBuf,
}

/// `[tokens]`; every duration is in seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// `iss` of every token; empty means `http://<bound address>`.
    pub issuer: String,
    /// Access token lifetime.
    pub access_ttl: i64,
    /// Refresh token lifetime (`short_term_expiration: "True"`).
    pub refresh_ttl: i64,
    /// Refresh token lifetime with `longLivedRefreshToken=true`.
    pub refresh_long_ttl: i64,
    /// Absolute family lifetime from login.
    pub family_max_lifetime: i64,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: i64,
    /// Retry grace after a rotation (0 to 60; 0 = off, API.md §3).
    pub reuse_grace: i64,
}

/// `[auth]`: client authentication (API.md §6).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Every token and revocation request must authenticate a configured client.
    pub require_client: bool,
}

/// `[password]`: Argon2id parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    /// Memory in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Passes (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

/// `[bootstrap]`: a first user for a fresh install.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapSettings {
    /// Login name of the first user.
    pub user: Option<String>,
    /// Its password.
    pub password: Option<SecretString>,
}

/// A string that never shows in `Debug` output.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            keys: KeySettings::default(),
            tokens: TokenSettings::default(),
            password: PasswordSettings::default(),
            auth: AuthSettings::default(),
            bootstrap: BootstrapSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            workers: 0,
            max_body_bytes: 16 * 1024,
            shutdown_timeout: 10,
            tls: TlsSettings::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://tollgate.db".into(),
            pool_size: 10,
            connect_timeout: 5,
        }
    }
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("keys"),
        }
    }
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            access_ttl: 15 * 60,
            refresh_ttl: 24 * 3600,
            refresh_long_ttl: 14 * 24 * 3600,
            family_max_lifetime: 90 * 24 * 3600,
            leeway: 30,
            reuse_grace: 0,
        }
    }
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Settings {
    /// Reads defaults, then `path` (or `./tollgate.toml` when present), then the environment.
    ///
    /// # Errors
    /// [`ServerError::Config`] for an unreadable file, an unknown key or a value of the wrong type.
    pub fn load(path: Option<&Path>) -> Result<Self, ServerError> {
        let file = match path {
            Some(p) => File::from(p).format(FileFormat::Toml).required(true),
            None => File::new("tollgate", FileFormat::Toml).required(false),
        };
        let settings: Settings = Config::builder()
            .add_source(file)
            .add_source(
                Environment::with_prefix("TOLLGATE")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize()?;
        settings.token_policy("http://validation.invalid")?;
        settings.tls_files()?;
        Ok(settings)
    }

    /// The database URL with a relative SQLite path resolved under `data_dir`.
    pub fn database_url(&self) -> String {
        match self.database.url.strip_prefix("sqlite://") {
            Some(path) if Path::new(path).is_relative() => {
                format!("sqlite://{}", self.data_dir.join(path).display())
            }
            _ => self.database.url.clone(),
        }
    }

    /// The key directory, resolved under `data_dir` when relative.
    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join(&self.keys.dir)
    }

    /// The TLS certificate and key paths (resolved under `data_dir` when relative), when
    /// `server.tls` is configured.
    ///
    /// # Errors
    /// [`ServerError::Config`] when only one of the two is set.
    pub fn tls_files(&self) -> Result<Option<(PathBuf, PathBuf)>, ServerError> {
        match (&self.server.tls.cert, &self.server.tls.key) {
            (Some(cert), Some(key)) => {
                Ok(Some((self.data_dir.join(cert), self.data_dir.join(key))))
            }
            (None, None) => Ok(None),
            _ => Err(ServerError::Config(
                "server.tls.cert and server.tls.key must be set together".into(),
            )),
        }
    }

    /// `tokens.leeway` as a duration: the clock skew tolerated on `exp` and `nbf`.
    pub fn leeway(&self) -> Duration {
        Duration::seconds(self.tokens.leeway)
    }

    /// The token rules, with `default_issuer` when `tokens.issuer` is empty.
    ///
    /// # Errors
    /// [`ServerError::Config`] when a lifetime is out of range.
    pub fn token_policy(&self, default_issuer: &str) -> Result<TokenPolicy, ServerError> {
        let t = &self.tokens;
        let policy = TokenPolicy {
            issuer: if t.issuer.is_empty() {
                default_issuer.to_owned()
            } else {
                t.issuer.clone()
            },
            access_ttl: Duration::seconds(t.access_ttl),
            refresh_ttl: Duration::seconds(t.refresh_ttl),
            refresh_long_ttl: Duration::seconds(t.refresh_long_ttl),
            family_max_lifetime: Duration::seconds(t.family_max_lifetime),
            reuse_grace: Duration::seconds(t.reuse_grace),
        };
        policy
            .validate()
            .map_err(|e| ServerError::Config(e.to_string()))?;
        if !(0..=3600).contains(&t.leeway) {
            return Err(ServerError::Config(
                "tokens.leeway must be 0 to 3600 seconds".into(),
            ));
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_api_contract() {
        let s = Settings::default();
        let p = s.token_policy("http://x").unwrap();
        assert_eq!(p.access_ttl, Duration::minutes(15));
        assert_eq!(p.refresh_ttl, Duration::hours(24));
        assert_eq!(p.refresh_long_ttl, Duration::days(14));
        assert_eq!(p.family_max_lifetime, Duration::days(90));
        assert_eq!(p.issuer, "http://x");
        assert_eq!(s.server.bind, "127.0.0.1:8080");
    }

    #[test]
    fn a_relative_sqlite_path_lives_in_the_data_dir() {
        let mut s = Settings {
            data_dir: PathBuf::from("/srv/tollgate"),
            ..Settings::default()
        };
        assert_eq!(s.database_url(), "sqlite:///srv/tollgate/tollgate.db");
        s.database.url = "sqlite:///abs/t.db".into();
        assert_eq!(s.database_url(), "sqlite:///abs/t.db");
        s.database.url = "postgres://h/db".into();
        assert_eq!(s.database_url(), "postgres://h/db");
    }

    #[test]
    fn a_file_sets_keys_and_rejects_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "[tokens]\naccess_ttl = 60\n[server]\nbind = \"0.0.0.0:9\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path)).unwrap();
        assert_eq!(s.tokens.access_ttl, 60);
        assert_eq!(s.server.bind, "0.0.0.0:9");
        std::fs::write(&path, "[tokens]\naccess_tll = 60\n").unwrap();
        assert!(matches!(
            Settings::load(Some(&path)),
            Err(ServerError::Config(_))
        ));
        std::fs::write(&path, "[tokens]\naccess_ttl = 0\n").unwrap();
        assert!(matches!(
            Settings::load(Some(&path)),
            Err(ServerError::Config(_))
        ));
    }

    #[test]
    fn tls_files_come_together_and_resolve_under_the_data_dir() {
        let mut s = Settings {
            data_dir: PathBuf::from("/srv/tollgate"),
            ..Settings::default()
        };
        assert!(s.tls_files().unwrap().is_none());
        s.server.tls.cert = Some(PathBuf::from("tls/cert.pem"));
        assert!(matches!(s.tls_files(), Err(ServerError::Config(_))));
        s.server.tls.key = Some(PathBuf::from("/etc/tollgate/key.pem"));
        assert_eq!(
            s.tls_files().unwrap(),
            Some((
                PathBuf::from("/srv/tollgate/tls/cert.pem"),
                PathBuf::from("/etc/tollgate/key.pem")
            ))
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let b = BootstrapSettings {
            user: Some("admin".into()),
            password: Some(SecretString::new("hunter2")),
        };
        assert!(!format!("{b:?}").contains("hunter2"));
    }
}
