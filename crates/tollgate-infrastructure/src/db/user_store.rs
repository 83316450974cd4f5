use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, RunQueryDsl};
use tollgate_application::{Error, UserStore};
use tollgate_domain::{PasswordHash, User, UserId, UserName};

use super::rows::UserRow;
use super::schema::{token_families, users};
use super::types::DbUuid;
use super::{on_unique_violation, Database};

/// [`UserStore`] on a [`Database`].
#[derive(Debug, Clone)]
pub struct DieselUserStore {
    db: Database,
}

impl DieselUserStore {
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The outcome of an `UPDATE users … WHERE id = $id`: no row touched means no such user.
fn one_user_updated(updated: usize) -> Result<(), Error> {
    if updated == 0 {
        Err(Error::UserNotFound)
    } else {
        Ok(())
    }
}

impl UserStore for DieselUserStore {
    fn create(&self, user: &User) -> Result<(), Error> {
        let row = UserRow::from(user);
        db_run!(self.db, |conn| {
            diesel::insert_into(users::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        // The id is a fresh v4 UUID, so a duplicate key can only be the name.
        .map_err(|e| on_unique_violation(e, Error::UserExists))
    }

    fn find_by_name(&self, name: &UserName) -> Result<Option<User>, Error> {
        let row: Option<UserRow> = db_run!(self.db, |conn| {
            Ok(users::table
                .filter(users::user_name.eq(name.as_str()))
                .get_result(conn)
                .optional()?)
        })?;
        Ok(row.map(User::try_from).transpose()?)
    }

    fn find_by_id(&self, id: UserId) -> Result<Option<User>, Error> {
        let row: Option<UserRow> = db_run!(self.db, |conn| {
            Ok(users::table
                .find(DbUuid(id.as_uuid()))
                .get_result(conn)
                .optional()?)
        })?;
        Ok(row.map(User::try_from).transpose()?)
    }

    fn list(&self) -> Result<Vec<User>, Error> {
        let rows: Vec<UserRow> = db_run!(self.db, |conn| {
            Ok(users::table.order(users::user_name.asc()).load(conn)?)
        })?;
        rows.into_iter()
            .map(|r| User::try_from(r).map_err(Error::from))
            .collect()
    }

    fn set_disabled(&self, id: UserId, disabled: bool) -> Result<(), Error> {
        let updated = db_run!(self.db, |conn| {
            Ok(diesel::update(users::table.find(DbUuid(id.as_uuid())))
                .set(users::disabled.eq(disabled))
                .execute(conn)?)
        })?;
        one_user_updated(updated)
    }

    fn set_password_hash(&self, id: UserId, hash: &PasswordHash) -> Result<(), Error> {
        let updated = db_run!(self.db, |conn| {
            Ok(diesel::update(users::table.find(DbUuid(id.as_uuid())))
                .set(users::password_hash.eq(hash.as_str()))
                .execute(conn)?)
        })?;
        one_user_updated(updated)
    }

    fn replace_password_hash(
        &self,
        id: UserId,
        old: &PasswordHash,
        new: &PasswordHash,
    ) -> Result<bool, Error> {
        let updated = db_run!(self.db, |conn| {
            Ok(diesel::update(
                users::table
                    .find(DbUuid(id.as_uuid()))
                    .filter(users::password_hash.eq(old.as_str())),
            )
            .set(users::password_hash.eq(new.as_str()))
            .execute(conn)?)
        })?;
        Ok(updated > 0)
    }

    fn delete(&self, id: UserId) -> Result<(), Error> {
        // The families name their user without a foreign key (a host may bring its own users),
        // so they are deleted here, in the user's transaction; their refresh tokens follow by
        // `ON DELETE CASCADE` on refresh_tokens.family_id. No user deleted: nothing else is.
        let user = DbUuid(id.as_uuid());
        let deleted = db_write!(self.db, |conn| {
            let deleted = diesel::delete(users::table.find(user)).execute(conn)?;
            if deleted > 0 {
                diesel::delete(token_families::table.filter(token_families::user_id.eq(user)))
                    .execute(conn)?;
            }
            Ok(deleted)
        })?;
        one_user_updated(deleted)
    }
}
