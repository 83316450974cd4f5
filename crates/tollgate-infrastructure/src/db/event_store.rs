use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use tollgate_application::{
    Error, EventFilter, SecurityEvent, SecurityEventLog, SecurityEventRecord,
};
use tollgate_domain::{FamilyId, UserId};

use super::schema::security_events as se;
use super::types::{DbTime, DbUuid};
use super::Database;
use crate::events::event_detail;

/// Longest `detail` stored (the column's CHECK allows this many characters).
const MAX_DETAIL_CHARS: usize = 200;

/// [`SecurityEventLog`] on a [`Database`]: the `security_events` table.
#[derive(Debug, Clone)]
pub struct DieselSecurityEventStore {
    db: Database,
}

impl DieselSecurityEventStore {
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }
}

type Row = (
    i64,
    DbTime,
    String,
    Option<DbUuid>,
    Option<String>,
    Option<String>,
    Option<DbUuid>,
    Option<String>,
);

fn record((id, at, kind, user, client, address, family, detail): Row) -> SecurityEventRecord {
    SecurityEventRecord {
        id,
        occurred_at: at.0,
        kind,
        user_id: user.map(|u| UserId::from_uuid(u.0)),
        client_id: client,
        address,
        family_id: family.map(|f| FamilyId::from_uuid(f.0)),
        detail,
    }
}

impl SecurityEventLog for DieselSecurityEventStore {
    fn append(&self, event: &SecurityEvent) -> Result<(), Error> {
        let detail: Option<String> =
            event_detail(&event.kind).map(|d| d.chars().take(MAX_DETAIL_CHARS).collect());
        let values = (
            se::occurred_at.eq(DbTime::from(event.at)),
            se::kind.eq(event.kind.name()),
            se::user_id.eq(event.kind.user_id().map(|u| DbUuid(u.as_uuid()))),
            se::client_id.eq(event.origin.client_id.as_ref().map(|c| c.as_str())),
            se::address.eq(event.origin.address.map(|a| a.to_string())),
            se::family_id.eq(event.kind.family_id().map(|f| DbUuid(f.as_uuid()))),
            se::detail.eq(detail),
        );
        // `db_write!` like every other write, so on SQLite it takes this process's turn instead
        // of polling SQLite's busy handler.
        db_write!(self.db, |conn| {
            diesel::insert_into(se::table)
                .values(values.clone())
                .execute(conn)?;
            Ok(())
        })?;
        Ok(())
    }

    fn list(&self, filter: &EventFilter) -> Result<Vec<SecurityEventRecord>, Error> {
        let user = filter.user_id.map(|u| DbUuid(u.as_uuid()));
        let since = filter.since.map(DbTime::from);
        let kind = filter.kind.clone();
        let limit = i64::from(filter.limit);
        let rows: Vec<Row> = db_run!(self.db, |conn| {
            let mut query = se::table
                .select((
                    se::id,
                    se::occurred_at,
                    se::kind,
                    se::user_id,
                    se::client_id,
                    se::address,
                    se::family_id,
                    se::detail,
                ))
                .order((se::occurred_at.desc(), se::id.desc()))
                .limit(limit)
                .into_boxed();
            if let Some(user) = user {
                query = query.filter(se::user_id.eq(user));
            }
            if let Some(since) = since {
                query = query.filter(se::occurred_at.ge(since));
            }
            if let Some(kind) = &kind {
                query = query.filter(se::kind.eq(kind.clone()));
            }
            Ok(query.load(conn)?)
        })?;
        Ok(rows.into_iter().map(record).collect())
    }
}
