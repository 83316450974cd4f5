use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use tollgate_application::Clock;
use tollgate_infrastructure::SystemClock;

/// The system clock plus an offset that tests move forward.
#[derive(Clone, Default)]
pub struct TestClock {
    offset: Arc<Mutex<Duration>>,
}

impl TestClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + *self.offset.lock().unwrap()
    }
}
