//! Time, injected.
//!
//! Everything in tessera that depends on the current time (session expiry,
//! token lifetimes, throttling windows, login timestamps) asks a [`Clock`]
//! instead of calling [`SystemTime::now`] itself. Production code uses
//! [`SystemClock`]; tests use [`ManualClock`] and move time forward explicitly,
//! so no test ever sleeps.
//!
//! ```
//! use std::time::Duration;
//! use tessera_core::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::at_unix(1_700_000_000);
//! let start = clock.now();
//! clock.advance(Duration::from_secs(30 * 60));
//! assert_eq!(clock.now().duration_since(start).unwrap(), Duration::from_secs(1800));
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
///
/// Implementations must be cheap to call: authentication asks for the time
/// on every request.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to, for tests.
///
/// Clones share the same time, so a test can keep one handle and give
/// another to the code under test.
#[derive(Clone)]
pub struct ManualClock {
    // Nanoseconds since the Unix epoch; u64 nanoseconds last until 2554.
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `time`.
    ///
    /// Times before the Unix epoch are clamped to the epoch, and times after
    /// the year 2554 to that year: a test clock has no use for either.
    pub fn new(time: SystemTime) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(to_nanos(time))),
        }
    }

    /// A clock standing at `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(secs.saturating_mul(1_000_000_000))),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // A closure that always returns Some cannot fail.
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// Sets the clock to `time`, forwards or backwards.
    pub fn set(&self, time: SystemTime) {
        self.nanos.store(to_nanos(time), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    /// A clock standing at 2023-11-14 22:13:20 UTC (Unix time 1 700 000 000).
    fn default() -> Self {
        Self::at_unix(1_700_000_000)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish()
    }
}

fn to_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_time() {
        let clock = ManualClock::at_unix(1_000);
        let other = clock.clone();
        assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(1_000));
        other.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_millis(1_001_500));
        clock.set(UNIX_EPOCH + Duration::from_secs(5));
        assert_eq!(other.now(), UNIX_EPOCH + Duration::from_secs(5));
    }

    #[test]
    fn manual_clock_saturates_instead_of_overflowing() {
        let clock = ManualClock::at_unix(0);
        clock.advance(Duration::MAX);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn huge_unix_times_clamp_instead_of_panicking() {
        let clock = ManualClock::at_unix(u64::MAX);
        assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn system_clock_is_after_2020() {
        let now = SystemClock.now();
        assert!(now > UNIX_EPOCH + Duration::from_secs(1_577_836_800));
    }
}
