//! Proof of possession (DPoP, RFC 9449): the key thumbprint a family is bound to, and why a
//! proof was refused.

use std::fmt;

use crate::DomainError;

/// An RFC 7638 JWK thumbprint (SHA-256, base64url without padding): the `jkt` a DPoP-bound
/// family and its access tokens (`cnf.jkt`) are bound to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Jkt(String);

impl Jkt {
    /// The length of a base64url SHA-256 digest without padding.
    pub const LEN: usize = 43;

    /// A thumbprint as computed by the proof verifier or read from storage: exactly 43
    /// base64url characters.
    ///
    /// # Errors
    /// [`DomainError::InvalidThumbprint`] for anything else.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if value.len() == Self::LEN && value.bytes().all(base64url) {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::InvalidThumbprint)
        }
    }

    /// The thumbprint as sent in `cnf.jkt`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Jkt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a DPoP proof was not accepted (RFC 9449 §4.3). Kept for logs; clients see
/// `invalid_dpop_proof`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DpopRejection {
    /// Not a compact JWS of JSON, too large, or claims missing or of the wrong type.
    Malformed,
    /// The header's `typ` is not `dpop+jwt`.
    Type,
    /// The `alg` is not on the allow-list (ES256, EdDSA, RS256, PS256).
    Algorithm,
    /// No `jwk`, one with private members, of an unsupported kind, or not of the `alg`'s kind.
    Key,
    /// The signature does not verify with the header's `jwk`.
    Signature,
    /// `htm` is not the request's method.
    Method,
    /// `htu` is not the request's URL (after normalisation).
    Url,
    /// `iat` lies outside the accepted window.
    Stale,
    /// `ath` is missing or is not the hash of the presented access token.
    AccessTokenHash,
    /// The proof's `jti` was seen before (a replay).
    Replayed,
    /// A bound family's refresh came without a proof, or with one of another key.
    KeyMismatch,
    /// A login came without a proof while proofs are required (`dpop.required`).
    Missing,
}

impl DpopRejection {
    /// Stable text form for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Type => "wrong typ",
            Self::Algorithm => "algorithm not allowed",
            Self::Key => "bad jwk",
            Self::Signature => "bad signature",
            Self::Method => "wrong htm",
            Self::Url => "wrong htu",
            Self::Stale => "iat outside the window",
            Self::AccessTokenHash => "wrong ath",
            Self::Replayed => "replayed",
            Self::KeyMismatch => "missing or foreign key",
            Self::Missing => "no proof",
        }
    }
}

impl fmt::Display for DpopRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thumbprint_is_43_base64url_characters() {
        let rfc = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
        assert_eq!(Jkt::parse(rfc).unwrap().as_str(), rfc);
        for bad in [
            "",
            &rfc[1..],
            &format!("{rfc}A"),
            &rfc.replace('-', "+"),
            &rfc.replace('N', "="),
        ] {
            assert_eq!(
                Jkt::parse(bad),
                Err(DomainError::InvalidThumbprint),
                "{bad}"
            );
        }
    }
}
