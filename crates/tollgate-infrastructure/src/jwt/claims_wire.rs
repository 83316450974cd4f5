//! The JSON payloads of API.md §2, both ways.
//!
//! Serialization goes through structs because serde_json writes struct fields in declaration
//! order, which is the order the contract fixes. Parsing is `#[derive(Deserialize)]` structs
//! that `jsonwebtoken::decode` fills in; [`check`] then does by hand the few checks the library
//! cannot (see there).

use chrono::{DateTime, Duration, Utc};
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollgate_domain::{
    AccessClaims, AccessTokenId, FamilyId, Jkt, RefreshClaims, TokenId, TokenRejection, UserId,
};
use uuid::Uuid;

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
    /// Last, and only on DPoP-bound tokens, so a bearer token is byte for byte what it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation<&'a str>>,
}

/// `cnf` (RFC 7800) with the DPoP key's thumbprint (RFC 9449 §6.1).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirmation<S> {
    jkt: S,
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
        cnf: c
            .cnf_jkt
            .as_ref()
            .map(|jkt| Confirmation { jkt: jkt.as_str() }),
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

/// The registered claims every payload of ours carries, as the contract types them. `aud` and
/// `iss` are read leniently (any JSON, or absent) so that a wrong one is reported as a wrong
/// audience or issuer rather than as a malformed payload.
macro_rules! registered_claims {
    ($(#[$meta:meta])* struct $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Deserialize)]
        pub(super) struct $name {
            $($(#[$fmeta])* $field: $ty,)*
            #[serde(default)]
            aud: Option<Value>,
            #[serde(default)]
            iss: Option<Value>,
            exp: i64,
            nbf: i64,
            iat: i64,
        }

        impl $name {
            fn registered(&self) -> Registered<'_> {
                Registered {
                    aud: self.aud.as_ref(),
                    iss: self.iss.as_ref(),
                    exp: self.exp,
                    nbf: self.nbf,
                    iat: self.iat,
                }
            }
        }
    };
}

registered_claims! {
    /// An access token payload (API.md §2).
    struct AccessIn {
        unique_name: String,
        sub: WireUuid,
        sid: WireUuid,
        jti: WireUuid,
        #[serde(default)]
        cnf: Option<Confirmation<String>>,
    }
}

registered_claims! {
    /// A refresh token payload (API.md §2).
    struct RefreshIn {
        unique_name: String,
        token_id: WireUuid,
        short_term_expiration: ShortTerm,
        sub: WireUuid,
    }
}

/// `short_term_expiration`: the strings `"True"` and `"False"`, nothing else.
#[derive(Deserialize)]
enum ShortTerm {
    True,
    False,
}

/// A UUID in the hyphenated form we write (not braced, URN or simple, which `Uuid`'s own
/// `Deserialize` would accept).
struct WireUuid(Uuid);

impl<'de> Deserialize<'de> for WireUuid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() != 36 {
            return Err(D::Error::custom("not a hyphenated UUID"));
        }
        Uuid::try_parse(&text)
            .map(WireUuid)
            .map_err(|_| D::Error::custom("not a hyphenated UUID"))
    }
}

struct Registered<'a> {
    aud: Option<&'a Value>,
    iss: Option<&'a Value>,
    exp: i64,
    nbf: i64,
    iat: i64,
}

/// What a verified payload must satisfy besides what `jsonwebtoken` checked.
pub(super) struct Expected<'a> {
    pub issuer: &'a str,
    pub now: DateTime<Utc>,
    /// Never negative.
    pub leeway: Duration,
}

/// The claims of a verified access payload.
pub(super) fn access_claims(
    wire: AccessIn,
    expected: &Expected<'_>,
) -> Result<AccessClaims, TokenRejection> {
    let (issued_at, expires_at) = check(&wire.registered(), expected)?;
    // We only ever write a well-formed thumbprint; anything else did not come from us.
    let cnf_jkt = wire
        .cnf
        .map(|cnf| Jkt::parse(&cnf.jkt))
        .transpose()
        .map_err(|_| TokenRejection::Malformed)?;
    Ok(AccessClaims {
        unique_name: wire.unique_name,
        sub: UserId::from_uuid(wire.sub.0),
        sid: FamilyId::from_uuid(wire.sid.0),
        jti: AccessTokenId::from_uuid(wire.jti.0),
        issued_at,
        expires_at,
        issuer: expected.issuer.to_owned(),
        cnf_jkt,
    })
}

/// The claims of a verified refresh payload.
pub(super) fn refresh_claims(
    wire: RefreshIn,
    expected: &Expected<'_>,
) -> Result<RefreshClaims, TokenRejection> {
    let (issued_at, expires_at) = check(&wire.registered(), expected)?;
    Ok(RefreshClaims {
        unique_name: wire.unique_name,
        token_id: TokenId::from_uuid(wire.token_id.0),
        short_term: matches!(wire.short_term_expiration, ShortTerm::True),
        sub: UserId::from_uuid(wire.sub.0),
        issued_at,
        expires_at,
        issuer: expected.issuer.to_owned(),
    })
}

/// What `jsonwebtoken` does not check, by hand; returns `(issued_at, expires_at)`.
///
/// - `aud` and `iss` must be single strings: the library has matched them against the use and
///   our issuer, but it also accepts an array that merely contains ours, which the contract's
///   tokens never carry.
/// - `exp` and `nbf` against the injected clock's `now` (the library only knows the wall
///   clock, so its time checks are off), with the leeway, in checked arithmetic: an absurd
///   leeway must not panic, it just never trips the check.
/// - `iat == nbf`: we always issue it so (API.md §2); anything else did not come from us.
fn check(
    claims: &Registered<'_>,
    expected: &Expected<'_>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), TokenRejection> {
    if !claims.aud.is_some_and(Value::is_string) {
        return Err(TokenRejection::Audience);
    }
    if !claims.iss.is_some_and(Value::is_string) {
        return Err(TokenRejection::Issuer);
    }
    let exp = instant(claims.exp)?;
    if let Some(limit) = expected.now.checked_sub_signed(expected.leeway) {
        if exp <= limit {
            return Err(TokenRejection::Expired);
        }
    }
    let nbf = instant(claims.nbf)?;
    if let Some(limit) = expected.now.checked_add_signed(expected.leeway) {
        if nbf > limit {
            return Err(TokenRejection::NotYetValid);
        }
    }
    if claims.iat != claims.nbf {
        return Err(TokenRejection::Malformed);
    }
    Ok((nbf, exp))
}

/// A NumericDate in whole seconds, within the calendar.
fn instant(secs: i64) -> Result<DateTime<Utc>, TokenRejection> {
    DateTime::from_timestamp(secs, 0).ok_or(TokenRejection::Malformed)
}
