use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tollgate_application::{Clock, DpopReplayCache, Error};
use tollgate_domain::Jkt;

/// A [`DpopReplayCache`] in this process's memory, for a host that runs one process (several
/// processes need the database's cache, `db::DieselDpopReplayCache`).
///
/// Bounded: it holds at most `capacity` proofs. Entries are forgotten once expired (checked
/// against the injected [`Clock`]); when every slot holds a live proof, `remember` fails with
/// [`Error::Unavailable`] rather than forget one that could still be replayed.
pub struct MemoryReplayCache {
    clock: Arc<dyn Clock>,
    capacity: usize,
    /// SHA-256 of `jkt \0 jti` → until when it is remembered. A digest, so an entry's size does
    /// not depend on what the client sent.
    seen: Mutex<HashMap<[u8; 32], DateTime<Utc>>>,
}

impl std::fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl MemoryReplayCache {
    /// The default capacity: a minute of proofs at well over a thousand requests a second.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// An empty cache holding at most `capacity` proofs (at least one).
    pub fn new(clock: Arc<dyn Clock>, capacity: usize) -> Self {
        Self {
            clock,
            capacity: capacity.max(1),
            seen: Mutex::default(),
        }
    }
}

impl DpopReplayCache for MemoryReplayCache {
    fn remember(&self, jkt: &Jkt, jti: &str, expires_at: DateTime<Utc>) -> Result<bool, Error> {
        let key = digest(jkt, jti);
        let now = self.clock.now();
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters: every operation on it is a single insert or retain.
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.get(&key).is_some_and(|until| *until >= now) {
            return Ok(false);
        }
        if seen.len() >= self.capacity && !seen.contains_key(&key) {
            seen.retain(|_, until| *until >= now);
            if seen.len() >= self.capacity {
                return Err(Error::Unavailable("the DPoP replay cache is full".into()));
            }
        }
        seen.insert(key, expires_at);
        Ok(true)
    }
}

fn digest(jkt: &Jkt, jti: &str) -> [u8; 32] {
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(jkt.as_str().as_bytes());
    hasher.update(b"\0");
    hasher.update(jti.as_bytes());
    hasher.finish()
}
