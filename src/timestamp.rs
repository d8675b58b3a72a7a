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
    let t = normalize(t);
    match u32::try_from(t.year()) {
        Ok(year) if year <= 9999 => digits(out, year, 4),
        _ => {
            use std::fmt::Write;
            write!(out, "{:04}", t.year()).expect("writing to a String");
        }
    }
    for (separator, value, width) in [
        ('-', u32::from(u8::from(t.month())), 2),
        ('-', u32::from(t.day()), 2),
        ('T', u32::from(t.hour()), 2),
        (':', u32::from(t.minute()), 2),
        (':', u32::from(t.second()), 2),
        ('.', t.microsecond(), 6),
    ] {
        out.push(separator);
        digits(out, value, width);
    }
    out.push('Z');
}

/// Appends the last `width` decimal digits of `n`, zero-padded.
fn digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::text;
    use time::macros::datetime;

    /// The stored form: fixed width, zero-padded, microseconds, UTC.
    #[test]
    fn the_text_is_fixed_width_utc_to_the_microsecond() {
        assert_eq!(text(datetime!(0001-01-01 00:00 UTC)), "0001-01-01T00:00:00.000000Z");
        assert_eq!(text(datetime!(2026-12-06 09:05:07.000042 UTC)), "2026-12-06T09:05:07.000042Z");
        assert_eq!(text(datetime!(9999-12-31 23:59:59.999999999 UTC)), "9999-12-31T23:59:59.999999Z");
        assert_eq!(text(datetime!(2026-01-01 01:30:00.5 +02:00)), "2025-12-31T23:30:00.500000Z");
    }
}
