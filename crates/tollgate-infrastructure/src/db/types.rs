//! Column types shared by both backends.
//!
//! One `table!` describes the schema for SQLite and PostgreSQL, so its columns need SQL types
//! that mean the native type on each side: `uuid` / `timestamptz` on PostgreSQL, `TEXT` / unix
//! microseconds in an `INTEGER` on SQLite (which has neither). The conversions delegate to
//! diesel's own implementations wherever one exists, so the wire formats stay diesel's.

use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
#[cfg(feature = "postgres")]
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
#[cfg(feature = "sqlite")]
use diesel::sqlite::{Sqlite, SqliteValue};
use uuid::Uuid;

/// SQL types for the `table!` definitions.
pub(crate) mod sql {
    /// A UUID: `uuid` on PostgreSQL, its hyphenated text on SQLite.
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(oid = 2950, array_oid = 2951))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct Uuid;

    /// An instant: `timestamptz` on PostgreSQL, unix microseconds on SQLite.
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(oid = 1184, array_oid = 1185))]
    #[diesel(sqlite_type(name = "Long"))]
    pub struct Instant;
}

/// A UUID as stored (any of the domain's id newtypes on its way in or out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql::Uuid)]
pub(crate) struct DbUuid(pub(crate) Uuid);

/// An instant as stored. Both backends keep microseconds; finer digits are truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql::Instant)]
pub(crate) struct DbTime(pub(crate) DateTime<Utc>);

#[cfg(feature = "postgres")]
impl ToSql<sql::Uuid, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <Uuid as ToSql<diesel::sql_types::Uuid, Pg>>::to_sql(&self.0, out)
    }
}

#[cfg(feature = "postgres")]
impl FromSql<sql::Uuid, Pg> for DbUuid {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <Uuid as FromSql<diesel::sql_types::Uuid, Pg>>::from_sql(value).map(Self)
    }
}

#[cfg(feature = "postgres")]
impl ToSql<sql::Instant, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<diesel::sql_types::Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}

#[cfg(feature = "postgres")]
impl FromSql<sql::Instant, Pg> for DbTime {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<diesel::sql_types::Timestamptz, Pg>>::from_sql(value).map(Self)
    }
}

#[cfg(feature = "sqlite")]
impl ToSql<sql::Uuid, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        // Hyphenated lower case, so values written by hand in `sqlite3` compare equal.
        out.set_value(self.0.hyphenated().to_string());
        Ok(serialize::IsNull::No)
    }
}

#[cfg(feature = "sqlite")]
impl FromSql<sql::Uuid, Sqlite> for DbUuid {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<diesel::sql_types::Text, Sqlite>>::from_sql(value)?;
        Ok(Self(Uuid::try_parse(&text)?))
    }
}

#[cfg(feature = "sqlite")]
impl ToSql<sql::Instant, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.timestamp_micros());
        Ok(serialize::IsNull::No)
    }
}

#[cfg(feature = "sqlite")]
impl FromSql<sql::Instant, Sqlite> for DbTime {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let micros = <i64 as FromSql<diesel::sql_types::BigInt, Sqlite>>::from_sql(value)?;
        DateTime::from_timestamp_micros(micros)
            .map(Self)
            .ok_or_else(|| format!("stored instant {micros} is out of range").into())
    }
}

impl From<DateTime<Utc>> for DbTime {
    /// Truncates to whole microseconds (towards the past) before anything is written, so that
    /// both backends store the same instant: diesel's PostgreSQL encoding would otherwise round
    /// pre-2000 instants towards 2000 while SQLite's rounds towards the past.
    fn from(t: DateTime<Utc>) -> Self {
        Self(DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t))
    }
}
