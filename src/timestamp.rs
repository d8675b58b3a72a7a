//! Timestamps as the database stores them: UTC, truncated to microseconds.

use time::{OffsetDateTime, UtcOffset};

/// `t` in UTC with its nanoseconds truncated to microseconds, so that SQLite's text ordering
/// is chronological and values round-trip unchanged through PostgreSQL.
pub fn normalize(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t)
}

/// The current time, normalized.
pub fn now() -> OffsetDateTime {
    normalize(OffsetDateTime::now_utc())
}
