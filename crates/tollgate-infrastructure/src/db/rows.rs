//! Rows as stored, and their conversions to and from domain values.
//!
//! Field order matches the `table!` column order: the rows are loaded positionally from
//! `all_columns`, which keeps the query builders free of any backend parameter.

use diesel::{Insertable, Queryable};
use tollgate_domain::{
    AccessTokenId, Client, ClientId, Family, FamilyId, GrantType, Jkt, PasswordHash,
    RefreshTokenRecord, RevokeReason, SecretDigest, TokenId, User, UserId, UserName,
};

use super::schema::{clients, refresh_tokens, token_families, users};
use super::types::{DbTime, DbUuid};
use crate::InfraError;

/// A `users` row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    id: DbUuid,
    user_name: String,
    password_hash: String,
    disabled: bool,
    created_at: DbTime,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> Self {
        Self {
            id: DbUuid(u.id.as_uuid()),
            user_name: u.name.as_str().to_owned(),
            password_hash: u.password_hash.as_str().to_owned(),
            disabled: u.disabled,
            created_at: u.created_at.into(),
        }
    }
}

impl TryFrom<UserRow> for User {
    type Error = InfraError;

    fn try_from(r: UserRow) -> Result<Self, InfraError> {
        Ok(Self {
            id: UserId::from_uuid(r.id.0),
            name: UserName::parse(&r.user_name)
                .map_err(|e| InfraError::Corrupt(format!("user {}: {e}", r.id.0)))?,
            password_hash: PasswordHash::new(r.password_hash),
            disabled: r.disabled,
            created_at: r.created_at.0,
        })
    }
}

/// A `token_families` row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = token_families)]
pub(crate) struct FamilyRow {
    id: DbUuid,
    user_id: DbUuid,
    created_at: DbTime,
    expires_at: DbTime,
    long_lived: bool,
    revoked_at: Option<DbTime>,
    revoke_reason: Option<String>,
    client_id: Option<String>,
    jkt: Option<String>,
}

impl From<&Family> for FamilyRow {
    fn from(f: &Family) -> Self {
        Self {
            id: DbUuid(f.id.as_uuid()),
            user_id: DbUuid(f.user_id.as_uuid()),
            created_at: f.created_at.into(),
            expires_at: f.expires_at.into(),
            long_lived: f.long_lived,
            revoked_at: f.revoked_at.map(DbTime::from),
            revoke_reason: f.revoke_reason.map(|r| r.as_str().to_owned()),
            client_id: f.client_id.as_ref().map(|c| c.as_str().to_owned()),
            jkt: f.jkt.as_ref().map(|j| j.as_str().to_owned()),
        }
    }
}

impl TryFrom<FamilyRow> for Family {
    type Error = InfraError;

    fn try_from(r: FamilyRow) -> Result<Self, InfraError> {
        let revoke_reason = r
            .revoke_reason
            .as_deref()
            .map(str::parse::<RevokeReason>)
            .transpose()
            .map_err(|e| InfraError::Corrupt(format!("token family {}: {e}", r.id.0)))?;
        let client_id = r
            .client_id
            .as_deref()
            .map(ClientId::parse)
            .transpose()
            .map_err(|e| InfraError::Corrupt(format!("token family {}: {e}", r.id.0)))?;
        let jkt = r
            .jkt
            .as_deref()
            .map(Jkt::parse)
            .transpose()
            .map_err(|e| InfraError::Corrupt(format!("token family {}: {e}", r.id.0)))?;
        Ok(Self {
            id: FamilyId::from_uuid(r.id.0),
            user_id: UserId::from_uuid(r.user_id.0),
            created_at: r.created_at.0,
            expires_at: r.expires_at.0,
            long_lived: r.long_lived,
            revoked_at: r.revoked_at.map(|t| t.0),
            revoke_reason,
            client_id,
            jkt,
        })
    }
}

/// A `refresh_tokens` row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub(crate) struct TokenRow {
    pub(crate) token_id: DbUuid,
    pub(crate) family_id: DbUuid,
    pub(crate) parent_id: Option<DbUuid>,
    pub(crate) access_token_id: DbUuid,
    pub(crate) issued_at: DbTime,
    pub(crate) expires_at: DbTime,
    pub(crate) used_at: Option<DbTime>,
}

impl From<&RefreshTokenRecord> for TokenRow {
    fn from(t: &RefreshTokenRecord) -> Self {
        Self {
            token_id: DbUuid(t.id.as_uuid()),
            family_id: DbUuid(t.family_id.as_uuid()),
            parent_id: t.parent_id.map(|p| DbUuid(p.as_uuid())),
            access_token_id: DbUuid(t.access_token_id.as_uuid()),
            issued_at: t.issued_at.into(),
            expires_at: t.expires_at.into(),
            used_at: t.used_at.map(DbTime::from),
        }
    }
}

impl From<TokenRow> for RefreshTokenRecord {
    fn from(r: TokenRow) -> Self {
        Self {
            id: TokenId::from_uuid(r.token_id.0),
            family_id: FamilyId::from_uuid(r.family_id.0),
            parent_id: r.parent_id.map(|p| TokenId::from_uuid(p.0)),
            access_token_id: AccessTokenId::from_uuid(r.access_token_id.0),
            issued_at: r.issued_at.0,
            expires_at: r.expires_at.0,
            used_at: r.used_at.map(|t| t.0),
        }
    }
}

/// A `clients` row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = clients)]
pub(crate) struct ClientRow {
    id: String,
    secret_digest: Vec<u8>,
    allowed_grants: String,
    created_at: DbTime,
    introspect_any: bool,
}

impl From<&Client> for ClientRow {
    fn from(c: &Client) -> Self {
        Self {
            id: c.id.as_str().to_owned(),
            secret_digest: c.secret_digest.as_bytes().to_vec(),
            allowed_grants: GrantType::format_set(&c.allowed_grants),
            created_at: c.created_at.into(),
            introspect_any: c.introspect_any,
        }
    }
}

impl TryFrom<ClientRow> for Client {
    type Error = InfraError;

    fn try_from(r: ClientRow) -> Result<Self, InfraError> {
        let corrupt =
            |what: &dyn std::fmt::Display| InfraError::Corrupt(format!("client {}: {what}", r.id));
        let digest: [u8; 32] = r
            .secret_digest
            .as_slice()
            .try_into()
            .map_err(|_| corrupt(&"secret digest is not 32 bytes"))?;
        Ok(Self {
            id: ClientId::parse(&r.id).map_err(|e| corrupt(&e))?,
            secret_digest: SecretDigest::from_bytes(digest),
            allowed_grants: GrantType::parse_set(&r.allowed_grants).map_err(|e| corrupt(&e))?,
            created_at: r.created_at.0,
            introspect_any: r.introspect_any,
        })
    }
}
