//! The one error type of the crate.

use crate::window::Window;
use rust_decimal::Decimal;
use sea_orm::{DbErr, SqlErr};

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a sark-db operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The addressed row does not exist.
    #[error("{entity} {id:?} not found")]
    NotFound {
        /// Kind of row, e.g. `resource`.
        entity: &'static str,
        /// Its key.
        id: String,
    },
    /// The operation contradicts existing data (duplicate key, reused idempotency key …).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Input was refused before any SQL ran; nothing was written.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The offending field.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A charge would take a window past its limit; nothing was written.
    #[error("{window} budget exceeded: limit {limit}, spent {spent}, requested {requested}")]
    BudgetExceeded {
        /// The window whose limit would be exceeded.
        window: Window,
        /// The window's limit.
        limit: Decimal,
        /// Spent so far in the window.
        spent: Decimal,
        /// The refused amount.
        requested: Decimal,
    },
    /// Any other database error.
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl Error {
    /// A validation error for `field`.
    pub fn validation(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Validation { field, reason: reason.into() }
    }

    /// A not-found error for `entity` with key `id`.
    pub fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound { entity, id: id.into() }
    }
}

/// `e` as [`Error::Conflict`] with `message()` when it is a unique violation, else as is.
pub(crate) fn unique_conflict(e: DbErr, message: impl FnOnce() -> String) -> Error {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::Conflict(message()),
        _ => Error::Db(e),
    }
}
