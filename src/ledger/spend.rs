//! How a cost changes a principal's budget, whichever route it takes: the change ([`Spend`]),
//! the spend it leaves ([`Spent`]), the spend statement ([`sql/spend.sql`](self)), and the rule
//! a limit is checked by ([`after`]).
//!
//! The budget row keeps counters for the newest UTC day and month it has seen. A cost in
//! those windows (or newer ones) changes them in one conditional statement; a cost in an
//! older window is judged against the ledger's own sum ([`spent_in`]) by the locked route.

use super::money::from_micros;
use super::summaries::{self, CostFilter};
use crate::Window;
use crate::{Error, Result};
use entity::principal_budget::{self};
use sea_orm::{ConnectionTrait, QueryResult, Value};
use time::OffsetDateTime;

/// The spend statement, for both backends (sqlx binds `$n` on SQLite too).
pub(crate) const SPEND: &str = include_str!("sql/spend.sql");

/// Which amount a spend adds and when, and whether limits bind it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spend<'a> {
    /// The principal.
    pub principal_id: &'a str,
    /// The amount in micro-units.
    pub amount: i64,
    /// The field a refusal for overflow names.
    pub field: &'static str,
    /// When the cost is stamped: decides its windows.
    pub at: OffsetDateTime,
    /// Now, for `updated_at`.
    pub now: OffsetDateTime,
    /// Whether a limit refuses the spend (a charge) or is only reported (a record).
    pub enforce: bool,
    /// What this transaction already added to the cost's month without a ledger row yet
    /// (earlier days of one bulk recording); counted where the month's spend is read from the
    /// ledger.
    pub unrecorded_in_month: i64,
}

impl Spend<'_> {
    /// The parameters `$1`–`$7` of [`SPEND`].
    pub(crate) fn values(&self, current_only: bool) -> Vec<Value> {
        vec![
            self.principal_id.into(),
            self.amount.into(),
            Window::Daily.start(self.at).into(),
            Window::Monthly.start(self.at).into(),
            self.now.into(),
            current_only.into(),
            (current_only && self.enforce).into(),
        ]
    }
}

/// The spend of the cost's own windows after it, and the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spent {
    pub daily: i64,
    pub monthly: i64,
    pub daily_limit: Option<i64>,
    pub monthly_limit: Option<i64>,
}

impl Spent {
    /// Reads the columns [`SPEND`] returns.
    pub(crate) fn from_row(row: &QueryResult) -> Result<Self> {
        Ok(Spent {
            daily: row.try_get("", "daily_spent_micros")?,
            monthly: row.try_get("", "monthly_spent_micros")?,
            daily_limit: row.try_get("", "daily_budget_micros")?,
            monthly_limit: row.try_get("", "monthly_budget_micros")?,
        })
    }

    /// The first window whose limit the spend now exceeds.
    pub(crate) fn over_limit(&self) -> Option<Window> {
        if self.daily_limit.is_some_and(|l| self.daily > l) {
            Some(Window::Daily)
        } else if self.monthly_limit.is_some_and(|l| self.monthly > l) {
            Some(Window::Monthly)
        } else {
            None
        }
    }
}

/// One window of a budget row: the start it counts from, its counter and its limit.
pub(crate) fn counter(
    row: &principal_budget::Model,
    window: Window,
) -> (Option<OffsetDateTime>, i64, Option<i64>) {
    match window {
        Window::Daily => (row.last_daily_reset, row.daily_spent_micros, row.daily_budget_micros),
        Window::Monthly => (row.last_monthly_reset, row.monthly_spent_micros, row.monthly_budget_micros),
    }
}

/// What `row`'s principal has spent in the `window` containing `at`: the row's counter when
/// it counts that window (`None` otherwise), else the ledger's own sum.
pub(crate) async fn spent_in<C: ConnectionTrait>(
    db: &C,
    row: &principal_budget::Model,
    window: Window,
    at: OffsetDateTime,
) -> Result<(i64, bool)> {
    let (counted, counter, _) = counter(row, window);
    if counted == Some(window.start(at)) {
        return Ok((counter, false));
    }
    let ledger = CostFilter {
        principal_id: Some(row.principal_id.clone()),
        from: Some(window.start(at)),
        to: window.end(at),
        ..Default::default()
    };
    Ok((summaries::sum_micros(db, &ledger).await?, true))
}

/// The spend of `window` after `spend`, from `before` it: refused with
/// [`Error::BudgetExceeded`] when enforced and past `limit`, with [`Error::Validation`] when
/// past the largest storable sum.
pub(crate) fn after(spend: &Spend<'_>, window: Window, before: i64, limit: Option<i64>) -> Result<i64> {
    let after = before.checked_add(spend.amount).ok_or_else(|| overflow(spend, window))?;
    match limit {
        Some(limit) if spend.enforce && after > limit => Err(Error::BudgetExceeded {
            window,
            limit: from_micros(limit),
            spent: from_micros(before),
            requested: from_micros(spend.amount),
        }),
        _ => Ok(after),
    }
}

/// The refusal of a spend that would take `window` past the largest storable sum.
pub(super) fn overflow(spend: &Spend<'_>, window: Window) -> Error {
    let reason =
        format!("would take the {window} spend of {:?} past the largest storable sum", spend.principal_id);
    Error::validation(spend.field, reason)
}
