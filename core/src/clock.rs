//! The injectable clock. All time in the engine comes from here, so tests and the demo can
//! run "as of" any instant.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut now) = self.now.lock() {
            *now = at;
        }
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.now.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.now
            .lock()
            .map(|now| *now)
            .unwrap_or_else(|poisoned| *poisoned.into_inner())
    }
}

/// A clock that follows another one unless it is pinned to an instant: the demo lives through
/// its history by pinning it to each simulated instant in turn, so that everything the platform
/// stamps (a rating's receipt, a log entry, a step of a work order) happens then, and unpins it
/// to go on in real time.
pub struct PinnableClock {
    inner: std::sync::Arc<dyn Clock>,
    pinned: Mutex<Option<DateTime<Utc>>>,
}

impl PinnableClock {
    pub fn new(inner: std::sync::Arc<dyn Clock>) -> PinnableClock {
        PinnableClock {
            inner,
            pinned: Mutex::new(None),
        }
    }

    /// From now on the clock says `at`, or follows its inner clock again with `None`.
    pub fn pin(&self, at: Option<DateTime<Utc>>) {
        match self.pinned.lock() {
            Ok(mut pinned) => *pinned = at,
            Err(poisoned) => *poisoned.into_inner() = at,
        }
    }
}

impl Clock for PinnableClock {
    fn now(&self) -> DateTime<Utc> {
        let pinned = match self.pinned.lock() {
            Ok(pinned) => *pinned,
            Err(poisoned) => *poisoned.into_inner(),
        };
        pinned.unwrap_or_else(|| self.inner.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_clock_says_the_pin_and_then_follows_again() {
        let inner = std::sync::Arc::new(ManualClock::new(DateTime::<Utc>::MIN_UTC));
        let clock = PinnableClock::new(inner.clone());
        let at = DateTime::<Utc>::MIN_UTC + Duration::days(3);
        clock.pin(Some(at));
        inner.advance(Duration::days(1));
        assert_eq!(clock.now(), at);
        clock.pin(None);
        assert_eq!(clock.now(), DateTime::<Utc>::MIN_UTC + Duration::days(1));
    }
}
