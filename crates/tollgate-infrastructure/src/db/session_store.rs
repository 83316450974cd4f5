use chrono::{DateTime, Utc};
use diesel::{BoolExpressionMethods, ExpressionMethods, OptionalExtension, QueryDsl, RunQueryDsl};
use tollgate_application::{Error, RotateOutcome, SessionStore, TokenWithOwner};
use tollgate_domain::{
    Family, FamilyId, PasswordHash, RefreshTokenRecord, RevokeReason, TokenId, User, UserId,
};

#[cfg(feature = "postgres")]
use super::pool::{with_connection, Pool};
use super::rows::{FamilyRow, TokenRow, UserRow};
use super::schema::{refresh_tokens, session_cutoffs, token_families, users};
use super::types::{DbTime, DbUuid};
use super::{on_unique_violation, Database};

/// [`SessionStore`] on a [`Database`].
#[derive(Debug, Clone)]
pub struct DieselSessionStore {
    db: Database,
    /// The users live in a host's own table, not in Tollgate's `users`: a login's family is then
    /// checked against the user's `session_cutoffs` row instead of the user row (there is none).
    external_users: bool,
}

impl DieselSessionStore {
    pub(crate) fn new(db: Database) -> Self {
        Self {
            db,
            external_users: false,
        }
    }

    pub(crate) fn for_external_users(db: Database) -> Self {
        Self {
            db,
            external_users: true,
        }
    }
}

/// The statements of the refresh path, built in one place so the store runs them and the
/// PostgreSQL plan test (`testing`) explains exactly these (for the rotation, PostgreSQL's
/// `spend_and_store`, whose UPDATE is `spend_token`).
pub(crate) mod queries {
    use diesel::backend::Backend;
    use diesel::dsl::update;
    use diesel::query_builder::{AstPass, QueryFragment, QueryId};
    use diesel::serialize::ToSql;
    use diesel::sql_types::HasSqlType;
    use diesel::{
        ExpressionMethods, JoinOnDsl, NullableExpressionMethods, QueryDsl, QueryResult,
        RunQueryDsl, Table,
    };

    #[cfg(feature = "postgres")]
    use crate::db::rows::TokenRow;
    use crate::db::schema::{refresh_tokens, token_families, users};
    use crate::db::types::{sql, DbTime, DbUuid};

    /// The token with this id joined to its family.
    #[diesel::dsl::auto_type]
    pub(crate) fn token_with_family(token: DbUuid) -> _ {
        // `#[auto_type]` needs the types of the column tuples spelled out.
        let token_columns: <refresh_tokens::table as Table>::AllColumns =
            refresh_tokens::all_columns;
        let family_columns: <token_families::table as Table>::AllColumns =
            token_families::all_columns;
        refresh_tokens::table
            .inner_join(token_families::table)
            .filter(refresh_tokens::token_id.eq(token))
            .select((token_columns, family_columns))
    }

    /// The token with this id joined to its family and to the family's owner in `users`
    /// (`NULL` columns when the row is gone: families keep no foreign key to `users`).
    #[diesel::dsl::auto_type]
    pub(crate) fn token_with_family_and_owner(token: DbUuid) -> _ {
        let token_columns: <refresh_tokens::table as Table>::AllColumns =
            refresh_tokens::all_columns;
        let family_columns: <token_families::table as Table>::AllColumns =
            token_families::all_columns;
        let user_columns: <users::table as Table>::AllColumns = users::all_columns;
        refresh_tokens::table
            .inner_join(token_families::table)
            .left_join(users::table.on(users::id.eq(token_families::user_id)))
            .filter(refresh_tokens::token_id.eq(token))
            .select((token_columns, family_columns, user_columns.nullable()))
    }

    /// Why a token could not be spent: its `used_at` and its family's `revoked_at`.
    #[diesel::dsl::auto_type]
    pub(crate) fn token_state(token: DbUuid) -> _ {
        refresh_tokens::table
            .inner_join(token_families::table)
            .filter(refresh_tokens::token_id.eq(token))
            .select((refresh_tokens::used_at, token_families::revoked_at))
    }

    /// Spends `token` at `at` if it is unused and its family unrevoked; the row count says
    /// whether it did. The database decides between racing callers: the second one's UPDATE
    /// waits for the first one's row lock, then re-reads `used_at` and matches nothing.
    pub(crate) fn spend_token(token: DbUuid, at: DbTime) -> SpendToken {
        SpendToken { token, at }
    }

    /// The statement of [`spend_token`], written out instead of built with diesel's `update`:
    /// diesel never keeps an UPDATE's prepared statement (a changeset may leave out `None`
    /// fields, so in general its text varies), so SQLite parsed and planned this one on every
    /// refresh (about 2.5% of a refresh's CPU) and PostgreSQL got it unnamed each time. Its
    /// text is fixed and its type a static query id, so each connection prepares it once.
    #[derive(Debug, Clone, Copy, QueryId)]
    pub(crate) struct SpendToken {
        token: DbUuid,
        at: DbTime,
    }

    impl<DB> QueryFragment<DB> for SpendToken
    where
        DB: Backend + HasSqlType<sql::Uuid> + HasSqlType<sql::Instant>,
        DbUuid: ToSql<sql::Uuid, DB>,
        DbTime: ToSql<sql::Instant, DB>,
    {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
            out.push_sql("UPDATE refresh_tokens SET used_at = ");
            out.push_bind_param::<sql::Instant, _>(&self.at)?;
            out.push_sql(" WHERE refresh_tokens.token_id = ");
            out.push_bind_param::<sql::Uuid, _>(&self.token)?;
            out.push_sql(
                " AND refresh_tokens.used_at IS NULL AND EXISTS (SELECT token_families.id \
                 FROM token_families WHERE token_families.id = refresh_tokens.family_id \
                 AND token_families.revoked_at IS NULL)",
            );
            Ok(())
        }
    }

    impl<Conn> RunQueryDsl<Conn> for SpendToken {}

    /// PostgreSQL: spends `token` at `at` as [`spend_token`] does and, in the same statement,
    /// stores `successor` if and only if the token was spent; the row count (1 or 0) says
    /// whether it rotated. One statement is one implicit transaction, so this is the rotation's
    /// transaction in one round trip instead of four (`BEGIN`, `UPDATE`, `INSERT`, `COMMIT`).
    /// Racing callers are settled as by `spend_token`: the UPDATE of the second waits for the
    /// first one's row lock, then matches nothing, and its INSERT gets no row.
    #[cfg(feature = "postgres")]
    pub(crate) fn spend_and_store(
        token: DbUuid,
        at: DbTime,
        successor: &TokenRow,
    ) -> SpendAndStore<'_> {
        SpendAndStore {
            spend: SpendToken { token, at },
            successor,
        }
    }

    /// The statement of [`spend_and_store`] (a data-modifying `WITH`, which SQLite lacks). It
    /// inserts the same row as SQLite's `INSERT` of `successor`.
    #[cfg(feature = "postgres")]
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct SpendAndStore<'a> {
        spend: SpendToken,
        successor: &'a TokenRow,
    }

    // By hand: diesel's derive keeps the borrow's lifetime, and a query id must be 'static.
    #[cfg(feature = "postgres")]
    impl QueryId for SpendAndStore<'_> {
        type QueryId = SpendAndStore<'static>;
        const HAS_STATIC_QUERY_ID: bool = true;
    }

    #[cfg(feature = "postgres")]
    impl QueryFragment<diesel::pg::Pg> for SpendAndStore<'_> {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
            use diesel::sql_types::Nullable;
            let row = self.successor;
            out.push_sql("WITH spent AS (");
            self.spend.walk_ast(out.reborrow())?;
            out.push_sql(
                " RETURNING refresh_tokens.token_id) INSERT INTO refresh_tokens (token_id, \
                 family_id, parent_id, access_token_id, issued_at, expires_at, used_at) SELECT ",
            );
            out.push_bind_param::<sql::Uuid, _>(&row.token_id)?;
            out.push_sql(", ");
            out.push_bind_param::<sql::Uuid, _>(&row.family_id)?;
            out.push_sql(", ");
            out.push_bind_param::<Nullable<sql::Uuid>, _>(&row.parent_id)?;
            out.push_sql(", ");
            out.push_bind_param::<sql::Uuid, _>(&row.access_token_id)?;
            out.push_sql(", ");
            out.push_bind_param::<sql::Instant, _>(&row.issued_at)?;
            out.push_sql(", ");
            out.push_bind_param::<sql::Instant, _>(&row.expires_at)?;
            out.push_sql(", ");
            out.push_bind_param::<Nullable<sql::Instant>, _>(&row.used_at)?;
            out.push_sql(" FROM spent");
            Ok(())
        }
    }

    #[cfg(feature = "postgres")]
    impl<Conn> RunQueryDsl<Conn> for SpendAndStore<'_> {}

    /// Revokes one family unless it is revoked already (so the first reason and instant stay).
    #[diesel::dsl::auto_type]
    pub(crate) fn revoke_family(family: DbUuid, at: DbTime, reason: &'static str) -> _ {
        update(token_families::table)
            .filter(token_families::id.eq(family))
            .filter(token_families::revoked_at.is_null())
            .set((
                token_families::revoked_at.eq(at),
                token_families::revoke_reason.eq(reason),
            ))
    }

    /// The token whose parent is `parent` (served by `refresh_tokens_parent_id`).
    #[diesel::dsl::auto_type]
    pub(crate) fn successor_of(parent: DbUuid) -> _ {
        let token_columns: <refresh_tokens::table as Table>::AllColumns =
            refresh_tokens::all_columns;
        refresh_tokens::table
            .filter(refresh_tokens::parent_id.eq(parent))
            .select(token_columns)
    }

    /// Revokes every live family of a user.
    #[diesel::dsl::auto_type]
    pub(crate) fn revoke_user_families(user: DbUuid, at: DbTime, reason: &'static str) -> _ {
        update(token_families::table)
            .filter(token_families::user_id.eq(user))
            .filter(token_families::revoked_at.is_null())
            .set((
                token_families::revoked_at.eq(at),
                token_families::revoke_reason.eq(reason),
            ))
    }
}

impl DieselSessionStore {
    /// [`SessionStore::create_login_family`] for users kept in a host's table: the family is
    /// stored only if no revocation of the user's sessions happened at or after `user_read_at`.
    ///
    /// The same shape as the users-row check: the user's `session_cutoffs` row stands in for
    /// the users row this store cannot see. An upsert that changes nothing takes its row lock
    /// (PostgreSQL; SQLite's IMMEDIATE transaction already holds the write lock) until the
    /// family is stored, so `revoke_user_families` either waits and then revokes the family,
    /// or came first and its cut-off refuses the login here.
    fn create_external_login_family(
        &self,
        user: DbUuid,
        user_read_at: DateTime<Utc>,
        family_row: &FamilyRow,
        token_row: &TokenRow,
    ) -> Result<bool, Error> {
        db_write!(self.db, |conn| {
            diesel::insert_into(session_cutoffs::table)
                .values((
                    session_cutoffs::user_id.eq(user),
                    session_cutoffs::not_before.eq(None::<DbTime>),
                ))
                .on_conflict(session_cutoffs::user_id)
                .do_update()
                .set(session_cutoffs::not_before.eq(session_cutoffs::not_before))
                .execute(conn)?;
            let not_before: Option<DbTime> = session_cutoffs::table
                .find(user)
                .select(session_cutoffs::not_before)
                .get_result(conn)?;
            // At or after (within the microsecond the cut-off is stored to): a revocation in
            // the very instant of the read may have followed it.
            if not_before
                .is_some_and(|cut| cut.0 + chrono::Duration::microseconds(1) > user_read_at)
            {
                return Ok(false);
            }
            diesel::insert_into(token_families::table)
                .values(family_row)
                .execute(conn)?;
            diesel::insert_into(refresh_tokens::table)
                .values(token_row)
                .execute(conn)?;
            Ok(true)
        })
        .map_err(|e| {
            on_unique_violation(
                e,
                Error::Conflict("token family or refresh token id exists"),
            )
        })
    }
}

/// Why the spend of `presented` matched nothing, read after it (states only move one way:
/// `used_at` and `revoked_at` are set once and never cleared).
fn why_not_spent<C>(conn: &mut C, presented: DbUuid) -> Result<RotateOutcome, crate::InfraError>
where
    C: diesel::Connection,
    for<'a> queries::token_state:
        diesel::query_dsl::LoadQuery<'a, C, (Option<DbTime>, Option<DbTime>)>,
{
    let state: Option<(Option<DbTime>, Option<DbTime>)> = queries::token_state(presented)
        .get_result(conn)
        .optional()?;
    Ok(match state {
        None => RotateOutcome::NotFound,
        Some((_, Some(_revoked))) => RotateOutcome::FamilyRevoked,
        Some((Some(_used), None)) => RotateOutcome::AlreadyUsed,
        // Unused and live now, yet the UPDATE matched nothing: possible only on PostgreSQL,
        // where each statement has its own snapshot, if the token's family committed between
        // the two. At the instant of the UPDATE the token did not exist.
        Some((None, None)) => RotateOutcome::NotFound,
    })
}

impl SessionStore for DieselSessionStore {
    fn create_family(&self, family: &Family, first: &RefreshTokenRecord) -> Result<(), Error> {
        let family_row = FamilyRow::from(family);
        let token_row = TokenRow::from(first);
        db_write!(self.db, |conn| {
            diesel::insert_into(token_families::table)
                .values(&family_row)
                .execute(conn)?;
            diesel::insert_into(refresh_tokens::table)
                .values(&token_row)
                .execute(conn)?;
            Ok(())
        })
        .map_err(|e| {
            on_unique_violation(
                e,
                Error::Conflict("token family or refresh token id exists"),
            )
        })
    }

    fn create_login_family(
        &self,
        family: &Family,
        first: &RefreshTokenRecord,
        verified: &PasswordHash,
        user_read_at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let family_row = FamilyRow::from(family);
        let token_row = TokenRow::from(first);
        let user = DbUuid(family.user_id.as_uuid());
        if self.external_users {
            return self.create_external_login_family(user, user_read_at, &family_row, &token_row);
        }
        db_write!(self.db, |conn| {
            // A no-op UPDATE rather than a SELECT: it takes the row lock (PostgreSQL; SQLite's
            // IMMEDIATE transaction already holds the write lock), so a concurrent password
            // change, disable or delete waits for this commit or, when it came first, makes
            // the row no longer match.
            let current = diesel::update(
                users::table
                    .find(user)
                    .filter(users::password_hash.eq(verified.as_str()))
                    .filter(users::disabled.eq(false)),
            )
            .set(users::disabled.eq(false))
            .execute(conn)?;
            if current == 0 {
                return Ok(false);
            }
            diesel::insert_into(token_families::table)
                .values(&family_row)
                .execute(conn)?;
            diesel::insert_into(refresh_tokens::table)
                .values(&token_row)
                .execute(conn)?;
            Ok(true)
        })
        .map_err(|e| {
            on_unique_violation(
                e,
                Error::Conflict("token family or refresh token id exists"),
            )
        })
    }

    fn find_token(&self, id: TokenId) -> Result<Option<(RefreshTokenRecord, Family)>, Error> {
        let found: Option<(TokenRow, FamilyRow)> = db_run!(self.db, |conn| {
            Ok(queries::token_with_family(DbUuid(id.as_uuid()))
                .get_result(conn)
                .optional()?)
        })?;
        let Some((token, family)) = found else {
            return Ok(None);
        };
        Ok(Some((token.into(), Family::try_from(family)?)))
    }

    fn find_token_with_owner(&self, id: TokenId) -> Result<Option<TokenWithOwner>, Error> {
        if self.external_users {
            // The owner is in the host's table; the refresh grant asks the host's user store.
            return Ok(self
                .find_token(id)?
                .map(|(record, family)| (record, family, None)));
        }
        let found: Option<(TokenRow, FamilyRow, Option<UserRow>)> = db_run!(self.db, |conn| {
            Ok(queries::token_with_family_and_owner(DbUuid(id.as_uuid()))
                .get_result(conn)
                .optional()?)
        })?;
        let Some((token, family, owner)) = found else {
            return Ok(None);
        };
        Ok(Some((
            token.into(),
            Family::try_from(family)?,
            owner.map(User::try_from).transpose()?,
        )))
    }

    fn find_family(&self, id: FamilyId) -> Result<Option<Family>, Error> {
        let found: Option<FamilyRow> = db_run!(self.db, |conn| {
            Ok(token_families::table
                .find(DbUuid(id.as_uuid()))
                .get_result(conn)
                .optional()?)
        })?;
        Ok(found.map(Family::try_from).transpose()?)
    }

    fn list_user_families(&self, user: UserId) -> Result<Vec<Family>, Error> {
        let rows: Vec<FamilyRow> = db_run!(self.db, |conn| {
            Ok(token_families::table
                .filter(token_families::user_id.eq(DbUuid(user.as_uuid())))
                .order((token_families::created_at.desc(), token_families::id))
                .load(conn)?)
        })?;
        Ok(rows
            .into_iter()
            .map(Family::try_from)
            .collect::<Result<_, _>>()?)
    }

    fn find_successor(&self, parent: TokenId) -> Result<Option<RefreshTokenRecord>, Error> {
        let found: Option<TokenRow> = db_run!(self.db, |conn| {
            Ok(queries::successor_of(DbUuid(parent.as_uuid()))
                .get_result(conn)
                .optional()?)
        })?;
        Ok(found.map(RefreshTokenRecord::from))
    }

    fn rotate(
        &self,
        presented: TokenId,
        at: DateTime<Utc>,
        successor: &RefreshTokenRecord,
    ) -> Result<RotateOutcome, Error> {
        let presented = DbUuid(presented.as_uuid());
        let at = DbTime::from(at);
        let successor = TokenRow::from(successor);
        let conflict =
            |e| on_unique_violation(e, Error::Conflict("successor refresh token id exists"));
        // (Irrefutable when PostgreSQL is the only backend compiled in.)
        #[cfg(feature = "postgres")]
        #[allow(irrefutable_let_patterns)]
        if let Pool::Postgres(pool) = self.db.pool() {
            // One round trip; on a miss the diagnosis is a statement of its own, as it was in
            // the READ COMMITTED transaction this replaces (each statement its own snapshot).
            return with_connection(pool, |conn| {
                let rotated = queries::spend_and_store(presented, at, &successor).execute(conn)?;
                if rotated == 1 {
                    return Ok(RotateOutcome::Rotated);
                }
                why_not_spent(conn, presented)
            })
            .map_err(conflict);
        }
        db_write!(self.db, |conn| {
            let spent = queries::spend_token(presented, at).execute(conn)?;
            if spent == 0 {
                // Nothing was written; find out why for the caller.
                return why_not_spent(conn, presented);
            }
            diesel::insert_into(refresh_tokens::table)
                .values(&successor)
                .execute(conn)?;
            Ok(RotateOutcome::Rotated)
        })
        .map_err(conflict)
    }

    fn revoke_family(
        &self,
        id: FamilyId,
        at: DateTime<Utc>,
        reason: RevokeReason,
    ) -> Result<bool, Error> {
        let revoked = db_run!(self.db, |conn| {
            Ok(
                queries::revoke_family(DbUuid(id.as_uuid()), at.into(), reason.as_str())
                    .execute(conn)?,
            )
        })?;
        Ok(revoked > 0)
    }

    fn revoke_user_families(
        &self,
        user: UserId,
        at: DateTime<Utc>,
        reason: RevokeReason,
    ) -> Result<u64, Error> {
        let user = DbUuid(user.as_uuid());
        let at = DbTime::from(at);
        let revoked = db_write!(self.db, |conn| {
            // The cut-off first: its row lock orders this against a login storing a family of
            // a host-kept user (`create_external_login_family`). Such a login either committed
            // before, and the UPDATE below (a later statement, a later snapshot) revokes its
            // family, or waits and then finds the cut-off. Written for every user, so a store
            // used only for revocation protects logins through the external-users store too.
            diesel::insert_into(session_cutoffs::table)
                .values((
                    session_cutoffs::user_id.eq(user),
                    session_cutoffs::not_before.eq(Some(at)),
                ))
                .on_conflict(session_cutoffs::user_id)
                .do_update()
                .set(session_cutoffs::not_before.eq(session_cutoffs::not_before))
                .execute(conn)?;
            // Only ever raised: an older revocation arriving late keeps the newer cut-off.
            diesel::update(
                session_cutoffs::table.find(user).filter(
                    session_cutoffs::not_before
                        .is_null()
                        .or(session_cutoffs::not_before.lt(at)),
                ),
            )
            .set(session_cutoffs::not_before.eq(Some(at)))
            .execute(conn)?;
            Ok(queries::revoke_user_families(user, at, reason.as_str()).execute(conn)?)
        })?;
        // A row count always fits; saturate rather than panic if a platform ever disagrees.
        Ok(u64::try_from(revoked).unwrap_or(u64::MAX))
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use diesel::query_builder::{QueryFragment, QueryId};
    use diesel::sqlite::Sqlite;

    use super::queries::{spend_token, SpendToken};
    use crate::db::types::{DbTime, DbUuid};

    #[test]
    fn the_spend_statement_is_kept_prepared() {
        let spend = spend_token(
            DbUuid(uuid::Uuid::new_v4()),
            DbTime::from(chrono::DateTime::UNIX_EPOCH),
        );
        // diesel caches a statement by its type only with a static query id, and at all only
        // when every part of it is safe to cache.
        const { assert!(<SpendToken as QueryId>::HAS_STATIC_QUERY_ID) };
        assert!(spend.is_safe_to_cache_prepared(&Sqlite).unwrap());
    }
}
