//! Timestamps as the database stores them: UTC, truncated to microseconds.
//!
//! SQLite keeps them as RFC 3339 text with the fraction trimmed (`…T12:00:00Z`,
//! `…T12:00:00.5Z`), which does not sort chronologically within one second (`Z` > `.`). Range
//! conditions and orderings therefore compare [`sortable_sql`] with [`sortable_value`]: on
//! SQLite a fixed-width `YYYY-MM-DDTHH:MM:SS.ffffff` text, on PostgreSQL the `timestamptz`
//! itself.

use sea_orm::sea_query::Expr;
use sea_orm::{DbBackend, Value};
use time::{OffsetDateTime, UtcOffset};

/// `t` in UTC with its nanoseconds truncated to microseconds, so that values round-trip
/// unchanged through both backends.
pub fn normalize(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t)
}

/// The current time, normalized.
pub fn now() -> OffsetDateTime {
    normalize(OffsetDateTime::now_utc())
}

/// SQL for timestamp column `column` in a form whose order is chronological on `backend`.
pub(crate) fn sortable_sql(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::Sqlite => migration::sortable::sqlite_sortable(column),
        _ => column.to_owned(),
    }
}

/// The table's `"timestamp"` column in sortable form (see [`sortable_sql`]).
pub(crate) fn sortable_column(backend: DbBackend) -> Expr {
    Expr::cust(sortable_sql(backend, r#""timestamp""#))
}

/// `t` as a value to compare with [`sortable_sql`] on `backend`.
pub(crate) fn sortable_value(backend: DbBackend, t: OffsetDateTime) -> Value {
    let t = normalize(t);
    match backend {
        DbBackend::Sqlite => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        )
        .into(),
        _ => t.into(),
    }
}
