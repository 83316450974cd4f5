//! The token request form: both dialects, matched strictly (API.md §1).

use std::borrow::Cow;
use std::fmt;

use percent_encoding::percent_decode;
use tollgate_domain::Password;

use crate::OAuthError;

/// The grant a token request asks for. `Debug` never shows the password or the token.
#[derive(Clone, PartialEq, Eq)]
pub enum Grant {
    /// `grantType=Password` / `grant_type=password`.
    Password {
        /// `userName` / `username`, as sent.
        user_name: String,
        /// `password`.
        password: Password,
        /// `longLivedRefreshToken=true`.
        long_lived: bool,
    },
    /// `grantType=RefreshToken` / `grant_type=refresh_token`.
    RefreshToken {
        /// `refreshToken` / `refresh_token`.
        refresh_token: String,
    },
}

/// A parsed token request. `Debug` never shows the client secret, password or token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// What is asked for.
    pub grant: Grant,
    /// `client_id`, when sent.
    pub client_id: Option<String>,
    /// `client_secret`, when sent.
    pub client_secret: Option<String>,
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password {
                user_name,
                long_lived,
                ..
            } => f
                .debug_struct("Password")
                .field("user_name", user_name)
                .field("password", &"[redacted]")
                .field("long_lived", long_lived)
                .finish(),
            Self::RefreshToken { .. } => f
                .debug_struct("RefreshToken")
                .field("refresh_token", &"[redacted]")
                .finish(),
        }
    }
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant", &self.grant)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Param {
    GrantType,
    UserName,
    Password,
    RefreshToken,
    LongLived,
    ClientId,
    ClientSecret,
}

const PARAMS: usize = 7;

impl Param {
    /// The parameter a (lower-cased) name stands for; `None` for names we ignore.
    fn from_lowercase(name: &str) -> Option<Self> {
        Some(match name {
            "grant_type" | "granttype" => Self::GrantType,
            // `userName` lower-cases to `username`: one name in both dialects.
            "username" => Self::UserName,
            "password" => Self::Password,
            "refresh_token" | "refreshtoken" => Self::RefreshToken,
            "longlivedrefreshtoken" => Self::LongLived,
            "client_id" => Self::ClientId,
            "client_secret" => Self::ClientSecret,
            _ => return None,
        })
    }

    fn repeated(self) -> OAuthError {
        OAuthError::InvalidRequest(match self {
            Self::GrantType => "parameter grant_type is repeated or given in both dialects",
            Self::UserName => "parameter username is repeated",
            Self::Password => "parameter password is repeated",
            Self::RefreshToken => "parameter refresh_token is repeated or given in both dialects",
            Self::LongLived => "parameter longLivedRefreshToken is repeated",
            Self::ClientId => "parameter client_id is repeated",
            Self::ClientSecret => "parameter client_secret is repeated",
        })
    }
}

/// Decodes one `application/x-www-form-urlencoded` component, insisting on UTF-8.
pub(crate) fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    let plus_as_space: Cow<'_, [u8]> = if raw.contains(&b'+') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    let bytes: Vec<u8> = percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes)
        .map_err(|_| OAuthError::InvalidRequest("the form body is not valid UTF-8"))
}

/// Splits a form body into the values of the parameters `lookup` knows (by lower-cased name),
/// each in the slot `index` gives it: empty values count as absent, unknown names are ignored,
/// and a parameter given twice (under any spelling) is `repeated(param)`.
pub(crate) fn collect_params<P: Copy, const N: usize>(
    body: &[u8],
    lookup: impl Fn(&str) -> Option<P>,
    index: impl Fn(P) -> usize,
    repeated: impl Fn(P) -> OAuthError,
) -> Result<[Option<String>; N], OAuthError> {
    let mut values: [Option<String>; N] = std::array::from_fn(|_| None);
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let value = decode(value)?;
        if value.is_empty() {
            continue;
        }
        let Some(param) = lookup(&decode(name)?.to_ascii_lowercase()) else {
            continue;
        };
        let Some(slot) = values.get_mut(index(param)) else {
            continue;
        };
        if slot.is_some() {
            return Err(repeated(param));
        }
        *slot = Some(value);
    }
    Ok(values)
}

impl TokenRequest {
    /// Parses a token request body (`application/x-www-form-urlencoded`, UTF-8) exactly as the
    /// token endpoint does: both dialects, strict about repeats (API.md §1). Public so that
    /// fuzzers and property tests reach the same code the endpoint runs.
    ///
    /// # Errors
    /// `invalid_request` or `unsupported_grant_type`, as the endpoint answers them.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        parse_token_request(body)
    }
}

/// Parses a token request body.
///
/// Empty values count as absent; a parameter given twice, or under both spellings, is
/// `invalid_request`; unknown parameters are ignored.
///
/// # Errors
/// `invalid_request` or `unsupported_grant_type` as API.md §1 lays out.
pub fn parse_token_request(body: &[u8]) -> Result<TokenRequest, OAuthError> {
    let mut values: [Option<String>; PARAMS] =
        collect_params(body, Param::from_lowercase, |p| p as usize, Param::repeated)?;
    let mut take = |p: Param| values[p as usize].take();

    let grant = match take(Param::GrantType)
        .ok_or(OAuthError::InvalidRequest("missing parameter: grant_type"))?
        .to_ascii_lowercase()
        .as_str()
    {
        "password" => {
            let user_name = take(Param::UserName)
                .ok_or(OAuthError::InvalidRequest("missing parameter: username"))?;
            let password = take(Param::Password)
                .ok_or(OAuthError::InvalidRequest("missing parameter: password"))?;
            let password = Password::parse(&password)
                .map_err(|_| OAuthError::InvalidRequest("the password is too long"))?;
            let long_lived = match take(Param::LongLived).map(|v| v.to_ascii_lowercase()) {
                None => false,
                Some(v) if v == "true" => true,
                Some(v) if v == "false" => false,
                Some(_) => {
                    return Err(OAuthError::InvalidRequest(
                        "longLivedRefreshToken must be true or false",
                    ))
                }
            };
            Grant::Password {
                user_name,
                password,
                long_lived,
            }
        }
        "refreshtoken" | "refresh_token" => Grant::RefreshToken {
            refresh_token: take(Param::RefreshToken).ok_or(OAuthError::InvalidRequest(
                "missing parameter: refresh_token",
            ))?,
        },
        _ => return Err(OAuthError::UnsupportedGrantType),
    };
    Ok(TokenRequest {
        grant,
        client_id: take(Param::ClientId),
        client_secret: take(Param::ClientSecret),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenRequest, OAuthError> {
        parse_token_request(body.as_bytes())
    }

    fn code(body: &str) -> &'static str {
        parse(body).unwrap_err().code()
    }

    #[test]
    fn debug_output_never_shows_secrets_or_tokens() {
        let login =
            parse("grantType=Password&userName=a&password=hunter2&client_secret=s3cr3t").unwrap();
        let refresh = parse("grantType=RefreshToken&refreshToken=eyJ.secret.sig").unwrap();
        let shown = format!("{login:?} {refresh:?}");
        for secret in ["hunter2", "s3cr3t", "eyJ.secret.sig"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("user_name: \"a\""));
    }

    #[test]
    fn the_product_dialect_login_parses() {
        let r = parse("grantType=Password&userName=administrator&password=Password1").unwrap();
        assert_eq!(
            r.grant,
            Grant::Password {
                user_name: "administrator".into(),
                password: Password::parse("Password1").unwrap(),
                long_lived: false
            }
        );
    }

    #[test]
    fn the_rfc_dialect_login_parses_with_decoding() {
        let r = parse(
            "grant_type=password&username=a%20b&password=p%C3%A4ss+word&longLivedRefreshToken=TRUE",
        )
        .unwrap();
        assert_eq!(
            r.grant,
            Grant::Password {
                user_name: "a b".into(),
                password: Password::parse("päss word").unwrap(),
                long_lived: true
            }
        );
    }

    #[test]
    fn dialects_may_mix_across_parameters() {
        let r = parse("grant_type=RefreshToken&refresh_token=abc").unwrap();
        assert_eq!(
            r.grant,
            Grant::RefreshToken {
                refresh_token: "abc".into()
            }
        );
        let r = parse("GRANTTYPE=refresh_token&RefreshToken=abc&client_id=app").unwrap();
        assert_eq!(r.client_id.as_deref(), Some("app"));
    }

    #[test]
    fn a_parameter_under_both_spellings_is_invalid_request() {
        assert_eq!(
            code("grantType=Password&grant_type=password&username=a&password=b"),
            "invalid_request"
        );
        assert_eq!(
            code("grantType=RefreshToken&refreshToken=a&refresh_token=a"),
            "invalid_request"
        );
        assert_eq!(
            code("grantType=Password&userName=a&username=a&password=b"),
            "invalid_request"
        );
    }

    #[test]
    fn a_repeated_parameter_is_invalid_request() {
        assert_eq!(
            code("grantType=Password&userName=a&password=b&password=c"),
            "invalid_request"
        );
    }

    #[test]
    fn empty_values_count_as_absent() {
        assert_eq!(
            code("grantType=Password&userName=&password=b"),
            "invalid_request"
        );
        // An empty duplicate is dropped before the repetition check.
        assert!(parse("grantType=Password&userName=a&userName=&password=b").is_ok());
    }

    #[test]
    fn missing_or_unknown_grants_are_told_apart() {
        assert_eq!(code("userName=a&password=b"), "invalid_request");
        assert_eq!(
            code("grantType=client_credentials"),
            "unsupported_grant_type"
        );
        assert_eq!(code("grantType=RefreshToken"), "invalid_request");
    }

    #[test]
    fn bad_encodings_and_flags_are_invalid_request() {
        assert_eq!(
            code("grantType=Password&userName=%FF&password=b"),
            "invalid_request"
        );
        assert_eq!(
            code("grantType=Password&userName=a&password=b&longLivedRefreshToken=yes"),
            "invalid_request"
        );
        let long = "x".repeat(Password::MAX_BYTES + 1);
        assert_eq!(
            code(&format!("grantType=Password&userName=a&password={long}")),
            "invalid_request"
        );
    }

    #[test]
    fn unknown_parameters_and_stray_separators_are_ignored() {
        assert!(parse("&&foo=bar&grantType=RefreshToken&refreshToken=t&baz").is_ok());
    }
}
