use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, RunQueryDsl};
use tollgate_application::{DpopReplayCache, Error};
use tollgate_domain::Jkt;

use super::schema::dpop_proofs as dp;
use super::types::DbTime;
use super::Database;

/// [`DpopReplayCache`] on a [`Database`]: one `dpop_proofs` row per accepted proof, so a proof
/// is accepted once by all the server processes sharing the database. Expired rows go with
/// [`Database::purge`].
#[derive(Debug, Clone)]
pub struct DieselDpopReplayCache {
    db: Database,
}

impl DieselDpopReplayCache {
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The stored key: SHA-256 (hex) of `jkt \0 jti`, a fixed size whatever the client sent.
fn digest(jkt: &Jkt, jti: &str) -> String {
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(jkt.as_str().as_bytes());
    hasher.update(b"\0");
    hasher.update(jti.as_bytes());
    hasher
        .finish()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl DpopReplayCache for DieselDpopReplayCache {
    fn remember(&self, jkt: &Jkt, jti: &str, expires_at: DateTime<Utc>) -> Result<bool, Error> {
        let id = digest(jkt, jti);
        let until = DbTime::from(expires_at);
        // The primary key decides: of concurrent inserts of one key, in any process, exactly
        // one writes its row; the others conflict and write nothing. A row past its expiry but
        // not yet purged still refuses its pair; the proof it stood for is refused as too old
        // anyway, and a client makes every `jti` afresh.
        let inserted = db_write!(self.db, |conn| {
            Ok(diesel::insert_into(dp::table)
                .values((dp::proof_digest.eq(&id), dp::expires_at.eq(until)))
                .on_conflict_do_nothing()
                .execute(conn)?)
        })?;
        Ok(inserted == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_stored_as_a_digest_that_separates_key_and_jti() {
        let a = Jkt::parse(&"a".repeat(43)).unwrap();
        let d = digest(&a, "jti");
        assert_eq!(d.len(), 64);
        assert!(!d.contains("jti"));
        assert_ne!(digest(&a, "jti"), digest(&a, "jti2"));
        let b = Jkt::parse(&"b".repeat(43)).unwrap();
        assert_ne!(digest(&a, "x"), digest(&b, "x"));
    }
}
