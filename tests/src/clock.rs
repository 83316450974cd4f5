use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use tollgate_application::Clock;
use tollgate_infrastructure::SystemClock;

/// The system clock plus an offset that tests move forward.
#[derive(Clone, Default)]
pub struct TestClock {
    offset: Arc<Mutex<Duration>>,
    probe: Arc<Probe>,
}

/// See [`TestClock::slow_readings`].
#[derive(Default)]
struct Probe {
    delay: Mutex<Option<std::time::Duration>>,
    reading: AtomicUsize,
    peak: AtomicUsize,
}

impl TestClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }

    /// From now on every reading takes `delay` and counts towards
    /// [`peak_readings`](Self::peak_readings). A use case that reads the clock as it starts
    /// then shows, through the peak, how many of it ran at once.
    pub fn slow_readings(&self, delay: std::time::Duration) {
        *self.probe.delay.lock().unwrap() = Some(delay);
    }

    /// The most readings in progress at once since [`slow_readings`](Self::slow_readings).
    pub fn peak_readings(&self) -> usize {
        self.probe.peak.load(Ordering::SeqCst)
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let delay = *self.probe.delay.lock().unwrap();
        if let Some(delay) = delay {
            let now = self.probe.reading.fetch_add(1, Ordering::SeqCst) + 1;
            self.probe.peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(delay);
            self.probe.reading.fetch_sub(1, Ordering::SeqCst);
        }
        SystemClock.now() + *self.offset.lock().unwrap()
    }
}
