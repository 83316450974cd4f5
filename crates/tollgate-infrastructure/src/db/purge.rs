//! Bounded storage: deleting token families and tokens nobody can use any more, in small
//! transactions, so a running service keeps answering while it happens.
//!
//! Six kinds of rows go, each in batches of at most [`PurgePolicy::batch`] per transaction:
//!
//! 1. families revoked before [`PurgePolicy::revoked_before`], with all their tokens;
//! 2. spent tokens that expired before [`PurgePolicy::expired_before`], from any family: a spent
//!    token is kept only to recognise its reuse, and once expired it is refused before storage is
//!    asked (the JWT's `exp`), so nothing reads it any more. This bounds long refresh chains,
//!    whose family never expires while it is used;
//! 3. families every token of which expired before [`PurgePolicy::expired_before`], with their
//!    tokens;
//! 4. security events older than [`PurgePolicy::events_before`] (`audit.keep`);
//! 5. failed-login counters (`login_failures`) whose last failure came before
//!    [`PurgePolicy::failures_before`] and that block nothing any more: such a counter would be
//!    reset at the next failure anyway, so deleting it changes no throttling decision, and
//!    unknown names tried by an attacker do not pile up for ever;
//! 6. DPoP replay-cache rows (`dpop_proofs`) that expired before
//!    [`PurgePolicy::expired_before`]: their proofs are refused as too old anyway.
//!
//! On SQLite, where every writer waits for the batch in progress, batches are sized to hold the
//! write lock about a millisecond (`purge.batch` is then the upper bound, a tenth of it the
//! lower), and the process's writers take turns on an eventually fair mutex, so refreshes are
//! served between batches (see `Database::next_batch_size`).
//!
//! Each batch is one indexed statement (`DELETE … WHERE id IN (SELECT … LIMIT n)`); a family's
//! tokens go with it through the `ON DELETE CASCADE` foreign key. On PostgreSQL the inner SELECT
//! takes its rows `FOR UPDATE SKIP LOCKED`, so purges running in several processes at once split
//! the work instead of waiting for or deadlocking on each other; on SQLite `BEGIN IMMEDIATE`
//! serialises them. The SQL is written by hand (the same text for both backends, `$n` becoming
//! `?n` on SQLite) because diesel's query builder has neither `SKIP LOCKED` nor data-modifying
//! CTEs.

use chrono::{DateTime, Utc};
#[cfg(feature = "sqlite")]
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};

use super::pool::{with_connection, Pool};
use super::types::{sql::Instant, DbTime};
use super::Database;
use crate::InfraError;

/// How long a WAL checkpoint waits for readers and writers (milliseconds) before giving up.
#[cfg(feature = "sqlite")]
const CHECKPOINT_BUSY_MS: u32 = 100;

/// How long one SQLite purge batch should hold the write lock (see `Database::next_batch_size`):
/// about the time a refresh's own write takes, so a refresh that meets a batch waits at most
/// about as long again.
#[cfg(feature = "sqlite")]
const SQLITE_BATCH_HOLD: std::time::Duration = std::time::Duration::from_millis(1);

/// What a purge deletes and how much per transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgePolicy {
    /// Tokens (and families whose every token) expired before this instant go. Callers pass
    /// "now minus the verification leeway", so no token that could still verify is deleted.
    pub expired_before: DateTime<Utc>,
    /// Families revoked before this instant go (reuse of their tokens is recognised until then).
    pub revoked_before: DateTime<Utc>,
    /// Failed-login counters whose last failure came before this instant go (unless still
    /// blocking). Callers pass "now minus the throttle's `forget_after`", after which a counter
    /// starts again from zero; it is at least `login.max_delay`, so no block is cut short.
    pub failures_before: DateTime<Utc>,
    /// Most families (or, in the spent-token step, tokens; in the last two steps, events or
    /// counters) deleted per transaction (0 counts as 1). On SQLite batches are made smaller
    /// when one would hold the write lock longer than about a millisecond.
    pub batch: u32,
    /// Security events that happened before this instant go; `None` keeps them all.
    pub events_before: Option<DateTime<Utc>>,
}

/// What a purge deleted (or, for [`Database::purge_preview`], would delete).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Token families deleted.
    pub families: u64,
    /// Refresh token rows deleted, those of deleted families included.
    pub tokens: u64,
    /// Security event rows deleted.
    pub events: u64,
    /// Failed-login counters deleted.
    pub login_failures: u64,
    /// Expired DPoP replay-cache rows deleted.
    pub dpop_proofs: u64,
    /// Transactions committed (zero for a preview).
    pub batches: u64,
}

/// One kind of victim; each is purged in its own run of batches.
#[derive(Debug, Clone, Copy)]
enum Step {
    RevokedFamilies,
    SpentTokens,
    ExpiredFamilies,
    SecurityEvents,
    LoginFailures,
    DpopProofs,
}

impl Step {
    /// The SELECT naming one batch of victims; `$1` is the cutoff, `$2` the batch size.
    fn victims(self) -> &'static str {
        match self {
            Step::RevokedFamilies => {
                "SELECT f.id FROM token_families f WHERE f.revoked_at < $1 LIMIT $2"
            }
            Step::SpentTokens => {
                "SELECT t.token_id FROM refresh_tokens t \
                 WHERE t.expires_at < $1 AND t.used_at IS NOT NULL LIMIT $2"
            }
            // Candidates through the unspent token's expiry (`refresh_tokens_live_expires_at`),
            // confirmed by looking at every token of the family (index on `family_id`).
            Step::ExpiredFamilies => {
                "SELECT f.id FROM token_families f \
                 JOIN refresh_tokens t ON t.family_id = f.id \
                 WHERE t.expires_at < $1 AND t.used_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens u \
                                 WHERE u.family_id = f.id AND u.expires_at >= $1) \
                 LIMIT $2"
            }
            Step::SecurityEvents => {
                "SELECT e.id FROM security_events e WHERE e.occurred_at < $1 LIMIT $2"
            }
            // `blocked_until` is at most `max_delay` after the last failure, so with a cutoff
            // `forget_after` (≥ `max_delay`) back it is always past; checked all the same, so
            // a counter never goes while it blocks.
            Step::LoginFailures => {
                "SELECT l.key_digest FROM login_failures l \
                 WHERE l.last_failure_at < $1 \
                 AND (l.blocked_until IS NULL OR l.blocked_until < $1) LIMIT $2"
            }
            Step::DpopProofs => {
                "SELECT p.proof_digest FROM dpop_proofs p WHERE p.expires_at < $1 LIMIT $2"
            }
        }
    }

    /// The row lock clause PostgreSQL appends to [`Step::victims`].
    #[cfg(feature = "postgres")]
    fn pg_lock(self) -> &'static str {
        match self {
            Step::RevokedFamilies | Step::ExpiredFamilies => " FOR UPDATE OF f SKIP LOCKED",
            Step::SpentTokens => " FOR UPDATE OF t SKIP LOCKED",
            Step::SecurityEvents => " FOR UPDATE OF e SKIP LOCKED",
            Step::LoginFailures => " FOR UPDATE OF l SKIP LOCKED",
            Step::DpopProofs => " FOR UPDATE OF p SKIP LOCKED",
        }
    }

    /// The instant before which the step's victims go; `None` when the step is off.
    fn cutoff(self, policy: &PurgePolicy) -> Option<DbTime> {
        match self {
            Step::RevokedFamilies => Some(policy.revoked_before.into()),
            Step::SpentTokens | Step::ExpiredFamilies | Step::DpopProofs => {
                Some(policy.expired_before.into())
            }
            Step::SecurityEvents => policy.events_before.map(DbTime::from),
            Step::LoginFailures => Some(policy.failures_before.into()),
        }
    }

    /// Whether deleting the step's rows cascades to refresh tokens (which are then counted).
    fn deletes_families(self) -> bool {
        matches!(self, Step::RevokedFamilies | Step::ExpiredFamilies)
    }

    /// The table the victims are deleted from, and its key column.
    fn target(self) -> (&'static str, &'static str) {
        match self {
            Step::RevokedFamilies | Step::ExpiredFamilies => ("token_families", "id"),
            Step::SpentTokens => ("refresh_tokens", "token_id"),
            Step::SecurityEvents => ("security_events", "id"),
            Step::LoginFailures => ("login_failures", "key_digest"),
            Step::DpopProofs => ("dpop_proofs", "proof_digest"),
        }
    }
}

#[cfg(feature = "postgres")]
#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = BigInt)]
    tokens: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// SQLite spells numbered parameters `?1`, PostgreSQL `$1`.
#[cfg(feature = "sqlite")]
fn sqlite_params(sql: &str) -> String {
    sql.replace('$', "?")
}

/// The statement deleting one batch of `step`'s victims on PostgreSQL; `$1` is the cutoff, `$2`
/// the batch size. Every part of it sees the snapshot taken before the DELETE, so the token count
/// still sees the rows the cascade deletes.
#[cfg(feature = "postgres")]
fn pg_batch_sql(step: Step) -> String {
    let (table, key) = step.target();
    let victims = step.victims();
    let lock = step.pg_lock();
    let tokens = if step.deletes_families() {
        "(SELECT count(*) FROM refresh_tokens WHERE family_id IN (SELECT key FROM gone))"
    } else {
        "0::bigint"
    };
    format!(
        "WITH gone AS (DELETE FROM {table} WHERE {key} IN ({victims}{lock}) RETURNING {key} AS key) \
         SELECT (SELECT count(*) FROM gone) AS rows, {tokens} AS tokens"
    )
}

/// Each purge step's name and PostgreSQL batch statement, for the plan test (`testing`).
#[cfg(all(feature = "test-support", feature = "postgres"))]
pub(crate) fn pg_batch_statements() -> Vec<(&'static str, String)> {
    [
        ("revoked families", Step::RevokedFamilies),
        ("spent tokens", Step::SpentTokens),
        ("expired families", Step::ExpiredFamilies),
        ("security events", Step::SecurityEvents),
        ("login failures", Step::LoginFailures),
        ("dpop proofs", Step::DpopProofs),
    ]
    .into_iter()
    .map(|(name, step)| (name, pg_batch_sql(step)))
    .collect()
}

impl Database {
    /// Deletes what `policy` names, batch by batch (see the module documentation); returns what
    /// went. Safe to run beside a serving process and in several processes at once.
    ///
    /// # Errors
    /// [`InfraError::Pool`] when no connection is available, [`InfraError::Database`] when a
    /// statement fails; batches committed before the failure stay deleted.
    pub fn purge(&self, policy: &PurgePolicy) -> Result<PurgeReport, InfraError> {
        let mut report = PurgeReport::default();
        let limit = u64::from(policy.batch.max(1));
        for step in [
            Step::RevokedFamilies,
            Step::SpentTokens,
            Step::ExpiredFamilies,
            Step::SecurityEvents,
            Step::LoginFailures,
            Step::DpopProofs,
        ] {
            let Some(cutoff) = step.cutoff(policy) else {
                continue;
            };
            // On SQLite the batch shrinks (and grows back, up to `purge.batch`) so that each
            // holds the write lock about `SQLITE_BATCH_HOLD`; see `next_batch_size`.
            let mut size = limit;
            loop {
                let (rows, tokens, held) = self.purge_batch(step, cutoff, size)?;
                report.batches += 1;
                match step {
                    Step::SpentTokens => report.tokens += rows,
                    Step::SecurityEvents => report.events += rows,
                    Step::LoginFailures => report.login_failures += rows,
                    Step::DpopProofs => report.dpop_proofs += rows,
                    Step::RevokedFamilies | Step::ExpiredFamilies => {
                        report.families += rows;
                        report.tokens += tokens;
                    }
                }
                // A short batch means nothing is left, or (PostgreSQL) the rest is locked by
                // another purge, which will delete it.
                if rows < size {
                    break;
                }
                size = self.next_batch_size(size, limit, held);
            }
        }
        Ok(report)
    }

    /// The size of the next batch after one of `size` rows held the write lock for `held`. On
    /// SQLite every writer waits for the batch in progress, so a refresh's added latency is the
    /// length of one batch: the size is scaled to make a batch last about `SQLITE_BATCH_HOLD`
    /// (shrinking at once when a batch took longer, growing by doubling, between a tenth of
    /// `limit`, i.e. `purge.batch`, and `limit`). PostgreSQL locks only the victims' rows: always `limit`.
    fn next_batch_size(&self, size: u64, limit: u64, held: std::time::Duration) -> u64 {
        #[cfg(feature = "sqlite")]
        if matches!(self.pool(), Pool::Sqlite(_)) {
            let target = SQLITE_BATCH_HOLD.as_nanos();
            let took = held.as_nanos().max(1);
            let next = if took > target {
                // Proportional: rows cost about the same within one step.
                u64::try_from(u128::from(size) * target / took).unwrap_or(1)
            } else if took < target / 2 {
                size.saturating_mul(2)
            } else {
                size
            };
            // Never below a tenth of `purge.batch`: on an oversubscribed CPU a batch is
            // descheduled while it holds the lock, every batch then "takes long" whatever its
            // size, and without a floor the purge would shrink to one row per turn and fall
            // behind a busy server's inserts.
            return next.clamp((limit / 10).max(1), limit);
        }
        let _ = (size, held);
        limit
    }

    /// Counts what [`Database::purge`] would delete now, deleting nothing (`tollgate purge
    /// --dry-run`). Reads every family, so meant for operators, not for a periodic task.
    ///
    /// # Errors
    /// [`InfraError::Pool`] when no connection is available, [`InfraError::Database`] when the
    /// count fails.
    pub fn purge_preview(&self, policy: &PurgePolicy) -> Result<PurgeReport, InfraError> {
        const DOOMED: &str = "(f.revoked_at < $1 OR (\
             EXISTS (SELECT 1 FROM refresh_tokens t \
                     WHERE t.family_id = f.id AND t.used_at IS NULL AND t.expires_at < $2) \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens u \
                             WHERE u.family_id = f.id AND u.expires_at >= $2)))";
        let families = format!("SELECT count(*) AS n FROM token_families f WHERE {DOOMED}");
        let tokens = format!(
            "SELECT count(*) AS n FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id \
             WHERE {DOOMED} OR (r.used_at IS NOT NULL AND r.expires_at < $2)"
        );
        let failures = format!(
            "SELECT count(*) AS n FROM ({}) l",
            Step::LoginFailures.victims().replace("LIMIT $2", "")
        );
        let proofs = "SELECT count(*) AS n FROM dpop_proofs WHERE expires_at < $1";
        let revoked = DbTime::from(policy.revoked_before);
        let expired = DbTime::from(policy.expired_before);
        let forgotten = DbTime::from(policy.failures_before);
        macro_rules! count_of {
            ($conn:ident, $sql:expr) => {
                diesel::sql_query($sql)
                    .bind::<Instant, _>(revoked)
                    .bind::<Instant, _>(expired)
                    .get_result::<Count>($conn)?
                    .n
            };
        }
        macro_rules! count_failures {
            ($conn:ident, $sql:expr) => {
                diesel::sql_query($sql)
                    .bind::<Instant, _>(forgotten)
                    .get_result::<Count>($conn)?
                    .n
            };
        }
        // The proofs' cutoff is the expiry one, bound alone.
        macro_rules! count_expired {
            ($conn:ident, $sql:expr) => {
                diesel::sql_query($sql)
                    .bind::<Instant, _>(expired)
                    .get_result::<Count>($conn)?
                    .n
            };
        }
        let (families, tokens, login_failures, proofs) = match self.pool() {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => with_connection(pool, |conn| {
                // One read transaction, so both counts see the same rows.
                diesel::Connection::transaction(conn, |conn| {
                    Ok::<_, InfraError>((
                        count_of!(conn, sqlite_params(&families)),
                        count_of!(conn, sqlite_params(&tokens)),
                        count_failures!(conn, sqlite_params(&failures)),
                        count_expired!(conn, sqlite_params(proofs)),
                    ))
                })
            })?,
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => with_connection(pool, |conn| {
                conn.build_transaction()
                    .repeatable_read()
                    .read_only()
                    .run(|conn| {
                        Ok::<_, InfraError>((
                            count_of!(conn, &families),
                            count_of!(conn, &tokens),
                            count_failures!(conn, &failures),
                            count_expired!(conn, proofs),
                        ))
                    })
            })?,
        };
        let events = match policy.events_before.map(DbTime::from) {
            Some(cutoff) => db_run!(self, |conn| {
                use super::schema::security_events as se;
                use diesel::{ExpressionMethods, QueryDsl};
                Ok(se::table
                    .filter(se::occurred_at.lt(cutoff))
                    .count()
                    .get_result::<i64>(conn)?)
            })?,
            None => 0,
        };
        Ok(PurgeReport {
            families: count(families),
            tokens: count(tokens),
            events: count(events),
            login_failures: count(login_failures),
            dpop_proofs: count(proofs),
            batches: 0,
        })
    }

    /// Deletes one batch of `step`'s victims in one transaction; returns the rows deleted from
    /// the step's table, the token rows that went with them (families only), and how long the
    /// SQLite write turn was held (zero on PostgreSQL).
    fn purge_batch(
        &self,
        step: Step,
        cutoff: DbTime,
        limit: u64,
    ) -> Result<(u64, u64, std::time::Duration), InfraError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match self.pool() {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => self.with_sqlite_writer(pool, |conn| {
                // Timed from inside the turn: waiting for it is not holding it.
                let turn = std::time::Instant::now();
                let (table, key) = step.target();
                let victims = step.victims();
                conn.immediate_transaction(|conn| {
                    fn bound<'a>(
                        sql: String,
                        cutoff: DbTime,
                        limit: i64,
                    ) -> BoxedSqlQuery<'a, diesel::sqlite::Sqlite, diesel::query_builder::SqlQuery>
                    {
                        diesel::sql_query(sqlite_params(&sql))
                            .into_boxed()
                            .bind::<Instant, _>(cutoff)
                            .bind::<BigInt, _>(limit)
                    }
                    // Under the write lock nothing changes between the two statements, so both
                    // name the same victims. A family's tokens are counted, then cascaded.
                    let tokens = if step.deletes_families() {
                        bound(
                            format!(
                                "SELECT count(*) AS n FROM refresh_tokens \
                                 WHERE family_id IN ({victims})"
                            ),
                            cutoff,
                            limit,
                        )
                        .get_result::<Count>(conn)?
                        .n
                    } else {
                        0
                    };
                    let rows = bound(
                        format!("DELETE FROM {table} WHERE {key} IN ({victims})"),
                        cutoff,
                        limit,
                    )
                    .execute(conn)?;
                    Ok((u64::try_from(rows).unwrap_or(0), count(tokens)))
                })
                .map(|(rows, tokens)| (rows, tokens, turn.elapsed()))
            }),
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => with_connection(pool, |conn| {
                // One statement, hence its own transaction.
                let counts: Counts = diesel::sql_query(pg_batch_sql(step))
                    .bind::<Instant, _>(cutoff)
                    .bind::<BigInt, _>(limit)
                    .get_result(conn)?;
                Ok((
                    count(counts.rows),
                    count(counts.tokens),
                    std::time::Duration::ZERO,
                ))
            }),
        }
    }

    /// Checkpoints an SQLite WAL completely so that the next commit writes it again from its
    /// beginning; does nothing on PostgreSQL. Returns whether the checkpoint completed: `false`
    /// when readers or a writer held on past the busy timeout.
    ///
    /// SQLite's automatic checkpoints are passive: under steady concurrent load some reader
    /// always holds an old snapshot, the WAL is never wholly copied back, never restarts from
    /// its beginning and grows until the disk is full. So this runs in two steps. First a
    /// passive checkpoint (`PRAGMA wal_checkpoint(PASSIVE)`) outside this process's writer
    /// turn: it copies what it can while refreshes keep committing. Then
    /// `wal_checkpoint(RESTART)` in the writer turn, which copies only what was committed
    /// meanwhile, syncs the WAL and the database file, and waits (the busy timeout) for readers
    /// to move to the newest snapshot, holding new writers back for that short while (about 4 ms
    /// on the benchmark machine, mostly the syncs). With the copying done outside the turn, a
    /// refresh waits for the checkpoint's last step only (together with leaving commits
    /// without automatic checkpoints, [`PoolOptions::sqlite_auto_checkpoint`](super::PoolOptions):
    /// 1.08 × the refreshes/s, the median of nine alternating pairs; BENCHMARKS.md).
    ///
    /// The file keeps its length (cut back to `journal_size_limit`, 16 MiB, when it grew past
    /// it), so the commits after a checkpoint overwrite blocks the file system has already
    /// allocated. `TRUNCATE` cut the file to zero bytes each time, and every commit then
    /// extended it again: allocating blocks was 2.3% of a pinned server's CPU at 32 concurrent
    /// refreshes, 1.1% after this change (BENCHMARKS.md).
    ///
    /// # Errors
    /// [`InfraError::Pool`] when no connection is available, [`InfraError::Database`] when the
    /// pragma fails.
    pub fn checkpoint_wal(&self) -> Result<bool, InfraError> {
        match self.pool() {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                // Copies what it can; a busy result (a reader on an old snapshot) is fine here,
                // the RESTART below is what must finish.
                with_connection(pool, |conn| {
                    diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").execute(conn)?;
                    Ok(())
                })?;
                self.with_sqlite_writer(pool, |conn| {
                    use diesel::connection::SimpleConnection;

                    #[derive(QueryableByName)]
                    struct Checkpoint {
                        #[diesel(sql_type = BigInt)]
                        busy: i64,
                    }
                    // While it waits for readers, the checkpoint holds the write lock: wait briefly
                    // and try again at the next tick rather than stall every writer for the full
                    // busy timeout.
                    conn.batch_execute(&format!("PRAGMA busy_timeout = {CHECKPOINT_BUSY_MS}"))?;
                    let result = diesel::sql_query("PRAGMA wal_checkpoint(RESTART)")
                        .get_result::<Checkpoint>(conn);
                    conn.batch_execute(&format!(
                        "PRAGMA busy_timeout = {}",
                        super::pool::SQLITE_BUSY_TIMEOUT_MS
                    ))?;
                    Ok(result?.busy == 0)
                })
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => Ok(true),
        }
    }
}
