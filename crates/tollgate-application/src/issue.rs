use std::fmt;

use chrono::{DateTime, Utc};
use tollgate_domain::{
    whole_seconds, AccessClaims, Family, Jkt, RefreshClaims, RefreshTokenRecord, TokenPolicy, User,
};

use crate::{Error, TokenSigner};

/// A freshly issued access and refresh token, with their exact expiry instants.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The signed access token.
    pub access_token: String,
    /// The signed refresh token.
    pub refresh_token: String,
    /// Issue instant plus the access lifetime (full precision).
    pub access_expires_at: DateTime<Utc>,
    /// The refresh record's expiry (full precision; capped by the family).
    pub refresh_expires_at: DateTime<Utc>,
    /// The access lifetime in whole seconds (`expires_in`).
    pub expires_in: i64,
    /// The DPoP key the family is bound to (`token_type: DPoP`); `None` for a bearer pair.
    pub dpop_jkt: Option<Jkt>,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("dpop_jkt", &self.dpop_jkt)
            .finish()
    }
}

/// Signs the pair that goes with `record`.
///
/// Every claim is derived from the stored user, family and record, so signing the same record
/// again gives the same claims (the seam the retry grace needs).
pub(crate) fn sign_pair(
    signer: &dyn TokenSigner,
    policy: &TokenPolicy,
    user: &User,
    family: &Family,
    record: &RefreshTokenRecord,
) -> Result<TokenPair, Error> {
    let issued = whole_seconds(record.issued_at);
    let access = AccessClaims {
        unique_name: user.name.as_str().to_owned(),
        sub: user.id,
        sid: family.id,
        jti: record.access_token_id,
        issued_at: issued,
        expires_at: issued + policy.access_ttl,
        issuer: policy.issuer.clone(),
        cnf_jkt: family.jkt.clone(),
    };
    let refresh = RefreshClaims {
        unique_name: user.name.as_str().to_owned(),
        token_id: record.id,
        short_term: !family.long_lived,
        sub: user.id,
        issued_at: issued,
        expires_at: whole_seconds(record.expires_at),
        issuer: policy.issuer.clone(),
    };
    Ok(TokenPair {
        access_token: signer.sign_access(&access)?,
        refresh_token: signer.sign_refresh(&refresh)?,
        access_expires_at: record.issued_at + policy.access_ttl,
        refresh_expires_at: record.expires_at,
        expires_in: policy.access_ttl.num_seconds(),
        dpop_jkt: family.jkt.clone(),
    })
}
