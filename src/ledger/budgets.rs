//! Per-principal budgets: limits, where a window stands, reconciliation with the ledger.
//!
//! Windows are UTC calendar days and months ([`Window`]). For every principal, day D and
//! month M, a charge stamped at t succeeds only if the ledger sums of the day and the month
//! of t, counting it, stay within the limits — whatever t is relative to other costs or to
//! now. The budget row counts the newest day and month it has seen (`*_spent_micros` from
//! `last_*_reset`); the spend of any other window is the ledger's own sum (see
//! `ledger::spend`).

use super::money::{from_micros, to_micros};
use super::{spend, summaries};
use crate::Conn;
use crate::Window;
use crate::trace::{operation, traced};
use crate::{Error, Result, timestamp, validate};
use entity::principal_budget;
use rust_decimal::Decimal;
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::{Date, OffsetDateTime, Time};

/// Limits of one principal; `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Limit per UTC day.
    pub daily: Option<Decimal>,
    /// Limit per UTC month.
    pub monthly: Option<Decimal>,
    /// ISO 4217 currency of the limits and of the principal's costs.
    pub currency: String,
}

/// Where one window of a budget stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowStatus {
    /// Which window.
    pub window: Window,
    /// Its start (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// The limit, `None` for unlimited.
    pub limit: Option<Decimal>,
    /// Spent in this window.
    pub spent: Decimal,
    /// What may still be spent (never negative); `None` when unlimited.
    pub remaining: Option<Decimal>,
    /// `spent / limit` in percent, two decimals; `None` when unlimited.
    pub percent_used: Option<Decimal>,
}

/// A principal's budget as of one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// The principal.
    pub principal_id: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// The UTC day.
    pub daily: WindowStatus,
    /// The UTC month.
    pub monthly: WindowStatus,
}

impl BudgetStatus {
    /// The status of `window`.
    pub fn window(&self, window: Window) -> &WindowStatus {
        match window {
            Window::Daily => &self.daily,
            Window::Monthly => &self.monthly,
        }
    }
}

/// A window whose counter disagrees with the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    /// The principal.
    pub principal_id: String,
    /// The window that disagrees.
    pub window: Window,
    /// Its start (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// What the budget row says was spent.
    pub budget_spent: Decimal,
    /// What the ledger sums to for the same window.
    pub ledger_spent: Decimal,
}

/// Sets (or replaces) the limits and currency of `principal_id`, keeping its spend; returns
/// the budget row as it is now.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// # let db = sark_db::connect("sqlite::memory:").await?;
/// # sark_db::migrate(&db).await?;
/// use rust_decimal::dec;
/// use sark_db::ledger::budgets::{self, Limits};
///
/// let limits = Limits { daily: Some(dec!(5)), monthly: Some(dec!(100)), currency: "EUR".into() };
/// let row = budgets::set_limits(&db, "ann", &limits).await?;
/// assert_eq!(row.daily_budget_micros, Some(5_000_000));
/// # Ok(())
/// # }
/// ```
pub async fn set_limits<C: Conn>(
    db: &C,
    principal_id: &str,
    limits: &Limits,
) -> Result<principal_budget::Model> {
    traced(operation!(INFO, "budgets::set_limits", principal_id), async {
        validate::name("principal_id", principal_id)?;
        validate::currency(&limits.currency)?;
        let daily = limits.daily.map(|d| to_micros("daily", d)).transpose()?;
        let monthly = limits.monthly.map(|m| to_micros("monthly", m)).transpose()?;
        let now = timestamp::now();
        let row = principal_budget::ActiveModel {
            principal_id: Set(principal_id.to_owned()),
            daily_budget_micros: Set(daily),
            monthly_budget_micros: Set(monthly),
            currency: Set(limits.currency.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        use principal_budget::Column as C;
        principal_budget::Entity::insert(row)
            .on_conflict(
                OnConflict::column(C::PrincipalId)
                    .update_columns([C::DailyBudgetMicros, C::MonthlyBudgetMicros, C::Currency, C::UpdatedAt])
                    .to_owned(),
            )
            .exec_with_returning(db)
            .await
            .map_err(Error::from)
    })
    .await
}

/// The budget of `principal_id` as of `at` — any instant, past windows included: the
/// counters for the windows the row counts, the ledger's sums for any other. A principal
/// without a budget row is unlimited, in USD.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// # let db = sark_db::connect("sqlite::memory:").await?;
/// # sark_db::migrate(&db).await?;
/// use rust_decimal::dec;
/// use sark_db::ledger::budgets::{self, Limits};
/// use sark_db::ledger::costs::{self, NewCost};
///
/// budgets::set_limits(&db, "ann", &Limits { daily: Some(dec!(5)), monthly: None, currency: "USD".into() }).await?;
/// costs::charge(&db, &NewCost::new("ann", "search-api", "query").actual(dec!(2))).await?;
/// let status = budgets::status(&db, "ann", time::OffsetDateTime::now_utc()).await?;
/// assert_eq!((status.daily.spent, status.daily.remaining, status.monthly.limit), (dec!(2), Some(dec!(3)), None));
/// # Ok(())
/// # }
/// ```
pub async fn status<C: Conn>(db: &C, principal_id: &str, at: OffsetDateTime) -> Result<BudgetStatus> {
    traced(operation!(DEBUG, "budgets::status", principal_id), async {
        let at = timestamp::normalize(at);
        validate::name("principal_id", principal_id)?;
        let b = principal_budget::Entity::find_by_id(principal_id).one(db).await?;
        let b = b.unwrap_or_else(|| unlimited(principal_id));
        let daily = window_status(db, &b, Window::Daily, at).await?;
        let monthly = window_status(db, &b, Window::Monthly, at).await?;
        Ok(BudgetStatus { principal_id: b.principal_id, currency: b.currency, daily, monthly })
    })
    .await
}

/// What a principal without a budget row has: no limits, nothing counted, USD.
fn unlimited(principal_id: &str) -> principal_budget::Model {
    let epoch = OffsetDateTime::UNIX_EPOCH;
    principal_budget::Model {
        principal_id: principal_id.to_owned(),
        daily_budget_micros: None,
        monthly_budget_micros: None,
        daily_spent_micros: 0,
        monthly_spent_micros: 0,
        last_daily_reset: None,
        last_monthly_reset: None,
        currency: "USD".to_owned(),
        created_at: epoch,
        updated_at: epoch,
    }
}

async fn window_status<C: ConnectionTrait>(
    db: &C,
    b: &principal_budget::Model,
    window: Window,
    at: OffsetDateTime,
) -> Result<WindowStatus> {
    let start = window.start(at);
    let (spent, _) = spend::spent_in(db, b, window, at).await?;
    let limit = spend::counter(b, window).2;
    let (spent, limit) = (from_micros(spent), limit.map(from_micros));
    Ok(WindowStatus {
        window,
        start,
        limit,
        spent,
        remaining: limit.map(|l| (l - spent).max(Decimal::ZERO)),
        percent_used: limit.map(|l| {
            if l.is_zero() { Decimal::ONE_HUNDRED } else { (spent * Decimal::ONE_HUNDRED / l).round_dp(2) }
        }),
    })
}

/// Compares every budget counter whose window overlaps `[from, to)` with the ledger's sum
/// for that window, and returns the windows that disagree (empty when all is well).
///
/// Only the windows a budget row counts have a counter; every other window is enforced
/// from the ledger's own sum, so there is nothing else to drift.
pub async fn reconcile<C: Conn>(
    db: &C,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Vec<Discrepancy>> {
    traced(operation!(DEBUG, "budgets::reconcile"), async {
        let (from, to) = (timestamp::normalize(from), timestamp::normalize(to));
        if to < from {
            return Err(Error::validation("to", "is before from"));
        }
        use principal_budget::Column as B;
        // A coarse filter (every window overlapping the range starts at or after this); the
        // exact one below compares instants, not SQLite's text.
        let earliest = Window::Monthly.start(from);
        let rows = principal_budget::Entity::find()
            .filter(B::LastDailyReset.gte(earliest).or(B::LastMonthlyReset.gte(earliest)))
            .order_by_asc(B::PrincipalId)
            .all(db)
            .await?;
        let (ledger_from, ledger_to) = (Window::Monthly.start(from), Window::Monthly.end(to));
        let mut ledger: HashMap<(String, Window, OffsetDateTime), i64> = HashMap::new();
        for (principal, day, amount) in summaries::by_principal_and_day(db, ledger_from, ledger_to).await? {
            let day =
                Date::parse(&day, DAY).map_err(|e| sea_orm::DbErr::Custom(format!("day {day:?}: {e}")))?;
            let at = day.with_time(Time::MIDNIGHT).assume_utc();
            for window in [Window::Daily, Window::Monthly] {
                *ledger.entry((principal.clone(), window, window.start(at))).or_default() += amount;
            }
        }
        let mut found = Vec::new();
        for b in rows {
            for window in [Window::Daily, Window::Monthly] {
                let (counted, counter, _) = spend::counter(&b, window);
                let Some(start) = counted.filter(|s| *s < to && window.end(*s).is_none_or(|end| end > from))
                else {
                    continue;
                };
                let ledger = ledger.get(&(b.principal_id.clone(), window, start)).copied().unwrap_or(0);
                if ledger != counter {
                    found.push(Discrepancy {
                        principal_id: b.principal_id.clone(),
                        window,
                        start,
                        budget_spent: from_micros(counter),
                        ledger_spent: from_micros(ledger),
                    });
                }
            }
        }
        Ok(found)
    })
    .await
}

/// How [`summaries`] names a UTC day.
const DAY: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");
