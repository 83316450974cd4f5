//! `tollgate config show`: the effective settings, secrets redacted, and where each came from.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use config::Config;
use serde_json::Value;

use crate::settings::{environment_source, file_source};
use crate::{ServerError, Settings};

/// Dotted key → value, for every leaf of a JSON tree (`server.bind` → `"127.0.0.1:8080"`).
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf.clone());
        }
    }
}

/// The dotted keys one source sets.
fn keys_of(source: Config) -> Result<Vec<String>, ServerError> {
    let tree: Value = source.try_deserialize()?;
    let mut flat = BTreeMap::new();
    flatten("", &tree, &mut flat);
    Ok(flat.into_keys().collect())
}

/// Hides the password of a database URL: the userinfo's `:password` part and a libpq
/// `password=` query parameter. Hand-written because the URL may be any libpq URI, which a
/// general URL parser would reject or normalise; only the password is touched.
fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "[redacted]");
            }
        }
    }
    if let Some(query_start) = out.find('?') {
        let (head, query) = out.split_at(query_start + 1);
        let query = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[redacted]"),
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&");
        out = format!("{head}{query}");
    }
    out
}

/// Writes every effective setting as `key = value  # source`, where the source is `default`,
/// `file` or `environment` (the last one that set it wins, as at start-up).
///
/// # Errors
/// [`ServerError::Config`] when the settings are invalid (as at start-up), [`ServerError::Io`]
/// when writing fails.
pub fn show(path: Option<&Path>, out: &mut dyn Write) -> Result<(), ServerError> {
    let settings = Settings::load(path)?;
    let from_file = keys_of(Config::builder().add_source(file_source(path)).build()?)?;
    let from_env = keys_of(Config::builder().add_source(environment_source()).build()?)?;
    let mut effective = BTreeMap::new();
    let tree = serde_json::to_value(&settings).map_err(|e| ServerError::Config(e.to_string()))?;
    flatten("", &tree, &mut effective);
    for (key, mut value) in effective {
        if key == "database.url" {
            if let Value::String(url) = &value {
                value = Value::String(redact_url(url));
            }
        }
        let source = if from_env.contains(&key) {
            "environment"
        } else if from_file.contains(&key) {
            "file"
        } else {
            "default"
        };
        let shown = match &value {
            Value::Null => String::from("(unset)"),
            other => other.to_string(),
        };
        writeln!(out, "{key} = {shown}  # {source}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_redacted_and_nothing_else() {
        assert_eq!(
            redact_url("postgres://tg:s3cret@db:5432/tg?sslmode=require"),
            "postgres://tg:[redacted]@db:5432/tg?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/tg?user=tg&password=s3cret"),
            "postgres://db/tg?user=tg&password=[redacted]"
        );
        assert_eq!(redact_url("postgres://tg@db/tg"), "postgres://tg@db/tg");
        assert_eq!(redact_url("sqlite://tollgate.db"), "sqlite://tollgate.db");
    }
}
