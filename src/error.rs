//! The one error type of the crate, and the one place database errors are translated.

use crate::Window;
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
    /// The operation contradicts data that exists already; nothing was written.
    #[error(transparent)]
    Conflict(#[from] Conflict),
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

/// What an operation conflicted with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// A row with this key exists already.
    #[error("{entity} {id:?} already exists")]
    Exists {
        /// Kind of row, e.g. `resource`.
        entity: &'static str,
        /// The key that is taken.
        id: String,
    },
    /// Another row under the same parent has this name.
    #[error("{entity} named {name:?} exists already under {parent:?}")]
    NameTaken {
        /// Kind of row, e.g. `capability`.
        entity: &'static str,
        /// Key of the parent the name is unique under.
        parent: String,
        /// The name that is taken.
        name: String,
    },
    /// An audit event is stamped inside a time range that is sealed already (see
    /// `audit::seal`): the log takes no event there any more.
    #[error("audit event {id:?} is stamped inside a sealed range of the log")]
    Sealed {
        /// The refused event's id.
        id: String,
    },
    /// The idempotency key was used before with a different request.
    #[error("idempotency key {key:?} was used with another request")]
    IdempotencyKeyReused {
        /// The key.
        key: String,
    },
}

impl Error {
    /// A validation error for `field`.
    pub(crate) fn validation(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Validation { field, reason: reason.into() }
    }

    /// A not-found error for `entity` with key `id`.
    pub(crate) fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound { entity, id: id.into() }
    }

    /// A conflict with an existing `entity` keyed `id`.
    pub(crate) fn exists(entity: &'static str, id: impl Into<String>) -> Self {
        Error::Conflict(Conflict::Exists { entity, id: id.into() })
    }
}

/// Translates the error of a write of `entity` `id`: a unique violation is
/// [`Conflict::Exists`], a foreign-key violation is [`Error::NotFound`] of `parent` (when
/// given), anything else stays a database error.
pub(crate) fn write_error(
    e: DbErr,
    entity: &'static str,
    id: &str,
    parent: Option<(&'static str, &str)>,
) -> Error {
    match (e.sql_err(), parent) {
        (Some(SqlErr::UniqueConstraintViolation(_)), _) => Error::exists(entity, id),
        (Some(SqlErr::ForeignKeyConstraintViolation(_)), Some((parent, parent_id))) => {
            Error::not_found(parent, parent_id)
        }
        _ => Error::Db(e),
    }
}
