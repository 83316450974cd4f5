use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use regex_lite::Regex;
use serde_json::Value;

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    pub text: String,
}

impl Response {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The `error` field of an OAuth error body.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    pub fn access_token(&self) -> String {
        self.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub fn refresh_token(&self) -> String {
        self.json()["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned()
    }
}

/// Whether `s` has the exact `…ExpiresAt` shape: UTC, RFC 3339, exactly 7 fractional digits, `Z`.
pub fn is_expires_at(s: &str) -> bool {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN
        .get_or_init(|| Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$").unwrap())
        .is_match(s)
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// Sends a request and reads the whole response, whatever its status.
pub(crate) fn send(request: ureq::Request, body: Option<(&str, &[u8])>) -> Response {
    let result = match body {
        Some((content_type, bytes)) => request.set("Content-Type", content_type).send_bytes(bytes),
        None => request.call(),
    };
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = response.status();
    // A header sent several times (two `WWW-Authenticate` challenges) reads as one value joined
    // by ", ", which HTTP defines to mean the same (RFC 9110 §5.3).
    let headers = response
        .headers_names()
        .into_iter()
        .map(|n| {
            let joined = response.all(&n).join(", ");
            (n.to_ascii_lowercase(), joined)
        })
        .collect();
    let text = response.into_string().unwrap_or_default();
    Response {
        status,
        headers,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expires_at_check_accepts_only_seven_digits() {
        assert!(is_expires_at("2022-11-01T13:43:43.7826152Z"));
        assert!(!is_expires_at("2022-11-01T13:43:43.782615Z"));
        assert!(!is_expires_at("2022-11-01T13:43:43.78261521Z"));
        assert!(!is_expires_at("2022-11-01T13:43:43.7826152+00:00"));
    }
}
