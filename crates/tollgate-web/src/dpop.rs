//! The `DPoP` request header and the `DPoP-Nonce` response header (RFC 9449), shared by the token
//! endpoint and the protected-resource extractor.

use actix_web::HttpRequest;

/// The response header that hands a client the server nonce (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: &str = "dpop-nonce";

/// Why the `DPoP` header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderDefect {
    /// More than one `DPoP` header (RFC 9449 §4.3 point 1).
    Repeated,
    /// A value that is not visible ASCII (a compact JWS never is anything else).
    NotAscii,
}

/// The request's single `DPoP` header, if any.
pub(crate) fn proof_header(req: &HttpRequest) -> Result<Option<String>, HeaderDefect> {
    let mut values = req.headers().get_all("dpop");
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HeaderDefect::Repeated);
    }
    first
        .to_str()
        .map(|v| Some(v.to_owned()))
        .map_err(|_| HeaderDefect::NotAscii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;
    use actix_web::test::TestRequest;

    #[test]
    fn one_header_is_read_and_two_or_non_ascii_are_defects() {
        let none = TestRequest::default().to_http_request();
        assert_eq!(proof_header(&none), Ok(None));
        let one = TestRequest::default()
            .insert_header(("DPoP", "a.b.c"))
            .to_http_request();
        assert_eq!(proof_header(&one).unwrap().as_deref(), Some("a.b.c"));
        let two = TestRequest::default()
            .append_header(("DPoP", "a.b.c"))
            .append_header(("dpop", "d.e.f"))
            .to_http_request();
        assert_eq!(proof_header(&two), Err(HeaderDefect::Repeated));
        let binary = TestRequest::default()
            .insert_header(("DPoP", HeaderValue::from_bytes(b"a.\xffb.c").unwrap()))
            .to_http_request();
        assert_eq!(proof_header(&binary), Err(HeaderDefect::NotAscii));
    }
}
