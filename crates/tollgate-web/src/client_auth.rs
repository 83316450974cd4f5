//! Client credentials (API.md §6, RFC 6749 §2.3.1): HTTP Basic or body parameters, never both.
//!
//! Shared by the token, revocation and introspection handlers; the rules about which
//! credentials must authenticate are the application's `ClientAuthenticator`.

use actix_web::http::header;
use actix_web::HttpRequest;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use tollgate_application::ClientCredentials;

use crate::form::decode;
use crate::OAuthError;

/// Standard base64, with or without padding: RFC 7617 asks for padding, but clients that strip
/// it are common and nothing is gained by refusing them.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The client credentials a request carries, from its `Authorization: Basic` header or from the
/// `client_id` / `client_secret` body parameters already parsed out of its form.
///
/// Sending a body `client_id` equal to the Basic one is allowed, since it identifies rather than
/// authenticates (some libraries always send it); a body `client_secret`, or a different body
/// `client_id`, next to Basic is a second method and refused (RFC 6749 §2.3).
///
/// # Errors
/// `invalid_request` when both methods are used; `invalid_client` for an `Authorization` header
/// that is not well-formed Basic (an unsupported authentication method).
pub(crate) fn client_credentials(
    req: &HttpRequest,
    body_id: Option<String>,
    body_secret: Option<String>,
) -> Result<ClientCredentials, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(ClientCredentials {
            id: body_id,
            secret: body_secret,
            address: None,
        });
    };
    let basic = parse_basic(value.as_bytes())?;
    let second_method =
        body_secret.is_some() || body_id.is_some_and(|id| basic.id.as_deref() != Some(id.as_str()));
    if second_method {
        return Err(OAuthError::InvalidRequest(
            "client credentials must be sent by one method only",
        ));
    }
    Ok(basic)
}

/// Parses an `Authorization` header value as `Basic base64(urlencode(id) ":" urlencode(secret))`
/// (RFC 6749 §2.3.1). Empty parts count as absent.
///
/// Hand-written on purpose: RFC 7617 parsers split at the first colon of the raw decoded bytes
/// and do not form-urldecode the parts, which RFC 6749 §2.3.1 asks for; the base64 itself is
/// the `base64` crate's.
///
/// # Errors
/// `invalid_client` for anything that is not well-formed Basic credentials in UTF-8.
pub fn parse_basic(value: &[u8]) -> Result<ClientCredentials, OAuthError> {
    const MALFORMED: OAuthError =
        OAuthError::InvalidClient("the Authorization header is not valid HTTP Basic credentials");
    let value = std::str::from_utf8(value).map_err(|_| MALFORMED)?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or(MALFORMED)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidClient(
            "only HTTP Basic client authentication is supported",
        ));
    }
    let decoded = BASIC.decode(encoded.trim()).map_err(|_| MALFORMED)?;
    let colon = decoded.iter().position(|&b| b == b':').ok_or(MALFORMED)?;
    // RFC 6749 §2.3.1: each part is form-urlencoded before joining, so a `:` in an id or secret
    // arrives as %3A and the first raw colon is the separator.
    let part = |raw: &[u8]| -> Result<Option<String>, OAuthError> {
        let text = decode(raw).map_err(|_| MALFORMED)?;
        Ok(Some(text).filter(|t| !t.is_empty()))
    };
    Ok(ClientCredentials {
        id: part(&decoded[..colon])?,
        secret: part(&decoded[colon + 1..])?,
        address: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use base64::engine::general_purpose::STANDARD;

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    fn extract(
        authorization: Option<&str>,
        id: Option<&str>,
        secret: Option<&str>,
    ) -> Result<ClientCredentials, OAuthError> {
        let mut req = TestRequest::default();
        if let Some(value) = authorization {
            req = req.insert_header((header::AUTHORIZATION, value));
        }
        client_credentials(
            &req.to_http_request(),
            id.map(str::to_owned),
            secret.map(str::to_owned),
        )
    }

    fn creds(id: Option<&str>, secret: Option<&str>) -> ClientCredentials {
        ClientCredentials {
            id: id.map(str::to_owned),
            secret: secret.map(str::to_owned),
            address: None,
        }
    }

    #[test]
    fn body_parameters_pass_through_without_a_header() {
        assert_eq!(
            extract(None, Some("app"), Some("s")).unwrap(),
            creds(Some("app"), Some("s"))
        );
        assert_eq!(extract(None, None, None).unwrap(), creds(None, None));
    }

    #[test]
    fn basic_parts_are_form_urldecoded() {
        let got = extract(Some(&basic("my%3Aapp:p%40ss+word%2B")), None, None).unwrap();
        assert_eq!(got, creds(Some("my:app"), Some("p@ss word+")));
        // The scheme is case-insensitive and padding optional.
        let unpadded = format!("bAsIc {}", STANDARD.encode("a:bc").trim_end_matches('='));
        assert_eq!(
            extract(Some(&unpadded), None, None).unwrap(),
            creds(Some("a"), Some("bc"))
        );
    }

    #[test]
    fn empty_basic_parts_count_as_absent() {
        assert_eq!(
            extract(Some(&basic("app:")), None, None).unwrap(),
            creds(Some("app"), None)
        );
        assert_eq!(
            extract(Some(&basic(":secret")), None, None).unwrap(),
            creds(None, Some("secret"))
        );
    }

    #[test]
    fn two_methods_at_once_are_invalid_request() {
        let header = basic("app:secret");
        for (id, secret) in [(None, Some("secret")), (Some("other"), None)] {
            let e = extract(Some(&header), id, secret).unwrap_err();
            assert_eq!(e.code(), "invalid_request");
        }
        // The same id in the body only identifies the client again.
        assert_eq!(
            extract(Some(&header), Some("app"), None).unwrap(),
            creds(Some("app"), Some("secret"))
        );
    }

    #[test]
    fn malformed_or_foreign_authorization_is_invalid_client() {
        for value in [
            "Basic",
            "Basic !!!not-base64!!!",
            &basic("no-colon"),
            &basic("bad%FFutf8:x"),
            "Bearer abc.def.ghi",
        ] {
            let e = extract(Some(value), None, None).unwrap_err();
            assert_eq!(e.code(), "invalid_client", "{value}");
        }
    }
}
