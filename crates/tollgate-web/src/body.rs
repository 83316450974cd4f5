//! Reading a form body: content type first, then at most the configured number of bytes.

use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut, Payload};
use actix_web::HttpRequest;
use futures_util::StreamExt;

use crate::OAuthError;

/// Whether the request says it carries a UTF-8 `application/x-www-form-urlencoded` body.
fn is_form(req: &HttpRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = value.split(';').map(str::trim);
    let essence_ok = parts
        .next()
        .is_some_and(|e| e.eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    // The only charset parameter we accept is UTF-8 (API.md §1); other parameters are ignored.
    let charset_ok = parts.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    });
    essence_ok && charset_ok
}

/// Reads the form body, refusing other content types and anything over `limit` bytes
/// without buffering more than `limit`.
pub(crate) async fn read_form(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> Result<Bytes, OAuthError> {
    if !is_form(req) {
        return Err(OAuthError::InvalidRequest(
            "content type must be application/x-www-form-urlencoded",
        ));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(OAuthError::BodyTooLarge);
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| OAuthError::InvalidRequest("the request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(OAuthError::BodyTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_utf8_form_content_types_are_forms() {
        let with = |ct: &str| {
            is_form(
                &TestRequest::default()
                    .insert_header((header::CONTENT_TYPE, ct))
                    .to_http_request(),
            )
        };
        assert!(with("application/x-www-form-urlencoded"));
        assert!(with("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
        assert!(with("application/x-www-form-urlencoded;charset=\"utf-8\""));
        assert!(!with(
            "application/x-www-form-urlencoded; charset=iso-8859-1"
        ));
        assert!(!with("application/json"));
        assert!(!with("multipart/form-data; boundary=x"));
        assert!(!is_form(&TestRequest::default().to_http_request()));
    }
}
