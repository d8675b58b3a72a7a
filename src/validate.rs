//! Input checks that run at the repository edge, before any SQL.

use crate::{Error, Result};
use serde_json::Value as Json;

/// Longest name or id accepted, in characters.
pub const MAX_LEN: usize = 255;

/// A non-empty, non-blank string of at most [`MAX_LEN`] characters.
pub fn name(field: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    let len = value.chars().count();
    if len > MAX_LEN {
        return Err(Error::validation(
            field,
            format!("is {len} characters long; at most {MAX_LEN} are allowed"),
        ));
    }
    Ok(())
}

/// A JSON object (not an array, string, number, bool or null).
pub fn json_object(field: &'static str, value: &Json) -> Result<()> {
    if value.is_object() { Ok(()) } else { Err(Error::validation(field, "must be a JSON object")) }
}

/// An ISO 4217 currency code, e.g. `USD`.
pub fn currency(value: &str) -> Result<()> {
    iso_currency::Currency::from_code(value)
        .map(|_| ())
        .ok_or_else(|| Error::validation("currency", format!("{value:?} is not an ISO 4217 currency code")))
}
