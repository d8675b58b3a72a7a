//! The chronologically sortable form of a SQLite timestamp as sark-db wrote it before
//! migration 15: the key of migration 9's audit time index (which migration 15's `down`
//! restores).

/// SQLite stores timestamps as RFC 3339 text with the fraction trimmed (`…T12:00:00Z`,
/// `…T12:00:00.5Z`), which does not sort chronologically within a second. This SQL turns
/// `column` into fixed-width `YYYY-MM-DDTHH:MM:SS.ffffff` text, which does.
pub fn sqlite_sortable(column: &str) -> String {
    format!(
        "(substr({column}, 1, 19) || '.' || \
         substr(substr({column}, 21, max(length({column}) - 21, 0)) || '000000', 1, 6))"
    )
}
