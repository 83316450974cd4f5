//! Load mode: virtual users log in once, then each runs a chain of refreshes.

use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::client::{Client, Dialect, Outcome, Target};
use crate::dpop::{proof_url, ProofAlg, ProofKey};
use crate::BenchError;

/// When the refresh phase ends.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this long.
    After(Duration),
    /// After this many refresh requests in total (answered or not).
    Count(u64),
}

/// What a load run does.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Server and credentials.
    pub target: Target,
    /// Virtual users (families); each logs in once.
    pub users: usize,
    /// Threads sending requests, each with its own connection; users are shared out among them.
    pub concurrency: usize,
    /// End of the refresh phase.
    pub stop: Stop,
    /// Free text copied into the summary (backend, algorithm) to group runs in charts.
    pub label: String,
    /// Print a progress line on stderr once a second (only when stderr is a terminal).
    pub progress: bool,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Latency {
    fn of(hist: &Histogram<u64>) -> Self {
        if hist.is_empty() {
            return Self::default();
        }
        Self {
            mean: hist.mean(),
            p50: hist.value_at_quantile(0.5),
            p90: hist.value_at_quantile(0.9),
            p99: hist.value_at_quantile(0.99),
            max: hist.max(),
        }
    }
}

/// The result of a load run; serialised as the one-line JSON summary.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Always `"load"`.
    pub mode: &'static str,
    /// The `--label` given.
    pub label: String,
    /// Parameter names used.
    pub dialect: Dialect,
    /// The DPoP proof algorithm (`"ES256"`, `"EdDSA"`), or `null` for bearer tokens.
    pub dpop: Option<ProofAlg>,
    /// Threads sending requests.
    pub concurrency: usize,
    /// Virtual users.
    pub users: usize,
    /// Successful logins (including logins that restarted a broken chain).
    pub logins: u64,
    /// Logins per second during the login phase.
    pub logins_per_sec: f64,
    /// Successful refreshes.
    pub refreshes: u64,
    /// Length of the refresh phase in seconds.
    pub seconds: f64,
    /// Successful refreshes per second.
    pub refreshes_per_sec: f64,
    /// Refresh latency (successful or not), microseconds.
    pub latency_us: Latency,
    /// Failed requests by `status error` (or `transport`).
    pub errors: BTreeMap<String, u64>,
    /// Refresh token ids or access token ids issued more than once.
    pub duplicates: u64,
    /// No errors and no duplicates.
    pub ok: bool,
}

impl LoadReport {
    /// Several human-readable lines.
    #[must_use]
    pub fn human(&self) -> String {
        let l = &self.latency_us;
        let ms = |us: u64| us as f64 / 1e3;
        format!(
            "users {} concurrency {} dialect {:?} dpop {}\n\
             logins    {:>8}  {:>10.1}/s\n\
             refreshes {:>8}  {:>10.1}/s over {:.2} s\n\
             latency   mean {:.3} ms  p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms\n\
             errors    {:?}\n\
             duplicate token ids: {}",
            self.users,
            self.concurrency,
            self.dialect,
            self.dpop.map_or("off", ProofAlg::jws_name),
            self.logins,
            self.logins_per_sec,
            self.refreshes,
            self.refreshes_per_sec,
            self.seconds,
            l.mean / 1e3,
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.max),
            self.errors,
            self.duplicates,
        )
    }
}

/// What one worker thread brings back.
struct WorkerResult {
    hist: Histogram<u64>,
    logins: u64,
    refreshes: u64,
    errors: BTreeMap<String, u64>,
    token_ids: Vec<u128>,
    jtis: Vec<u128>,
}

impl WorkerResult {
    fn new() -> Result<Self, BenchError> {
        Ok(Self {
            hist: new_histogram()?,
            logins: 0,
            refreshes: 0,
            errors: BTreeMap::new(),
            token_ids: Vec::new(),
            jtis: Vec::new(),
        })
    }

    fn fail(&mut self, outcome: &Outcome) {
        if let Some(key) = outcome.error_key() {
            *self.errors.entry(key).or_default() += 1;
        }
    }

    fn fail_with(&mut self, key: String) {
        *self.errors.entry(key).or_default() += 1;
    }

    /// Logs `user` in (with a proof by its key under DPoP); the new chain's first refresh
    /// token, or `None` (counted as an error).
    fn login(&mut self, client: &Client, user: &User, htu: Option<&str>) -> Option<String> {
        let proof = match user.proof(htu) {
            Ok(proof) => proof,
            Err(e) => {
                self.fail_with(e);
                return None;
            }
        };
        match client.login(proof.as_deref()) {
            Outcome::Pair(pair) => {
                self.logins += 1;
                self.token_ids.push(pair.token_id);
                self.jtis.push(pair.jti);
                Some(pair.refresh_token)
            }
            other => {
                self.fail(&other);
                None
            }
        }
    }
}

/// A virtual user: its DPoP key, made once at the start, and the token its chain presents next.
struct User {
    key: Option<ProofKey>,
    token: Option<String>,
}

impl User {
    /// A fresh proof for the token endpoint at `htu`, or `None` without DPoP.
    fn proof(&self, htu: Option<&str>) -> Result<Option<String>, String> {
        match (&self.key, htu) {
            (Some(key), Some(htu)) => key
                .proof(htu)
                .map(Some)
                .map_err(|e| format!("proof signing: {e}")),
            _ => Ok(None),
        }
    }
}

/// Microseconds from 1 µs to 10 minutes, three significant digits.
pub(crate) fn new_histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| BenchError::Setup(e.to_string()))
}

/// Shared between the workers: the request budget and the progress counter.
struct Shared {
    budget: AtomicU64,
    done: AtomicU64,
    deadline: Option<Duration>,
}

impl Shared {
    /// Takes one request from the budget; false when the phase is over.
    fn take(&self, started: Instant) -> bool {
        match self.deadline {
            Some(limit) => started.elapsed() < limit,
            None => self
                .budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// The DPoP part of a run: the keys' algorithm and the `htu` every proof names.
#[derive(Clone, Copy)]
struct Dpop<'a> {
    alg: ProofAlg,
    htu: &'a str,
}

fn worker(
    target: &Target,
    users: usize,
    dpop: Option<Dpop<'_>>,
    shared: &Shared,
    barrier: &Barrier,
    start: &std::sync::OnceLock<Instant>,
) -> Result<WorkerResult, BenchError> {
    let client = Client::new(target);
    // Keys are made before the login phase, so logins/s does not count key generation.
    let prepared = WorkerResult::new().and_then(|out| {
        let users = (0..users)
            .map(|_| {
                let key = dpop
                    .map(|d| ProofKey::generate(d.alg))
                    .transpose()
                    .map_err(BenchError::Setup)?;
                Ok(User { key, token: None })
            })
            .collect::<Result<Vec<_>, BenchError>>()?;
        Ok((out, users))
    });
    barrier.wait();
    let (mut out, mut users) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            // Keep the main thread's phases in step before giving up.
            barrier.wait();
            barrier.wait();
            return Err(e);
        }
    };
    let htu = dpop.map(|d| d.htu);
    for user in &mut users {
        user.token = out.login(&client, user, htu);
    }
    barrier.wait();
    // The main thread sets the start instant between the two waits.
    barrier.wait();
    let started = start.get().copied().unwrap_or_else(Instant::now);
    'run: loop {
        let mut alive = false;
        for user in &mut users {
            let Some(token) = user.token.take() else {
                continue;
            };
            alive = true;
            if !shared.take(started) {
                break 'run;
            }
            // Signed before the timer starts: the latency recorded is the request's alone.
            let proof = match user.proof(htu) {
                Ok(proof) => proof,
                Err(e) => {
                    out.fail_with(e);
                    continue;
                }
            };
            let sent = Instant::now();
            let outcome = client.refresh(&token, proof.as_deref());
            let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
            out.hist.saturating_record(micros.max(1));
            shared.done.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Outcome::Pair(pair) => {
                    out.refreshes += 1;
                    out.token_ids.push(pair.token_id);
                    out.jtis.push(pair.jti);
                    user.token = Some(pair.refresh_token);
                }
                other => {
                    // The chain is broken (the token may be spent): start a new family, with
                    // the same key.
                    out.fail(&other);
                    user.token = out.login(&client, user, htu);
                }
            }
        }
        if !alive {
            break;
        }
    }
    Ok(out)
}

fn count_duplicates(ids: impl Iterator<Item = u128>) -> u64 {
    let mut seen = HashSet::new();
    ids.filter(|id| !seen.insert(*id)).count() as u64
}

/// Runs the login phase, then the refresh phase, and checks every issued id for repeats.
///
/// # Errors
/// [`BenchError::Setup`] when the options are unusable or no user could log in.
pub fn run_load(options: &LoadOptions) -> Result<LoadReport, BenchError> {
    if options.users == 0 || options.concurrency == 0 {
        return Err(BenchError::Setup(
            "users and concurrency must be at least 1".into(),
        ));
    }
    let threads = options.concurrency.min(options.users);
    let htu = match &options.target.dpop {
        Some(dpop) => Some((dpop.alg, proof_url(&options.target, dpop)?)),
        None => None,
    };
    let dpop = htu.as_ref().map(|(alg, htu)| Dpop { alg: *alg, htu });
    let shared = Shared {
        budget: AtomicU64::new(match options.stop {
            Stop::Count(n) => n,
            Stop::After(_) => 0,
        }),
        done: AtomicU64::new(0),
        deadline: match options.stop {
            Stop::After(d) => Some(d),
            Stop::Count(_) => None,
        },
    };
    let barrier = Barrier::new(threads + 1);
    let start = std::sync::OnceLock::new();
    let show_progress = options.progress && std::io::stderr().is_terminal();
    let (results, login_secs, secs) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                // Users t, t + threads, t + 2·threads, … belong to thread t.
                let users = (t..options.users).step_by(threads).count();
                let (shared, barrier, start) = (&shared, &barrier, &start);
                scope.spawn(move || worker(&options.target, users, dpop, shared, barrier, start))
            })
            .collect();
        barrier.wait();
        let login_started = Instant::now();
        barrier.wait();
        let login_secs = login_started.elapsed().as_secs_f64();
        let started = Instant::now();
        let _ = start.set(started);
        barrier.wait();
        let mut last = (Instant::now(), 0_u64);
        while !handles
            .iter()
            .all(std::thread::ScopedJoinHandle::is_finished)
        {
            std::thread::sleep(Duration::from_millis(100));
            if show_progress && last.0.elapsed() >= Duration::from_secs(1) {
                let done = shared.done.load(Ordering::Relaxed);
                let rate = (done - last.1) as f64 / last.0.elapsed().as_secs_f64();
                eprint!(
                    "\r{:>7.1} s  {done:>9} refreshes  {rate:>9.0}/s ",
                    started.elapsed().as_secs_f64()
                );
                let _ = std::io::stderr().flush();
                last = (Instant::now(), done);
            }
        }
        let secs = started.elapsed().as_secs_f64();
        if show_progress {
            eprintln!();
        }
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| BenchError::Setup("a worker thread panicked".into()))?
            })
            .collect();
        (results, login_secs, secs)
    });
    let results = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut hist = new_histogram()?;
    let mut errors = BTreeMap::new();
    let (mut logins, mut refreshes) = (0, 0);
    for r in &results {
        hist.add(&r.hist)
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        for (k, v) in &r.errors {
            *errors.entry(k.clone()).or_default() += v;
        }
        logins += r.logins;
        refreshes += r.refreshes;
    }
    if logins == 0 {
        return Err(BenchError::Setup(format!(
            "no user could log in: {errors:?}"
        )));
    }
    let duplicates = count_duplicates(results.iter().flat_map(|r| r.token_ids.iter().copied()))
        + count_duplicates(results.iter().flat_map(|r| r.jtis.iter().copied()));
    Ok(LoadReport {
        mode: "load",
        label: options.label.clone(),
        dialect: options.target.dialect,
        dpop: dpop.map(|d| d.alg),
        concurrency: threads,
        users: options.users,
        logins,
        logins_per_sec: options.users as f64 / login_secs.max(1e-9),
        refreshes,
        seconds: secs,
        refreshes_per_sec: refreshes as f64 / secs.max(1e-9),
        latency_us: Latency::of(&hist),
        ok: errors.is_empty() && duplicates == 0,
        errors,
        duplicates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_ids_are_counted_once_per_repeat() {
        assert_eq!(count_duplicates([1, 2, 3].into_iter()), 0);
        assert_eq!(count_duplicates([1, 2, 1, 1].into_iter()), 2);
    }
}
