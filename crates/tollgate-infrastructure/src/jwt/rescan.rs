//! Picking up changes in the key directory while running: a key generated, retired or removed
//! by `tollgate keys …` or another server reaches this process at its next rescan (periodic,
//! and at once on SIGHUP in the server), without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use super::{JwtCodec, KeySet, SigningAlgorithm, SigningSchedule};
use crate::InfraError;

/// The key directory a [`JwtCodec`] signs and verifies from, rescanned on demand.
pub struct KeyDirectory {
    dir: PathBuf,
    algorithm: SigningAlgorithm,
    publish_ahead: Duration,
    codec: Arc<JwtCodec>,
    /// The error of the last rescan if it failed, so a broken file is reported once, not at
    /// every rescan until it is fixed.
    failing: Mutex<Option<String>>,
}

impl KeyDirectory {
    /// The directory `dir` behind `codec`: rescans generate a key of `algorithm` when none can
    /// sign, and publish a new key `publish_ahead` before it signs (see [`SigningSchedule`]).
    pub fn new(
        dir: &Path,
        algorithm: SigningAlgorithm,
        publish_ahead: Duration,
        codec: Arc<JwtCodec>,
    ) -> Self {
        Self {
            dir: dir.to_owned(),
            algorithm,
            publish_ahead,
            codec,
            failing: Mutex::new(None),
        }
    }

    /// The set as of `now` (see [`KeySet::open`]), loaded under the directory's lock.
    ///
    /// # Errors
    /// As [`KeySet::open`].
    pub fn load(
        dir: &Path,
        algorithm: SigningAlgorithm,
        publish_ahead: Duration,
        now: DateTime<Utc>,
    ) -> Result<KeySet, InfraError> {
        KeySet::open(dir, algorithm, Some(SigningSchedule { now, publish_ahead }))
    }

    /// Loads the directory as of `now` and hands the set to the codec. When that fails (a
    /// broken or foreign file, a bad permission), the codec keeps the set it has and one
    /// warning is logged; the same failure again logs nothing more.
    ///
    /// # Errors
    /// As [`KeySet::open`]; the codec is then unchanged.
    pub fn rescan(&self, now: DateTime<Utc>) -> Result<(), InfraError> {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        match Self::load(&self.dir, self.algorithm, self.publish_ahead, now) {
            Ok(keys) => {
                let before = self.codec.key_set();
                if before.signing_kid() != keys.signing_kid() {
                    tracing::info!(
                        kid = keys.signing_kid(),
                        previous = before.signing_kid(),
                        "signing with another key"
                    );
                }
                self.codec.replace_keys(Arc::new(keys));
                if failing.take().is_some() {
                    tracing::info!(dir = %self.dir.display(), "key directory loads again");
                }
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                if failing.as_deref() != Some(message.as_str()) {
                    tracing::warn!(dir = %self.dir.display(), error = %message, "key directory rescan failed; keeping the keys loaded before");
                    *failing = Some(message);
                }
                Err(e)
            }
        }
    }

    /// The codec this directory feeds.
    pub fn codec(&self) -> &Arc<JwtCodec> {
        &self.codec
    }
}
