//! Timestamps as the database stores them: UTC, truncated to microseconds.
//!
//! SQLite keeps them as text in one fixed-width form, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, whose
//! order as text is chronological, so range conditions and orderings compare
//! the column itself and use its index. sqlx would bind an [`OffsetDateTime`] as RFC 3339 with
//! the fraction trimmed (`…T12:00:00Z`, `…T12:00:00.5Z`), which does not sort within a second:
//! every statement run through the handle ([`crate::Db`], [`crate::Tx`]) therefore binds
//! timestamps as that text on SQLite, whoever built the statement. Migration 15 put existing
//! rows and the column defaults in the same form, and the database refuses any other.
//! PostgreSQL stores `timestamptz` and is left as it is.

pub use entity::timestamp::{normalize, now};
use time::OffsetDateTime;

/// `t` as SQLite stores it: normalized, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) fn text(t: OffsetDateTime) -> String {
    let mut text = String::with_capacity(27);
    write_text(&mut text, t);
    text
}

/// Appends [`text`]`(t)` to `out`.
pub(crate) fn write_text(out: &mut String, t: OffsetDateTime) {
    use std::fmt::Write;
    let t = normalize(t);
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
    .expect("writing to a String");
}
