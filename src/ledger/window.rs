//! Budget windows: UTC calendar days and months.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Date, Month, OffsetDateTime, Time};

/// Budget window a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    /// The UTC calendar day.
    Daily,
    /// The UTC calendar month.
    Monthly,
}

impl Window {
    /// Start (inclusive, UTC midnight) of the window that contains `at`.
    pub fn start(self, at: OffsetDateTime) -> OffsetDateTime {
        let date = crate::timestamp::normalize(at).date();
        let date = match self {
            Window::Daily => date,
            Window::Monthly => date.replace_day(1).unwrap_or(date),
        };
        date.with_time(Time::MIDNIGHT).assume_utc()
    }

    /// End (exclusive) of the window that contains `at`: the start of the next one; `None`
    /// for the last window the calendar holds (December 9999), which has no end.
    pub fn end(self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        let start = self.start(at).date();
        let next = match self {
            Window::Daily => start.next_day(),
            Window::Monthly => next_month(start),
        };
        next.map(|d| d.with_time(Time::MIDNIGHT).assume_utc())
    }
}

/// The first day of the month after `first`.
fn next_month(first: Date) -> Option<Date> {
    let year = if first.month() == Month::December { first.year() + 1 } else { first.year() };
    Date::from_calendar_date(year, first.month().next(), 1).ok()
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Window::Daily => "daily",
            Window::Monthly => "monthly",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn windows_are_utc_calendar_days_and_months() {
        let at = datetime!(2028-02-29 23:59:59.999999 UTC);
        assert_eq!(Window::Daily.start(at), datetime!(2028-02-29 00:00 UTC));
        assert_eq!(Window::Daily.end(at), Some(datetime!(2028-03-01 00:00 UTC)));
        assert_eq!(Window::Monthly.start(at), datetime!(2028-02-01 00:00 UTC));
        assert_eq!(
            Window::Monthly.end(datetime!(2026-12-31 12:00 UTC)),
            Some(datetime!(2027-01-01 00:00 UTC))
        );
        assert_eq!(Window::Monthly.end(datetime!(9999-12-31 23:59 UTC)), None);
        assert_eq!(Window::Daily.start(datetime!(2026-11-28 00:30 +01:00)), datetime!(2026-11-27 00:00 UTC));
    }
}
