//! Per-principal budgets: limits, status per window, the one-statement spend, reconciliation.
//!
//! Windows are UTC calendar days and months ([`Window`]). A row remembers the start of the
//! window its `*_spent_micros` counts; a spend stamped in a newer window starts that window at
//! zero, one stamped in an older window leaves the newer window alone. Spending is a single
//! `INSERT … ON CONFLICT DO UPDATE … WHERE <limits hold> RETURNING` statement, so concurrent
//! callers can neither lose an update nor overspend, and a principal's first spend creates its
//! row (unlimited) even when many first spends race.

use crate::money::{from_micros, to_micros};
use crate::window::Window;
use crate::{Result, timestamp, validate};
use entity::principal_budget;
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryResult, Statement, Value};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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
    /// What the budget row says was spent.
    pub budget_spent: Decimal,
    /// What the ledger sums to for the same window.
    pub ledger_spent: Decimal,
}

/// Sets (or replaces) the limits and currency of `principal_id`, keeping its spend.
pub async fn set_limits<C: ConnectionTrait>(db: &C, principal_id: &str, limits: &Limits) -> Result<()> {
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
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The budget of `principal_id` as of `at`, rolling stale windows over to zero without writing.
/// A principal without a budget row is unlimited, in USD, with nothing spent.
pub async fn status<C: ConnectionTrait>(
    db: &C,
    principal_id: &str,
    at: OffsetDateTime,
) -> Result<BudgetStatus> {
    validate::name("principal_id", principal_id)?;
    let b = principal_budget::Entity::find_by_id(principal_id).one(db).await?;
    let b = b.unwrap_or_else(|| unlimited(principal_id));
    let daily =
        window_status(Window::Daily, at, b.daily_budget_micros, b.last_daily_reset, b.daily_spent_micros);
    let monthly = window_status(
        Window::Monthly,
        at,
        b.monthly_budget_micros,
        b.last_monthly_reset,
        b.monthly_spent_micros,
    );
    Ok(BudgetStatus { principal_id: b.principal_id, currency: b.currency, daily, monthly })
}

/// What a principal without a budget row has: no limits, nothing spent, USD.
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

fn window_status(
    window: Window,
    at: OffsetDateTime,
    limit: Option<i64>,
    counted_from: Option<OffsetDateTime>,
    spent: i64,
) -> WindowStatus {
    let start = window.start(at);
    let spent = if counted_from == Some(start) { from_micros(spent) } else { Decimal::ZERO };
    let limit = limit.map(from_micros);
    WindowStatus {
        window,
        start,
        limit,
        spent,
        remaining: limit.map(|l| (l - spent).max(Decimal::ZERO)),
        percent_used: limit.map(|l| {
            if l.is_zero() { Decimal::ONE_HUNDRED } else { (spent * Decimal::ONE_HUNDRED / l).round_dp(2) }
        }),
    }
}

/// Budget counters against ledger sums: `$1`–`$4` are the daily and monthly window bounds as
/// stored in the budget rows, `$5`–`$8` the same bounds comparable with `{ts}` (the ledger
/// timestamp in sortable form).
const RECONCILE: &str = r#"SELECT principal_id, daily_budget, daily_ledger, monthly_budget, monthly_ledger FROM (
    SELECT b.principal_id,
        CASE WHEN b.last_daily_reset = $1 THEN b.daily_spent_micros ELSE 0 END AS daily_budget,
        CAST(COALESCE((SELECT SUM(COALESCE(c.actual_cost_micros, c.estimated_cost_micros))
            FROM cost_tracking c WHERE c.principal_id = b.principal_id
            AND {ts} >= $5 AND {ts} < $6), 0) AS BIGINT) AS daily_ledger,
        CASE WHEN b.last_monthly_reset = $3 THEN b.monthly_spent_micros ELSE 0 END AS monthly_budget,
        CAST(COALESCE((SELECT SUM(COALESCE(c.actual_cost_micros, c.estimated_cost_micros))
            FROM cost_tracking c WHERE c.principal_id = b.principal_id
            AND {ts} >= $7 AND {ts} < $8), 0) AS BIGINT) AS monthly_ledger
    FROM principal_budgets b) t
WHERE daily_budget <> daily_ledger OR monthly_budget <> monthly_ledger
ORDER BY principal_id"#;

/// Compares each budget's spend in the windows containing `at` with the ledger's sum for the
/// same windows, and returns the windows that disagree (empty when all is well).
pub async fn reconcile<C: ConnectionTrait>(db: &C, at: OffsetDateTime) -> Result<Vec<Discrepancy>> {
    let backend = db.get_database_backend();
    let sql = sql_for(db, &RECONCILE.replace("{ts}", &timestamp::sortable_sql(backend, r#"c."timestamp""#)));
    let windows = [Window::Daily, Window::Monthly].map(|w| (w.start(at), w.end(at)));
    let reset_values = windows.iter().flat_map(|&(start, end)| [start.into(), end.into()]);
    let ledger_values = windows.iter().flat_map(|&(start, end)| {
        [timestamp::sortable_value(backend, start), timestamp::sortable_value(backend, end)]
    });
    let values: Vec<Value> = reset_values.chain(ledger_values).collect();
    let rows =
        db.query_all_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await?;
    let mut found = Vec::new();
    for row in rows {
        let principal_id: String = row.try_get("", "principal_id")?;
        for (window, budget, ledger) in [
            (Window::Daily, "daily_budget", "daily_ledger"),
            (Window::Monthly, "monthly_budget", "monthly_ledger"),
        ] {
            let (budget, ledger): (i64, i64) = (row.try_get("", budget)?, row.try_get("", ledger)?);
            if budget != ledger {
                found.push(Discrepancy {
                    principal_id: principal_id.clone(),
                    window,
                    budget_spent: from_micros(budget),
                    ledger_spent: from_micros(ledger),
                });
            }
        }
    }
    Ok(found)
}

/// The budget counters after a spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spent {
    pub daily: i64,
    pub monthly: i64,
    pub daily_limit: Option<i64>,
    pub monthly_limit: Option<i64>,
}

impl Spent {
    /// Reads the columns [`SPEND`] returns.
    pub fn from_row(row: &QueryResult) -> Result<Self> {
        Ok(Spent {
            daily: row.try_get("", "daily_spent_micros")?,
            monthly: row.try_get("", "monthly_spent_micros")?,
            daily_limit: row.try_get("", "daily_budget_micros")?,
            monthly_limit: row.try_get("", "monthly_budget_micros")?,
        })
    }

    /// The first window whose limit the counters now exceed.
    pub fn over_limit(&self) -> Option<Window> {
        if self.daily_limit.is_some_and(|l| self.daily > l) {
            Some(Window::Daily)
        } else if self.monthly_limit.is_some_and(|l| self.monthly > l) {
            Some(Window::Monthly)
        } else {
            None
        }
    }
}

/// The spend statement. Parameters: `$1` principal, `$2` amount (micro-units), `$3` start of
/// the request's day, `$4` start of its month, `$5` now, `$6` whether limits are enforced.
/// With `$6` true and a limit that would be exceeded it changes nothing and returns no row.
pub(crate) const SPEND: &str = r#"
INSERT INTO principal_budgets AS b (principal_id, daily_spent_micros, monthly_spent_micros,
    last_daily_reset, last_monthly_reset, created_at, updated_at)
VALUES ($1, $2, $2, $3, $4, $5, $5)
ON CONFLICT (principal_id) DO UPDATE SET
    daily_spent_micros = CASE
        WHEN b.last_daily_reset IS NULL OR b.last_daily_reset < $3 THEN $2
        WHEN b.last_daily_reset = $3 THEN b.daily_spent_micros + $2
        ELSE b.daily_spent_micros END,
    monthly_spent_micros = CASE
        WHEN b.last_monthly_reset IS NULL OR b.last_monthly_reset < $4 THEN $2
        WHEN b.last_monthly_reset = $4 THEN b.monthly_spent_micros + $2
        ELSE b.monthly_spent_micros END,
    last_daily_reset = CASE
        WHEN b.last_daily_reset IS NULL OR b.last_daily_reset < $3 THEN $3 ELSE b.last_daily_reset END,
    last_monthly_reset = CASE
        WHEN b.last_monthly_reset IS NULL OR b.last_monthly_reset < $4 THEN $4 ELSE b.last_monthly_reset END,
    updated_at = $5
WHERE NOT $6 OR (
    (b.daily_budget_micros IS NULL OR b.last_daily_reset > $3 OR
        CASE WHEN b.last_daily_reset = $3 THEN b.daily_spent_micros ELSE 0 END + $2 <= b.daily_budget_micros)
    AND (b.monthly_budget_micros IS NULL OR b.last_monthly_reset > $4 OR
        CASE WHEN b.last_monthly_reset = $4 THEN b.monthly_spent_micros ELSE 0 END + $2 <= b.monthly_budget_micros))
RETURNING daily_spent_micros, monthly_spent_micros, daily_budget_micros, monthly_budget_micros"#;

/// The parameters of [`SPEND`].
pub(crate) fn spend_values(principal_id: &str, amount: i64, at: OffsetDateTime, enforce: bool) -> Vec<Value> {
    vec![
        principal_id.into(),
        amount.into(),
        Window::Daily.start(at).into(),
        Window::Monthly.start(at).into(),
        timestamp::now().into(),
        enforce.into(),
    ]
}

/// Adds `amount` to both windows of `principal_id` as of `at` in one statement; with
/// `enforce`, only if both limits still hold (`None` when they would not).
pub(crate) async fn spend<C: ConnectionTrait>(
    db: &C,
    principal_id: &str,
    amount: i64,
    at: OffsetDateTime,
    enforce: bool,
) -> Result<Option<Spent>> {
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        sql_for(db, SPEND),
        spend_values(principal_id, amount, at, enforce),
    );
    db.query_one_raw(stmt).await?.as_ref().map(Spent::from_row).transpose()
}

/// `sql` with `$n` placeholders, rewritten to SQLite's `?n` where needed.
pub(crate) fn sql_for<C: ConnectionTrait>(db: &C, sql: &str) -> String {
    if crate::db::is_postgres(db) { sql.to_owned() } else { sql.replace('$', "?") }
}
