use chrono::{DateTime, Utc};
use tollgate_application::Clock;

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place allowed to read the system time
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
