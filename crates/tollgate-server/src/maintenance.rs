//! Background upkeep of a serving process: the periodic purge (`purge.interval`), on SQLite the
//! WAL checkpoint (`database.wal_checkpoint_ms`), and the key directory rescan
//! (`keys.rescan_interval`, and at once on SIGHUP).
//!
//! Both run as tasks on the server's actix runtime, so they stop with it; their database work
//! runs on the blocking pool, never on the async executor. A failure is logged and retried at the
//! next tick: an outage must not stop the upkeep for good.

use std::sync::Arc;
use std::time::Duration;

use actix_web::rt;
use tollgate_application::Clock;
use tollgate_infrastructure::db::{Backend, Database};
use tollgate_infrastructure::jwt::KeyDirectory;

use crate::Settings;

/// Starts the tasks the settings ask for. Must be called inside the actix runtime.
pub(crate) fn spawn(settings: &Settings, database: &Database, clock: Arc<dyn Clock>) {
    if settings.purge.interval > 0 {
        let every = Duration::from_secs(settings.purge.interval);
        rt::spawn(purge_loop(settings.clone(), database.clone(), clock, every));
    }
    if database.backend() == Backend::Sqlite && settings.database.wal_checkpoint_ms > 0 {
        let every = Duration::from_millis(settings.database.wal_checkpoint_ms);
        rt::spawn(checkpoint_loop(database.clone(), every));
    }
}

/// Rescans the key directory every `every`, and at once when the process gets SIGHUP. Must be
/// called inside the actix runtime.
pub(crate) fn spawn_key_rescan(every: Duration, keys: Arc<KeyDirectory>, clock: Arc<dyn Clock>) {
    rt::spawn(rescan_loop(keys, clock, every));
}

async fn rescan_loop(keys: Arc<KeyDirectory>, clock: Arc<dyn Clock>, every: Duration) {
    let mut ticks = rt::time::interval_at(rt::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; the key directory is rescanned periodically only");
            None
        }
    };
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = next_hangup(&mut hangup) => {
                tracing::info!("SIGHUP: rescanning the key directory");
            }
        }
        let (keys, now) = (keys.clone(), clock.now());
        // A failure is logged by the rescan itself (once), and the keys loaded before stay.
        if let Err(e) = rt::task::spawn_blocking(move || keys.rescan(now)).await {
            tracing::error!(error = %e, "key rescan task panicked");
        }
    }
}

/// The next SIGHUP; never, when there is no handler or the signal stream ended.
async fn next_hangup(hangup: &mut Option<tokio::signal::unix::Signal>) {
    if let Some(signal) = hangup {
        if signal.recv().await.is_some() {
            return;
        }
        *hangup = None;
    }
    std::future::pending::<()>().await;
}

async fn purge_loop(
    settings: Settings,
    database: Database,
    clock: Arc<dyn Clock>,
    every: Duration,
) {
    // The first purge one interval after start, not at once: processes restarted together do
    // not all purge in their first second, beside their start-up work.
    let mut ticks = rt::time::interval_at(rt::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        // Validated when the settings were loaded; the clock moves, so the cutoffs are per run.
        let policy = match settings.purge_policy(clock.now()) {
            Ok(policy) => policy,
            Err(e) => {
                tracing::error!(error = %e, "purge settings refused; background purge stopped");
                return;
            }
        };
        let db = database.clone();
        match rt::task::spawn_blocking(move || db.purge(&policy)).await {
            Ok(Ok(report))
                if report.families > 0
                    || report.tokens > 0
                    || report.events > 0
                    || report.login_failures > 0
                    || report.dpop_proofs > 0 =>
            {
                tracing::info!(
                    families = report.families,
                    tokens = report.tokens,
                    events = report.events,
                    login_failures = report.login_failures,
                    dpop_proofs = report.dpop_proofs,
                    batches = report.batches,
                    "purged expired and revoked sessions, old security events, idle failed-login counters and expired DPoP proofs"
                )
            }
            Ok(Ok(_)) => tracing::debug!("purge found nothing to delete"),
            Ok(Err(e)) => tracing::warn!(error = %e, "purge failed; retrying at the next interval"),
            Err(e) => tracing::error!(error = %e, "purge task panicked"),
        }
    }
}

async fn checkpoint_loop(database: Database, every: Duration) {
    let mut ticks = rt::time::interval(every);
    // Ticks missed while a checkpoint waited are not made up in a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let db = database.clone();
        match rt::task::spawn_blocking(move || db.checkpoint_wal()).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => tracing::debug!("WAL checkpoint could not finish; retrying"),
            Ok(Err(e)) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            Err(e) => tracing::error!(error = %e, "WAL checkpoint task panicked"),
        }
    }
}
