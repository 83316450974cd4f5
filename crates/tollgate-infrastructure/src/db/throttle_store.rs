use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, RunQueryDsl};
use tollgate_application::{Error, LoginThrottle};
use tollgate_domain::{ThrottleKey, ThrottlePolicy};

use super::schema::login_failures as lf;
use super::types::DbTime;
use super::Database;

/// [`LoginThrottle`] on a [`Database`]: one `login_failures` row per key, so every server
/// process sharing the database sees the same counts.
#[derive(Debug, Clone)]
pub struct DieselLoginThrottle {
    db: Database,
}

impl DieselLoginThrottle {
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The stored form of a key: SHA-256 (hex) of its kind and value. A digest, not the name, because
/// a password typed into the name field must not end up in the database in clear.
fn digest(key: &ThrottleKey) -> String {
    let input = match key {
        ThrottleKey::UserName(name) => format!("name\0{name}"),
        ThrottleKey::Address(ip) => format!("addr\0{ip}"),
    };
    openssl::sha::sha256(input.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl LoginThrottle for DieselLoginThrottle {
    fn blocked_until(
        &self,
        keys: &[ThrottleKey],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        let digests: Vec<String> = keys.iter().map(digest).collect();
        let now = DbTime::from(now);
        let blocks: Vec<Option<DbTime>> = db_run!(self.db, |conn| {
            Ok(lf::table
                .filter(lf::key_digest.eq_any(&digests))
                .filter(lf::blocked_until.gt(now))
                .select(lf::blocked_until)
                .load(conn)?)
        })?;
        Ok(blocks.into_iter().flatten().map(|t| t.0).max())
    }

    fn record_failure(
        &self,
        key: &ThrottleKey,
        at: DateTime<Utc>,
        policy: &ThrottlePolicy,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        let id = digest(key);
        let stale = DbTime::from(at - policy.forget_after);
        let now = DbTime::from(at);
        // One transaction: the insert-or-keep, the increment and the block are seen together.
        // The increment is an UPDATE, so concurrent failures queue on the row lock (PostgreSQL)
        // or the write lock (SQLite) and each counts once, also across processes.
        let until = db_write!(self.db, |conn| {
            // An upsert whose update changes nothing, rather than DO NOTHING: it takes the row
            // lock at once, so a concurrent purge (`SKIP LOCKED`) passes over the row instead of
            // deleting it between this statement and the increment; a row the purge deleted
            // first is inserted afresh once the purge commits.
            diesel::insert_into(lf::table)
                .values((
                    lf::key_digest.eq(&id),
                    lf::failures.eq(0i64),
                    lf::last_failure_at.eq(now),
                    lf::blocked_until.eq(None::<DbTime>),
                ))
                .on_conflict(lf::key_digest)
                .do_update()
                .set(lf::failures.eq(lf::failures))
                .execute(conn)?;
            diesel::update(lf::table.find(&id).filter(lf::last_failure_at.lt(stale)))
                .set(lf::failures.eq(0i64))
                .execute(conn)?;
            diesel::update(lf::table.find(&id))
                .set(lf::failures.eq(lf::failures + 1i64))
                .execute(conn)?;
            let failures: Option<i64> = lf::table
                .find(&id)
                .select(lf::failures)
                .get_result(conn)
                .optional()?;
            let failures = u64::try_from(failures.unwrap_or(1)).unwrap_or(u64::MAX);
            let delay = policy.delay_after(failures);
            let until = (delay > Duration::zero()).then(|| at + delay);
            diesel::update(lf::table.find(&id))
                .set((
                    lf::last_failure_at.eq(now),
                    lf::blocked_until.eq(until.map(DbTime::from)),
                ))
                .execute(conn)?;
            Ok(until)
        })?;
        Ok(until)
    }

    fn reset(&self, key: &ThrottleKey) -> Result<(), Error> {
        let id = digest(key);
        db_run!(self.db, |conn| {
            diesel::delete(lf::table.find(&id)).execute(conn)?;
            Ok(())
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_as_distinct_digests_without_the_name() {
        let name = digest(&ThrottleKey::UserName("hunter2".into()));
        assert_eq!(name.len(), 64);
        assert!(!name.contains("hunter2"));
        let addr = digest(&ThrottleKey::Address("127.0.0.1".parse().unwrap()));
        let as_name = digest(&ThrottleKey::UserName("127.0.0.1".into()));
        assert_ne!(addr, as_name);
    }
}
