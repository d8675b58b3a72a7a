//! The current time as writes see it, and how far ahead of it a timestamp may be.

use crate::{Error, Result, timestamp};
use time::{Duration, OffsetDateTime};

/// Where "now" comes from for the writes that take a [`Clock`], and the tolerance for
/// timestamps ahead of it.
///
/// A cost or audit event stamped more than [`Clock::tolerance`] after [`Clock::now`] is
/// refused with `Validation { field: "timestamp" }`, so a skewed caller clock can never move
/// a budget window into the future. Old timestamps (back-fills) are allowed. Tests inject
/// a fixed instant with [`Clock::fixed`]; services use [`Clock::default`], the system clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    fixed: Option<OffsetDateTime>,
    tolerance: Duration,
}

impl Clock {
    /// How far ahead of now a timestamp may be unless told otherwise.
    pub const DEFAULT_TOLERANCE: Duration = Duration::minutes(5);

    /// The system clock with [`Clock::DEFAULT_TOLERANCE`].
    pub const fn system() -> Self {
        Clock { fixed: None, tolerance: Self::DEFAULT_TOLERANCE }
    }

    /// A clock that always reads `now`, with [`Clock::DEFAULT_TOLERANCE`].
    pub const fn fixed(now: OffsetDateTime) -> Self {
        Clock { fixed: Some(now), tolerance: Self::DEFAULT_TOLERANCE }
    }

    /// This clock with another tolerance (negative counts as zero).
    pub const fn with_tolerance(self, tolerance: Duration) -> Self {
        Clock { tolerance, ..self }
    }

    /// The current time, in UTC truncated to microseconds.
    pub fn now(&self) -> OffsetDateTime {
        self.fixed.map_or_else(timestamp::now, timestamp::normalize)
    }

    /// How far ahead of [`Clock::now`] a timestamp may be.
    pub const fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Refuses `t` when it lies more than the tolerance after now, or before the year 1.
    pub(crate) fn check(&self, t: OffsetDateTime) -> Result<()> {
        if t.year() < 1 {
            return Err(Error::validation("timestamp", format!("{t} is before the year 1")));
        }
        // A tolerance past the end of the calendar lets everything through.
        let latest = self.now().checked_add(self.tolerance.max(Duration::ZERO));
        if latest.is_some_and(|latest| t > latest) {
            return Err(Error::validation(
                "timestamp",
                format!("{t} is more than {} ahead of now ({})", self.tolerance, self.now()),
            ));
        }
        Ok(())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}
