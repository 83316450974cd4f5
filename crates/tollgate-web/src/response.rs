use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tollgate_application::TokenPair;

/// Formats an expiry as API.md §1 requires: UTC, RFC 3339, exactly 7 fractional digits
/// (100 ns ticks, truncated) and `Z`.
pub fn format_expiry(t: DateTime<Utc>) -> String {
    // A leap second shows as nanos >= 1e9; clamp so the field stays 7 digits.
    let ticks = (t.timestamp_subsec_nanos() / 100).min(9_999_999);
    format!("{}.{ticks:07}Z", t.format("%Y-%m-%dT%H:%M:%S"))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = TokenResponse)]
pub(crate) struct TokenBody<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    #[serde(rename = "accessTokenExpiresAt")]
    access_token_expires_at: String,
    #[serde(rename = "refreshTokenExpiresAt")]
    refresh_token_expires_at: String,
    token_type: &'static str,
    expires_in: i64,
}

/// Marks an answer as never to be cached (RFC 6749 §5.1): tokens, secrets and token metadata.
pub(crate) fn no_store(builder: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
}

/// The `200` answer of the token endpoint, with the no-store headers.
pub(crate) fn token_response(pair: &TokenPair) -> HttpResponse {
    no_store(&mut HttpResponse::Ok()).json(TokenBody {
        access_token: &pair.access_token,
        refresh_token: &pair.refresh_token,
        access_token_expires_at: format_expiry(pair.access_expires_at),
        refresh_token_expires_at: format_expiry(pair.refresh_expires_at),
        // RFC 9449 §5: a DPoP-bound pair says so.
        token_type: if pair.dpop_jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        },
        expires_in: pair.expires_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn expiries_have_exactly_seven_truncated_fraction_digits() {
        let t = Utc.timestamp_opt(1_667_310_223, 782_615_299).unwrap();
        assert_eq!(format_expiry(t), "2022-11-01T13:43:43.7826152Z");
        let t = Utc.timestamp_opt(1_667_310_223, 0).unwrap();
        assert_eq!(format_expiry(t), "2022-11-01T13:43:43.0000000Z");
        let t = Utc.timestamp_opt(1_667_310_223, 99).unwrap();
        assert_eq!(format_expiry(t), "2022-11-01T13:43:43.0000000Z");
    }
}
