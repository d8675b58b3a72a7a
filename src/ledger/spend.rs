//! How a cost changes a principal's budget: the one-statement fast path for the windows the
//! budget row counts, and the locked path for any other window.
//!
//! The budget row keeps counters for the newest UTC day and month it has seen. A cost in
//! those windows (or newer ones) changes them in one conditional statement
//! ([`sql/spend.sql`](self)). A cost in an older window — a back-fill, a late report, a
//! skewed clock — takes the locked path: the row is locked, the window's spend is read from
//! the ledger itself, the limit is checked, and only then is anything written. Either way a
//! limit is checked against the spend of the cost's own windows.

use super::money::from_micros;
use super::summaries::{self, CostFilter};
use crate::Window;
use crate::{Entity, Error, Result};
use entity::principal_budget::{self, Column};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryResult, QuerySelect, Statement, Value};
use time::OffsetDateTime;

/// The spend statement, for both backends (sqlx binds `$n` on SQLite too).
pub(crate) const SPEND: &str = include_str!("sql/spend.sql");

/// PostgreSQL: [`SPEND`] and the insert of the cost row in one statement
/// ([`sql/charge.pg.sql`](self), whole, its parameters documented there). Returns no row when
/// the spend did not apply.
pub(crate) const PG_SPEND_AND_INSERT: &str = include_str!("sql/charge.pg.sql");

/// PostgreSQL: a keyed cost in one statement ([`sql/charge_keyed.pg.sql`](self)): the key's
/// first use spends and inserts the cost row, its outcome and the key; a committed key returns
/// its first payload and outcome and spends nothing.
pub(crate) const PG_KEYED_SPEND_AND_INSERT: &str = include_str!("sql/charge_keyed.pg.sql");

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

/// The fast path: [`SPEND`] for a cost in the row's windows or newer ones. `None` when it
/// did not apply (an older window, a limit, or an overflow): then take [`locked`].
pub(crate) async fn fast<C: ConnectionTrait>(db: &C, spend: &Spend<'_>) -> Result<Option<Spent>> {
    let stmt = Statement::from_sql_and_values(db.get_database_backend(), SPEND, spend.values(true));
    db.query_one_raw(stmt).await?.as_ref().map(Spent::from_row).transpose()
}

/// The locked path, inside the caller's write transaction `txn`, before the cost row is
/// inserted: locks the budget row, reads the spend of each window of the cost (the counter
/// when the row counts that window, else the ledger sum), refuses with
/// [`Error::BudgetExceeded`] (when enforced) or [`Error::Validation`] (an overflow) before
/// writing anything, and else adds the amount to the counters of the windows the row counts.
pub(crate) async fn locked<C: ConnectionTrait>(txn: &C, spend: &Spend<'_>) -> Result<Spent> {
    let row = lock(txn, spend.principal_id, spend.now).await?;
    let daily = window_after(txn, spend, &row, Window::Daily).await?;
    let monthly = window_after(txn, spend, &row, Window::Monthly).await?;
    let stmt = Statement::from_sql_and_values(txn.get_database_backend(), SPEND, spend.values(false));
    txn.query_one_raw(stmt).await?.ok_or_else(|| {
        sea_orm::DbErr::Custom(format!("the budget of {:?} did not take a checked spend", spend.principal_id))
    })?;
    Ok(Spent {
        daily,
        monthly,
        daily_limit: row.daily_budget_micros,
        monthly_limit: row.monthly_budget_micros,
    })
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

/// The spend of `window` of the cost after it, checked against overflow and (when enforced)
/// the limit.
async fn window_after<C: ConnectionTrait>(
    txn: &C,
    spend: &Spend<'_>,
    row: &principal_budget::Model,
    window: Window,
) -> Result<i64> {
    let (spent, from_ledger) = spent_in(txn, row, window, spend.at).await?;
    let unrecorded = if from_ledger && window == Window::Monthly { spend.unrecorded_in_month } else { 0 };
    let before = spent.checked_add(unrecorded).ok_or_else(|| overflow(spend, window))?;
    after(spend, window, before, counter(row, window).2)
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
fn overflow(spend: &Spend<'_>, window: Window) -> Error {
    let reason =
        format!("would take the {window} spend of {:?} past the largest storable sum", spend.principal_id);
    Error::validation(spend.field, reason)
}

/// The budget row of `principal_id`, created (unlimited) when missing, locked until the
/// transaction ends (`FOR UPDATE` on PostgreSQL; SQLite's write transaction holds the
/// database).
async fn lock<C: ConnectionTrait>(
    txn: &C,
    principal_id: &str,
    now: OffsetDateTime,
) -> Result<principal_budget::Model> {
    let row = principal_budget::ActiveModel {
        principal_id: Set(principal_id.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    principal_budget::Entity::insert(row)
        .on_conflict(OnConflict::column(Column::PrincipalId).do_nothing().to_owned())
        .exec_without_returning(txn)
        .await?;
    principal_budget::Entity::find_by_id(principal_id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found(Entity::Budget, principal_id))
}

#[cfg(test)]
pub(super) mod tests {
    use super::{PG_KEYED_SPEND_AND_INSERT, PG_SPEND_AND_INSERT, SPEND};

    /// `sql` without its comments, its white space folded.
    pub(in crate::ledger) fn folded(sql: &str) -> String {
        let code: Vec<&str> = sql.lines().map(|l| l.split("--").next().unwrap_or("")).collect();
        code.join(" ").split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The whole statements carry the spend statement's rule as it is: the charge verbatim,
    /// the keyed charge with the key's guard on both its insert and its update.
    #[test]
    fn the_whole_statements_hold_the_spend_statement() {
        let spend = folded(SPEND);
        assert!(folded(PG_SPEND_AND_INSERT).contains(&spend));
        let no_key = "NOT EXISTS (SELECT FROM existing)";
        let guarded = spend
            .replacen(
                "VALUES ($1, $2, $2, $3, $4, $5, $5)",
                &format!("SELECT $1, $2, $2, $3, $4, $5, $5 WHERE {no_key}"),
                1,
            )
            .replacen("WHERE (NOT $6 OR", &format!("WHERE {no_key} AND (NOT $6 OR"), 1);
        assert_eq!(folded(PG_KEYED_SPEND_AND_INSERT).matches(no_key).count(), 2);
        assert!(folded(PG_KEYED_SPEND_AND_INSERT).contains(&guarded));
    }
}
