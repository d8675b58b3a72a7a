//! The one error type of the crate, and the one place database errors are translated.

use crate::Window;
use rust_decimal::Decimal;
use sea_orm::{DbErr, RuntimeErr, SqlErr, sqlx};

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A kind of row that an error names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Entity {
    /// A governed resource.
    Resource,
    /// A capability of a resource.
    Capability,
    /// A federation node.
    FederationNode,
    /// An audit event.
    AuditEvent,
    /// A principal's budget row.
    Budget,
    /// An idempotency key of a principal.
    IdempotencyKey,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Entity::Resource => "resource",
            Entity::Capability => "capability",
            Entity::FederationNode => "federation node",
            Entity::AuditEvent => "audit event",
            Entity::Budget => "budget",
            Entity::IdempotencyKey => "idempotency key",
        })
    }
}

/// Everything a sark-db operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The addressed row does not exist.
    #[error("{entity} {id:?} not found")]
    NotFound {
        /// Kind of row.
        entity: Entity,
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
#[non_exhaustive]
pub enum Conflict {
    /// A row with this key exists already.
    #[error("{entity} {id:?} already exists")]
    Exists {
        /// Kind of row.
        entity: Entity,
        /// The key that is taken.
        id: String,
    },
    /// Another row under the same parent has this name.
    #[error("{entity} named {name:?} exists already under {parent:?}")]
    NameTaken {
        /// Kind of row.
        entity: Entity,
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
    pub(crate) fn not_found(entity: Entity, id: impl Into<String>) -> Self {
        Error::NotFound { entity, id: id.into() }
    }

    /// A conflict with an existing `entity` keyed `id`.
    pub(crate) fn exists(entity: Entity, id: impl Into<String>) -> Self {
        Error::Conflict(Conflict::Exists { entity, id: id.into() })
    }
}

/// Translates the error of a write of `entity` `id`: a unique violation is
/// [`Conflict::Exists`], a foreign-key violation is [`Error::NotFound`] of `parent` (when
/// given), anything else stays a database error.
pub(crate) fn write_error(e: DbErr, entity: Entity, id: &str, parent: Option<(Entity, &str)>) -> Error {
    match (e.sql_err(), parent) {
        (Some(SqlErr::UniqueConstraintViolation(_)), _) => Error::exists(entity, id),
        (Some(SqlErr::ForeignKeyConstraintViolation(_)), Some((parent, parent_id))) => {
            Error::not_found(parent, parent_id)
        }
        _ => Error::Db(e),
    }
}

/// Whether `e` is a unique violation (of any key).
pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Whether `e` shows that the statement did not take effect: no connection was had, or the
/// server refused it (an autocommitted statement that fails is rolled back).
pub(crate) fn not_applied(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => {
            matches!(**e, sqlx::Error::Database(_))
        }
        _ => false,
    }
}

/// Whether `e` shows that the connection was lost (none was had, it broke, or the server ended
/// it: SQLSTATE classes 08 and 57P): a statement that failed so may go again on another.
pub(crate) fn connection_lost(e: &DbErr) -> bool {
    use sqlx::Error as Sqlx;
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            Sqlx::Io(_) | Sqlx::Protocol(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => {
                true
            }
            Sqlx::Database(e) => {
                e.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
            }
            _ => false,
        },
        _ => false,
    }
}

/// The code a server gave a refused statement — SQLSTATE on PostgreSQL, the extended result
/// code on SQLite — and the constraint it names (PostgreSQL only). Refusals are told apart by
/// these, never by message text.
fn refusal(e: &DbErr) -> Option<(String, Option<String>)> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = e else {
        return None;
    };
    let sqlx::Error::Database(e) = e.as_ref() else { return None };
    Some((e.code()?.into_owned(), e.constraint().map(str::to_owned)))
}

/// SQLite's extended result code of a `UNIQUE` index violation.
const SQLITE_CONSTRAINT_UNIQUE: &str = "2067";

/// SQLite's extended result code of a primary key violation.
const SQLITE_CONSTRAINT_PRIMARYKEY: &str = "1555";

/// SQLite's extended result code of a trigger's `RAISE(ABORT, …)`.
const SQLITE_CONSTRAINT_TRIGGER: &str = "1811";

/// PostgreSQL's SQLSTATE `restrict_violation`, which sark-db's rule triggers raise.
const PG_RESTRICT_VIOLATION: &str = "23001";

/// PostgreSQL's SQLSTATE `unique_violation`.
const PG_UNIQUE_VIOLATION: &str = "23505";

/// Which unique key a unique violation `e` names: `Some(true)` the key named `constraint`
/// (see [`migration::names`]; on Citus a shard's copy, `<constraint>_<shard id>`), `Some(false)`
/// another key, `None` when the server did not say (SQLite names no constraint; Citus relays a
/// worker's error without it) or `e` is no unique violation.
pub(crate) fn unique_key_is(e: &DbErr, constraint: &str) -> Option<bool> {
    let (code, name) = refusal(e)?;
    if code != PG_UNIQUE_VIOLATION && code != SQLITE_CONSTRAINT_UNIQUE && code != SQLITE_CONSTRAINT_PRIMARYKEY
    {
        return None;
    }
    if code == SQLITE_CONSTRAINT_PRIMARYKEY {
        return Some(false);
    }
    let name = name?;
    let shard = name.strip_prefix(constraint).and_then(|rest| rest.strip_prefix('_'));
    Some(
        name == constraint
            || shard.is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())),
    )
}

/// Whether one of sark-db's rule triggers refused `e`'s write (`restrict_violation` on
/// PostgreSQL, `RAISE(ABORT, …)` on SQLite). Of an insert into `audit_events` that passed
/// validation, that is the sealed-range rule.
pub(crate) fn refused_by_rule_trigger(e: &DbErr) -> bool {
    refusal(e).is_some_and(|(code, _)| code == PG_RESTRICT_VIOLATION || code == SQLITE_CONSTRAINT_TRIGGER)
}

/// A sqlx error as sea-orm reports a failed statement.
#[cfg(feature = "postgres")]
pub(crate) fn sqlx_error(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(e)))
}

/// A sqlx error met taking a pooled connection, as sea-orm reports it: nothing was sent.
#[cfg(feature = "postgres")]
pub(crate) fn acquire_error(e: sqlx::Error) -> DbErr {
    use sea_orm::ConnAcquireErr;
    match e {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        e => DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(e))),
    }
}
