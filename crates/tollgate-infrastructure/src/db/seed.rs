//! Bulk seeding for tests and benchmarks (feature `test-support`): many families and tokens in
//! two set-based INSERTs, generated inside the database (`generate_series` on PostgreSQL, a
//! recursive CTE on SQLite), so a million token rows take seconds rather than a million round
//! trips.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::RunQueryDsl;
use tollgate_domain::{FamilyId, TokenId, UserId};
use uuid::Uuid;

use super::pool::{with_connection, Pool};
use super::types::{
    sql::{Instant, Uuid as SqlUuid},
    DbTime, DbUuid,
};
use super::Database;
use crate::InfraError;

/// `families` token families of `user`, each a chain of `tokens_per_family` tokens (the last
/// unspent, the others spent at `created_at`), all created at `created_at`.
#[derive(Debug, Clone, Copy)]
pub struct SeedFamilies {
    /// The owner; must exist.
    pub user: UserId,
    /// How many families.
    pub families: u32,
    /// Tokens per family (0 counts as 1).
    pub tokens_per_family: u16,
    /// Creation, issue and spending instant of everything seeded.
    pub created_at: DateTime<Utc>,
    /// Every token's expiry.
    pub tokens_expire_at: DateTime<Utc>,
    /// The families' absolute end.
    pub family_expires_at: DateTime<Utc>,
    /// Revocation instant (reason `admin`), or live.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The ids of one seeded batch: `tag` makes them distinct from every other batch's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    tag: u32,
}

impl Seeded {
    /// The id of family `i` (0-based).
    pub fn family_id(&self, i: u32) -> FamilyId {
        FamilyId::from_uuid(self.uuid(0, 0x8000, i))
    }

    /// The id of token `k` (0-based, 0 is the first) of family `i`.
    pub fn token_id(&self, i: u32, k: u16) -> TokenId {
        TokenId::from_uuid(self.uuid(k, 0x9000, i))
    }

    fn uuid(&self, k: u16, variant: u16, i: u32) -> Uuid {
        let text = format!("{:08x}-{k:04x}-4000-{variant:04x}-{i:012x}", self.tag);
        Uuid::try_parse(&text).unwrap_or_default()
    }
}

#[cfg(feature = "sqlite")]
const SQLITE_FAMILIES: &str = "\
    WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?1) \
    INSERT INTO token_families \
        (id, user_id, created_at, expires_at, long_lived, revoked_at, revoke_reason) \
    SELECT printf('%s-0000-4000-8000-%012x', ?2, i), ?3, ?4, ?5, 0, ?6, ?7 FROM seq";

#[cfg(feature = "sqlite")]
const SQLITE_TOKENS: &str = "\
    WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?1), \
                   k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j + 1 < ?3) \
    INSERT INTO refresh_tokens \
        (token_id, family_id, parent_id, access_token_id, issued_at, expires_at, used_at) \
    SELECT printf('%s-%04x-4000-9000-%012x', ?2, j, i), \
           printf('%s-0000-4000-8000-%012x', ?2, i), \
           CASE WHEN j = 0 THEN NULL ELSE printf('%s-%04x-4000-9000-%012x', ?2, j - 1, i) END, \
           printf('%s-%04x-4000-a000-%012x', ?2, j, i), \
           ?4, ?5, CASE WHEN j + 1 < ?3 THEN ?4 ELSE NULL END \
    FROM seq, k";

#[cfg(feature = "postgres")]
const PG_FAMILIES: &str = "\
    INSERT INTO token_families \
        (id, user_id, created_at, expires_at, long_lived, revoked_at, revoke_reason) \
    SELECT ($2 || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, $3, $4, $5, false, $6, $7 \
    FROM generate_series(0, $1 - 1) AS i";

#[cfg(feature = "postgres")]
const PG_TOKENS: &str = "\
    INSERT INTO refresh_tokens \
        (token_id, family_id, parent_id, access_token_id, issued_at, expires_at, used_at) \
    SELECT ($2 || '-' || lpad(to_hex(j), 4, '0') || '-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, \
           ($2 || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, \
           CASE WHEN j = 0 THEN NULL ELSE ($2 || '-' || lpad(to_hex(j - 1), 4, '0') \
                || '-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid END, \
           ($2 || '-' || lpad(to_hex(j), 4, '0') || '-4000-a000-' || lpad(to_hex(i), 12, '0'))::uuid, \
           $4, $5, CASE WHEN j + 1 < $3 THEN $4::timestamptz ELSE NULL END \
    FROM generate_series(0, $1 - 1) AS i, generate_series(0, $3 - 1) AS j";

impl Database {
    /// Inserts the families and tokens `spec` describes in one transaction.
    ///
    /// # Errors
    /// [`InfraError::Pool`] when no connection is available, [`InfraError::Database`] when an
    /// insert fails (an unknown user, for one); nothing is stored then.
    pub fn seed_families(&self, spec: &SeedFamilies) -> Result<Seeded, InfraError> {
        let seeded = Seeded {
            tag: rand::random::<u32>(),
        };
        let tag = format!("{:08x}", seeded.tag);
        let n = i64::from(spec.families);
        let per = i64::from(spec.tokens_per_family.max(1));
        let user = DbUuid(spec.user.as_uuid());
        let created = DbTime::from(spec.created_at);
        let family_end = DbTime::from(spec.family_expires_at);
        let token_end = DbTime::from(spec.tokens_expire_at);
        let revoked = spec.revoked_at.map(DbTime::from);
        let reason = spec.revoked_at.map(|_| "admin");
        macro_rules! seed {
            ($conn:ident, $families:expr, $tokens:expr) => {{
                diesel::sql_query($families)
                    .bind::<BigInt, _>(n)
                    .bind::<Text, _>(&tag)
                    .bind::<SqlUuid, _>(user)
                    .bind::<Instant, _>(created)
                    .bind::<Instant, _>(family_end)
                    .bind::<Nullable<Instant>, _>(revoked)
                    .bind::<Nullable<Text>, _>(reason)
                    .execute($conn)?;
                diesel::sql_query($tokens)
                    .bind::<BigInt, _>(n)
                    .bind::<Text, _>(&tag)
                    .bind::<BigInt, _>(per)
                    .bind::<Instant, _>(created)
                    .bind::<Instant, _>(token_end)
                    .execute($conn)?;
                Ok::<_, InfraError>(())
            }};
        }
        match self.pool() {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => with_connection(pool, |conn| {
                conn.immediate_transaction(|conn| seed!(conn, SQLITE_FAMILIES, SQLITE_TOKENS))
            })?,
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => with_connection(pool, |conn| {
                diesel::Connection::transaction(conn, |conn| seed!(conn, PG_FAMILIES, PG_TOKENS))
            })?,
        }
        Ok(seeded)
    }
}
