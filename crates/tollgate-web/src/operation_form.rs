//! The form of the revocation (RFC 7009) and introspection (RFC 7662) endpoints, read with the
//! same strictness as the token request (API.md §1).

use std::fmt;

use actix_web::web::Payload;
use actix_web::HttpRequest;
use tollgate_application::{ClientCredentials, TokenTypeHint};

use crate::body::read_form;
use crate::client_auth::client_credentials;
use crate::form::collect_params;
use crate::OAuthError;

/// Reads a revocation or introspection request: the form (at most `limit` bytes), then the
/// client's credentials from HTTP Basic or the body. Returns the token, the hint and the
/// credentials.
pub(crate) async fn read_token_operation(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<(String, Option<TokenTypeHint>, ClientCredentials), OAuthError> {
    let body = read_form(req, payload, limit).await?;
    let request = parse_token_operation(&body)?;
    let credentials = client_credentials(req, request.client_id, request.client_secret)?;
    Ok((request.token, request.hint, credentials))
}

/// A parsed revocation or introspection request. `Debug` never shows the token or secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TokenOperationRequest {
    /// `token`.
    pub(crate) token: String,
    /// `token_type_hint`, when it names a kind we know; any other value is ignored.
    pub(crate) hint: Option<TokenTypeHint>,
    /// `client_id`, when sent.
    pub(crate) client_id: Option<String>,
    /// `client_secret`, when sent.
    pub(crate) client_secret: Option<String>,
}

impl fmt::Debug for TokenOperationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenOperationRequest")
            .field("token", &"[redacted]")
            .field("hint", &self.hint)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

#[derive(Clone, Copy)]
enum Param {
    Token,
    Hint,
    ClientId,
    ClientSecret,
}

impl Param {
    fn from_lowercase(name: &str) -> Option<Self> {
        Some(match name {
            "token" => Self::Token,
            "token_type_hint" => Self::Hint,
            "client_id" => Self::ClientId,
            "client_secret" => Self::ClientSecret,
            _ => return None,
        })
    }

    fn repeated(self) -> OAuthError {
        OAuthError::InvalidRequest(match self {
            Self::Token => "parameter token is repeated",
            Self::Hint => "parameter token_type_hint is repeated",
            Self::ClientId => "parameter client_id is repeated",
            Self::ClientSecret => "parameter client_secret is repeated",
        })
    }
}

/// Parses a revocation or introspection body.
///
/// # Errors
/// `invalid_request` for a missing `token`, a repeated parameter or a bad encoding.
pub(crate) fn parse_token_operation(body: &[u8]) -> Result<TokenOperationRequest, OAuthError> {
    let [token, hint, client_id, client_secret] =
        collect_params(body, Param::from_lowercase, |p| p as usize, Param::repeated)?;
    // RFC 7009 §2.1: an unknown hint is no error; the search just goes on over every kind.
    let hint = match hint.map(|h| h.to_ascii_lowercase()).as_deref() {
        Some("access_token" | "accesstoken") => Some(TokenTypeHint::AccessToken),
        Some("refresh_token" | "refreshtoken") => Some(TokenTypeHint::RefreshToken),
        _ => None,
    };
    Ok(TokenOperationRequest {
        token: token.ok_or(OAuthError::InvalidRequest("missing parameter: token"))?,
        hint,
        client_id,
        client_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenOperationRequest, OAuthError> {
        parse_token_operation(body.as_bytes())
    }

    #[test]
    fn token_hint_and_client_parse() {
        let r = parse("token=a.b.c&token_type_hint=access_token&client_id=app&client_secret=s%2B")
            .unwrap();
        assert_eq!(r.token, "a.b.c");
        assert_eq!(r.hint, Some(TokenTypeHint::AccessToken));
        assert_eq!(r.client_id.as_deref(), Some("app"));
        assert_eq!(r.client_secret.as_deref(), Some("s+"));
        assert_eq!(
            parse("token=t&token_type_hint=refresh_token").unwrap().hint,
            Some(TokenTypeHint::RefreshToken)
        );
    }

    #[test]
    fn an_unknown_hint_is_ignored() {
        let r = parse("token=t&token_type_hint=id_token").unwrap();
        assert_eq!(r.hint, None);
    }

    #[test]
    fn a_missing_or_repeated_token_is_invalid_request() {
        assert_eq!(parse("").unwrap_err().code(), "invalid_request");
        assert_eq!(parse("token=").unwrap_err().code(), "invalid_request");
        assert_eq!(
            parse("token=a&token=b").unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(
            parse("token=a&client_id=x&client_id=y").unwrap_err().code(),
            "invalid_request"
        );
    }

    #[test]
    fn debug_hides_the_token_and_the_secret() {
        let r = parse("token=sensitive.jwt&client_secret=hunter2").unwrap();
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("sensitive") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
