//! Rate limiting of repeated identical warnings, so that an attacker repeating one request
//! cannot flood the log (and bury what matters, or fill the disk).

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// A [`Layer`] that lets through at most `burst` identical WARN or ERROR events (same call site,
/// same field values) per `window`; the rest of the window's copies are dropped for every
/// layer. Other levels pass untouched. Once the window is over, the warning is written again,
/// so a condition that persists keeps showing, at most `burst` times a window.
#[derive(Debug)]
pub struct RepeatLimit {
    burst: u32,
    window: Duration,
    seen: Mutex<HashMap<u64, Slot>>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    started: Instant,
    count: u32,
}

/// More distinct warnings than this in one window and the table starts over: memory stays
/// bounded whatever an attacker varies.
const MAX_TRACKED: usize = 4096;

impl Default for RepeatLimit {
    /// Five identical warnings a minute.
    fn default() -> Self {
        Self::new(5, Duration::from_secs(60))
    }
}

impl RepeatLimit {
    /// At most `burst` identical warnings per `window`.
    pub fn new(burst: u32, window: Duration) -> Self {
        Self {
            burst,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the event with this identity may be written at `now`.
    fn admit(&self, key: u64, now: Instant) -> bool {
        // A poisoned lock only means another thread panicked while counting: keep logging.
        let mut seen = match self.seen.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if seen.len() >= MAX_TRACKED && !seen.contains_key(&key) {
            seen.clear();
        }
        let slot = seen.entry(key).or_insert(Slot {
            started: now,
            count: 0,
        });
        if now.duration_since(slot.started) >= self.window {
            *slot = Slot {
                started: now,
                count: 0,
            };
        }
        slot.count = slot.count.saturating_add(1);
        slot.count <= self.burst
    }
}

/// The identity of an event: its call site and the text of its fields.
fn identity(event: &Event<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    struct Text(String);
    impl Visit for Text {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            let _ = write!(self.0, "{}={value:?};", field.name());
        }
    }
    let mut text = Text(String::new());
    event.record(&mut text);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    event.metadata().callsite().hash(&mut hasher);
    text.0.hash(&mut hasher);
    hasher.finish()
}

impl<S: Subscriber> Layer<S> for RepeatLimit {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        if *event.metadata().level() > Level::WARN {
            return true;
        }
        self.admit(identity(event), Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines_logged(limit: RepeatLimit, emit: impl Fn()) -> Vec<String> {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::registry().with(limit).with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn identical_warnings_beyond_the_burst_are_dropped() {
        let lines = lines_logged(RepeatLimit::new(3, Duration::from_secs(3600)), || {
            for _ in 0..100 {
                tracing::warn!(client = "x", "client authentication failed");
            }
        });
        assert_eq!(lines.len(), 3, "{lines:?}");
    }

    #[test]
    fn different_warnings_and_lower_levels_are_not_limited() {
        let lines = lines_logged(RepeatLimit::new(1, Duration::from_secs(3600)), || {
            for i in 0..10 {
                tracing::warn!(client = i, "client authentication failed");
                tracing::info!("same info line");
            }
        });
        assert_eq!(lines.len(), 20, "{lines:?}");
    }

    #[test]
    fn a_new_window_lets_the_warning_through_again() {
        let limit = RepeatLimit::new(1, Duration::from_millis(1));
        let start = Instant::now();
        assert!(limit.admit(7, start));
        assert!(!limit.admit(7, start));
        assert!(limit.admit(7, start + Duration::from_millis(2)));
    }
}
