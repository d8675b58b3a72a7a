//! Tracing of the public operations: one span each, its outcome, and an event for a refusal.
//!
//! Every public repository function runs in a span named after it (`costs::charge`, target
//! `sark_db::…`): `INFO` for writes, `DEBUG` for reads, with the principal, resource or node
//! ids it was given. When it ends, the span's `outcome` is `ok`, `refused` (a budget limit),
//! `invalid`, `not_found`, `conflict` or `db_error`, and `rows` holds the rows it wrote or read
//! where that is a count. A budget refusal is an `INFO` event with its window and numbers, a
//! database error a `WARN` event, any other error a `DEBUG` event.

use crate::{Error, Result};
use tracing::{Instrument, Span};

/// A span for one operation at `$level` (`INFO`, `DEBUG`), with the `outcome` and `rows` fields
/// [`traced`] fills and the fields given after the name.
macro_rules! operation {
    ($level:ident, $name:literal $(, $($fields:tt)*)?) => {
        tracing::span!(
            tracing::Level::$level,
            $name,
            outcome = tracing::field::Empty,
            rows = tracing::field::Empty
            $(, $($fields)*)?
        )
    };
}
pub(crate) use operation;

/// Runs `work` in `span`, then records its outcome there and emits the event its error calls for.
pub(crate) async fn traced<T>(span: Span, work: impl Future<Output = Result<T>>) -> Result<T> {
    let result = work.instrument(span.clone()).await;
    let _entered = span.enter();
    match &result {
        Ok(_) => span.record("outcome", "ok"),
        Err(e) => span.record("outcome", event(e)),
    };
    result
}

/// Records `n` as the rows the current operation wrote or read.
pub(crate) fn rows(n: impl TryInto<u64>) {
    if let Ok(n) = n.try_into() {
        Span::current().record("rows", n);
    }
}

/// Emits the event for `e` and returns the outcome it stands for.
fn event(e: &Error) -> &'static str {
    match e {
        Error::BudgetExceeded { window, limit, spent, requested } => {
            tracing::info!(%window, %limit, %spent, %requested, "budget refused");
            "refused"
        }
        Error::Db(error) => {
            tracing::warn!(%error, "database error");
            "db_error"
        }
        Error::Validation { field, reason } => {
            tracing::debug!(field, reason, "invalid input");
            "invalid"
        }
        Error::NotFound { .. } => {
            tracing::debug!(error = %e, "not found");
            "not_found"
        }
        Error::Conflict(conflict) => {
            tracing::debug!(error = %conflict, "conflict");
            "conflict"
        }
    }
}
