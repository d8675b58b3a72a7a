//! What the repository functions accept. Anything outside these bounds is refused with
//! `Error::Validation { field, reason }` before any SQL runs, the same way on every backend.
//!
//! - Strings never contain U+0000 (PostgreSQL cannot store it), neither as a field nor inside
//!   JSON (a string value or an object key).
//! - Names, ids and labels: 1 to [`MAX_NAME_CHARS`] characters, not blank.
//! - Endpoints: at most [`MAX_ENDPOINT_CHARS`]; descriptions at most [`MAX_DESCRIPTION_CHARS`].
//! - JSON fields (metadata, schemas, audit details): a JSON object nested at most
//!   [`MAX_JSON_DEPTH`] levels deep and at most [`MAX_JSON_BYTES`] bytes as JSON text; a
//!   floating-point number of magnitude 10¹⁶ to 2⁶⁴ is refused (PostgreSQL would return it as
//!   an integer: write it as one).
//! - Amounts: see `ledger::MAX_AMOUNT`; timestamps from year 1 up to the clock's tolerance
//!   ahead of now (see [`crate::Clock`]).

/// Longest name, id or label, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// Longest endpoint (URL or command line), in characters.
pub const MAX_ENDPOINT_CHARS: usize = 2_048;

/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1 << 20;

/// Deepest JSON accepted: an object or array inside another adds one level; the top-level
/// object is level 1.
pub const MAX_JSON_DEPTH: usize = 64;

/// Largest JSON field accepted, in bytes of JSON text.
pub const MAX_JSON_BYTES: usize = 1 << 20;

/// Rows per page when the caller does not say.
pub const DEFAULT_PAGE_ROWS: u64 = 100;

/// Most rows one page may hold.
pub const MAX_PAGE_ROWS: u64 = 1_000;
