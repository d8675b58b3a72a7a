//! The one form SQLite stores timestamps in: `YYYY-MM-DDTHH:MM:SS.ffffffZ` — UTC, microseconds,
//! fixed width, so that their order as text is their order in time. sark-db writes this form
//! (`sark_db`'s `timestamp` module), column defaults produce it, and migration 15 puts older
//! rows in it.

/// A GLOB matching exactly the canonical form.
pub(crate) const GLOB: &str = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\
    .[0-9][0-9][0-9][0-9][0-9][0-9]Z";

/// The current time in the canonical form (SQLite keeps milliseconds), for column defaults.
pub(crate) const NOW: &str = "(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')";

/// SQL for the SQLite timestamp text `x` in the canonical form, or NULL when `x` is not one:
/// `YYYY-MM-DD HH:MM:SS` or `…THH:MM:SS`, then optionally `.` and digits (past six are
/// truncated), then optionally `Z` or an offset `±HH:MM` (converted to UTC).
pub(crate) fn sqlite(x: &str) -> String {
    let rest = format!("substr({x}, 20)");
    let offset = format!("{rest} GLOB '*[+-][0-9][0-9]:[0-9][0-9]'");
    let zone = format!("CASE WHEN {offset} THEN substr({rest}, -6) ELSE '' END");
    let fraction = format!(
        "CASE WHEN {offset} THEN substr({rest}, 1, length({rest}) - 6) \
         WHEN {rest} GLOB '*[Zz]' THEN substr({rest}, 1, length({rest}) - 1) ELSE {rest} END"
    );
    let digits = format!(
        "CASE WHEN {fraction} = '' THEN '' \
         WHEN {fraction} GLOB '.[0-9]*' AND substr({fraction}, 2) NOT GLOB '*[^0-9]*' THEN substr({fraction}, 2) END"
    );
    format!(
        "(CASE WHEN typeof({x}) = 'text' AND substr({x}, 11, 1) IN ('T', 't', ' ') THEN \
         strftime('%Y-%m-%dT%H:%M:%S', substr({x}, 1, 19) || {zone}) || '.' || substr({digits} || '000000', 1, 6) || 'Z' END)"
    )
}
