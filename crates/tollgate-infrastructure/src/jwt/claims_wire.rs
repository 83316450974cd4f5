//! The JSON payloads of API.md §2, both ways.
//!
//! Serialization goes through structs because serde_json writes struct fields in declaration
//! order, which is the order the contract fixes. Parsing goes through a JSON map and checks the
//! claims one by one, so the first reason reported follows the verification order (audience,
//! issuer, times, then shape) rather than serde's field order.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use tollgate_domain::{
    AccessClaims, AccessTokenId, FamilyId, RefreshClaims, TokenId, TokenRejection, UserId,
};
use uuid::Uuid;

use super::strict_json::object_without_duplicates;

/// `aud` of access tokens.
pub(super) const ACCESS_AUDIENCE: &str = "access";
/// `aud` of refresh tokens.
pub(super) const REFRESH_AUDIENCE: &str = "refresh";

#[derive(Serialize)]
struct AccessOut<'a> {
    unique_name: &'a str,
    sub: Uuid,
    sid: Uuid,
    jti: Uuid,
    nbf: i64,
    exp: i64,
    iat: i64,
    iss: &'a str,
    aud: &'static str,
}

#[derive(Serialize)]
struct RefreshOut<'a> {
    unique_name: &'a str,
    token_id: Uuid,
    short_term_expiration: &'static str,
    sub: Uuid,
    nbf: i64,
    exp: i64,
    iat: i64,
    iss: &'a str,
    aud: &'static str,
}

/// The access payload JSON. Instants are truncated to whole seconds.
pub(super) fn access_payload(c: &AccessClaims) -> Result<Vec<u8>, serde_json::Error> {
    let iat = c.issued_at.timestamp();
    serde_json::to_vec(&AccessOut {
        unique_name: &c.unique_name,
        sub: c.sub.as_uuid(),
        sid: c.sid.as_uuid(),
        jti: c.jti.as_uuid(),
        nbf: iat,
        exp: c.expires_at.timestamp(),
        iat,
        iss: &c.issuer,
        aud: ACCESS_AUDIENCE,
    })
}

/// The refresh payload JSON. Instants are truncated to whole seconds.
pub(super) fn refresh_payload(c: &RefreshClaims) -> Result<Vec<u8>, serde_json::Error> {
    let iat = c.issued_at.timestamp();
    serde_json::to_vec(&RefreshOut {
        unique_name: &c.unique_name,
        token_id: c.token_id.as_uuid(),
        short_term_expiration: if c.short_term { "True" } else { "False" },
        sub: c.sub.as_uuid(),
        nbf: iat,
        exp: c.expires_at.timestamp(),
        iat,
        iss: &c.issuer,
        aud: REFRESH_AUDIENCE,
    })
}

/// What a verified payload must satisfy.
pub(super) struct Expected<'a> {
    pub audience: &'static str,
    pub issuer: &'a str,
    pub now: DateTime<Utc>,
    /// Never negative.
    pub leeway: Duration,
}

/// The claims of a signature-checked access payload.
pub(super) fn access_claims(
    payload: &[u8],
    expected: &Expected<'_>,
) -> Result<AccessClaims, TokenRejection> {
    let Checked {
        map,
        issued_at,
        expires_at,
    } = common(payload, expected)?;
    Ok(AccessClaims {
        unique_name: string(&map, "unique_name")?.to_owned(),
        sub: UserId::from_uuid(uuid(&map, "sub")?),
        sid: FamilyId::from_uuid(uuid(&map, "sid")?),
        jti: AccessTokenId::from_uuid(uuid(&map, "jti")?),
        issued_at,
        expires_at,
        issuer: expected.issuer.to_owned(),
    })
}

/// The claims of a signature-checked refresh payload.
pub(super) fn refresh_claims(
    payload: &[u8],
    expected: &Expected<'_>,
) -> Result<RefreshClaims, TokenRejection> {
    let Checked {
        map,
        issued_at,
        expires_at,
    } = common(payload, expected)?;
    let short_term = match string(&map, "short_term_expiration")? {
        "True" => true,
        "False" => false,
        _ => return Err(TokenRejection::Malformed),
    };
    Ok(RefreshClaims {
        unique_name: string(&map, "unique_name")?.to_owned(),
        token_id: TokenId::from_uuid(uuid(&map, "token_id")?),
        short_term,
        sub: UserId::from_uuid(uuid(&map, "sub")?),
        issued_at,
        expires_at,
        issuer: expected.issuer.to_owned(),
    })
}

/// A payload whose audience, issuer and times passed.
struct Checked {
    map: Map<String, Value>,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// Parses the payload and checks `aud`, `iss`, `exp`, `nbf` and `iat`, in that order.
fn common(payload: &[u8], expected: &Expected<'_>) -> Result<Checked, TokenRejection> {
    // A claim given twice is refused (RFC 7519 §4), not resolved to its last value.
    let map = object_without_duplicates(payload).map_err(|_| TokenRejection::Malformed)?;
    // A missing, array-valued or otherwise different `aud` is a token meant for someone else.
    if map.get("aud").and_then(Value::as_str) != Some(expected.audience) {
        return Err(TokenRejection::Audience);
    }
    if map.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(TokenRejection::Issuer);
    }
    // Checked arithmetic: an absurd leeway must not panic; it just never trips the check.
    let exp = instant(&map, "exp")?;
    if let Some(limit) = expected.now.checked_sub_signed(expected.leeway) {
        if exp <= limit {
            return Err(TokenRejection::Expired);
        }
    }
    let nbf = instant(&map, "nbf")?;
    if let Some(limit) = expected.now.checked_add_signed(expected.leeway) {
        if nbf > limit {
            return Err(TokenRejection::NotYetValid);
        }
    }
    // We always issue nbf == iat (API.md §2); anything else did not come from us.
    if instant(&map, "iat")? != nbf {
        return Err(TokenRejection::Malformed);
    }
    Ok(Checked {
        map,
        issued_at: nbf,
        expires_at: exp,
    })
}

fn string<'m>(map: &'m Map<String, Value>, name: &str) -> Result<&'m str, TokenRejection> {
    map.get(name)
        .and_then(Value::as_str)
        .ok_or(TokenRejection::Malformed)
}

/// A NumericDate in whole seconds (an integer; `1.5` or `"1"` is malformed).
fn instant(map: &Map<String, Value>, name: &str) -> Result<DateTime<Utc>, TokenRejection> {
    map.get(name)
        .and_then(Value::as_i64)
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or(TokenRejection::Malformed)
}

/// A UUID in the hyphenated form we write (not braced, URN or simple).
fn uuid(map: &Map<String, Value>, name: &str) -> Result<Uuid, TokenRejection> {
    let s = string(map, name)?;
    if s.len() != 36 {
        return Err(TokenRejection::Malformed);
    }
    Uuid::try_parse(s).map_err(|_| TokenRejection::Malformed)
}
