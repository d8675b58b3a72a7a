//! Route 3 (see the table in [`super`]): the locked path, inside route 2's write
//! transaction, for whatever the spend statement left — a cost in an older window than its
//! budget row counts (a back-fill, a late report, a skewed clock), a refusal, an overflow.
//!
//! The budget row is created when missing and locked (`FOR UPDATE`; SQLite's write
//! transaction holds the database), the spend of each window of the cost is read — the counter
//! when the row counts that window, else the ledger's own sum — the limit is checked, and only
//! then is anything written. Either way a limit is checked against the spend of the cost's own
//! windows.
//!
//! - [`spend`]: one cost.
//! - [`settle_group`] (PostgreSQL): the unkeyed calls of one [`Ledger`](super::Ledger) group
//!   in a fixed number of statements whatever their number. The rows of their principals are
//!   locked in principal order ([`sql/create_budgets.pg.sql`](self) creates the missing ones);
//!   under that lock each call is judged in arrival order exactly as [`spend`] judges it alone
//!   ([`after`]); one statement inserts the admitted costs and one adds their amounts to the
//!   counters ([`sql/add_to_budgets.pg.sql`](self)). A cost in an older window needs the
//!   ledger's own sum: from it on, its principal's calls go one by one, after this, in the
//!   same transaction.
//! - [`add_all`] (PostgreSQL): the per-day budget changes of a bulk recording, the same way.

use super::cost::{Call, CostOutcome, Valid, insert_unnest};
use super::spend::{SPEND, Spend, Spent, after, counter, overflow, spent_in};
use crate::{Entity, Error, Result, Window};
use entity::principal_budget::{self, Column};
use sea_orm::sea_query::{ArrayType, Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect,
    Statement, Value,
};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// Creates the missing budget rows of a group, unlimited ([`sql/create_budgets.pg.sql`](self)).
const CREATE_MISSING: &str = include_str!("sql/create_budgets.pg.sql");

/// Adds a group's admitted amounts to its principals' counters
/// ([`sql/add_to_budgets.pg.sql`](self)).
const ADD: &str = include_str!("sql/add_to_budgets.pg.sql");

/// One cost, inside route 2's write transaction `txn`, before its cost row is inserted: locks the budget row, reads the spend of each window of the cost (the counter
/// when the row counts that window, else the ledger sum), refuses with
/// [`Error::BudgetExceeded`] (when enforced) or [`Error::Validation`] (an overflow) before
/// writing anything, and else adds the amount to the counters of the windows the row counts.
pub(super) async fn spend<C: ConnectionTrait>(txn: &C, spend: &Spend<'_>) -> Result<Spent> {
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

/// Route 1's refusal of `spend`, told from the budget row its statement read under the row's
/// lock when the spend did not apply (the counters and limits as [`SPEND`] returns them, and
/// `last_daily_reset`, `last_monthly_reset`): the refusal this route would give, judged as a
/// group judges a call. `None` when the row counts newer windows than the cost's, or when it
/// would admit the cost: this route judges it then.
pub(super) fn refusal(row: &QueryResult, spend: &Spend<'_>) -> Result<Option<Error>> {
    let spent = Spent::from_row(row)?;
    let mut counters = Counters {
        day: row.try_get("", "last_daily_reset")?,
        daily: spent.daily,
        month: row.try_get("", "last_monthly_reset")?,
        monthly: spent.monthly,
    };
    let verdict = counters.admit(spend, (spent.daily_limit, spent.monthly_limit));
    Ok(verdict.and_then(Result::err))
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

/// A budget row as the calls before the current one left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counters {
    day: Option<OffsetDateTime>,
    daily: i64,
    month: Option<OffsetDateTime>,
    monthly: i64,
}

impl Counters {
    fn of(row: &principal_budget::Model) -> Self {
        Counters {
            day: row.last_daily_reset,
            daily: row.daily_spent_micros,
            month: row.last_monthly_reset,
            monthly: row.monthly_spent_micros,
        }
    }

    /// Judges `spend` against these counters and the limits, and counts it when admitted;
    /// `None` when its windows are older than the counted ones.
    fn admit(&mut self, spend: &Spend<'_>, limits: (Option<i64>, Option<i64>)) -> Option<Result<Spent>> {
        let (day, month) = (Window::Daily.start(spend.at), Window::Monthly.start(spend.at));
        if self.day > Some(day) || self.month > Some(month) {
            return None;
        }
        // A window newer than the counted one starts at zero.
        let before = |counted, counter, start| if counted == Some(start) { counter } else { 0 };
        let (daily_limit, monthly_limit) = limits;
        let judged =
            after(spend, Window::Daily, before(self.day, self.daily, day), daily_limit).and_then(|daily| {
                let monthly = before(self.month, self.monthly, month);
                Ok((daily, after(spend, Window::Monthly, monthly, monthly_limit)?))
            });
        Some(judged.map(|(daily, monthly)| {
            *self = Counters { day: Some(day), daily, month: Some(month), monthly };
            Spent { daily, monthly, daily_limit, monthly_limit }
        }))
    }

    /// What `self`, reached from `locked`, adds to it (the parameters of [`ADD`]): the
    /// windows it counts, and per window the gain, or the whole spend of a newer window.
    fn gain(&self, locked: &Counters) -> Counters {
        let gained =
            |now, then, counter: i64, before: i64| if now == then { counter - before } else { counter };
        Counters {
            daily: gained(self.day, locked.day, self.daily, locked.daily),
            monthly: gained(self.month, locked.month, self.monthly, locked.monthly),
            ..*self
        }
    }
}

/// A principal's budget row under the lock, the counters as the admitted costs leave them,
/// and whether its later calls go one by one.
struct Locked {
    row: principal_budget::Model,
    counters: Counters,
    deferred: bool,
}

impl Locked {
    /// Judges `spend` (see [`Counters::admit`]); once a spend is left to the one-by-one path,
    /// so are the principal's later ones.
    fn admit(&mut self, spend: &Spend<'_>) -> Option<Result<Spent>> {
        let limits = (self.row.daily_budget_micros, self.row.monthly_budget_micros);
        let verdict = if self.deferred { None } else { self.counters.admit(spend, limits) };
        self.deferred = verdict.is_none();
        verdict
    }
}

/// PostgreSQL: decides `calls` (unkeyed, in arrival order) in the write transaction `txn`:
/// each call's answer, or `None` for a call left to the one-by-one path (see the module).
pub(super) async fn settle_group<C: ConnectionTrait>(
    txn: &C,
    calls: &[Call<'_>],
    now: OffsetDateTime,
) -> Result<Vec<Option<Result<CostOutcome>>>> {
    let mut locked = lock_all(txn, calls.iter().map(|(v, _)| v.cost.principal_id.as_str()), now).await?;
    let judged: Vec<_> = calls
        .iter()
        .map(|(valid, enforce)| {
            let spend = valid.spend(*enforce, now);
            locked.get_mut(spend.principal_id).and_then(|l| l.admit(&spend))
        })
        .collect();
    let admitted: Vec<&Valid<'_>> =
        calls.iter().zip(&judged).filter(|(_, j)| matches!(j, Some(Ok(_)))).map(|((v, _), _)| v).collect();
    let mut ids = insert_unnest(txn, &admitted).await?.into_iter();
    add(txn, &locked, now).await?;
    Ok(calls
        .iter()
        .zip(judged)
        .map(|((valid, _), verdict)| {
            verdict
                .map(|v| v.map(|spent| valid.outcome(ids.next().expect("one id per admitted cost"), spent)))
        })
        .collect())
}

/// PostgreSQL: applies the budget changes of a bulk recording (oldest first per principal) in the write
/// transaction `txn`, in a fixed number of statements; `false`, with no counter changed,
/// when one is older than the windows its row counts (then apply them one by one).
pub(super) async fn add_all<C: ConnectionTrait>(
    txn: &C,
    spends: &[Spend<'_>],
    now: OffsetDateTime,
) -> Result<bool> {
    let mut locked = lock_all(txn, spends.iter().map(|s| s.principal_id), now).await?;
    for spend in spends {
        match locked.get_mut(spend.principal_id).and_then(|l| l.admit(spend)) {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e),
            None => return Ok(false),
        }
    }
    add(txn, &locked, now).await?;
    Ok(true)
}

/// The budget rows of `principals`, locked in principal order; the missing ones are created
/// (unlimited) and locked after the others.
async fn lock_all<'p, C: ConnectionTrait>(
    txn: &C,
    principals: impl Iterator<Item = &'p str>,
    now: OffsetDateTime,
) -> Result<BTreeMap<String, Locked>> {
    let principals: Vec<String> =
        principals.collect::<BTreeSet<_>>().into_iter().map(str::to_owned).collect();
    let mut rows = lock_existing(txn, &principals).await?;
    let missing: Vec<String> = principals.into_iter().filter(|p| !rows.contains_key(p)).collect();
    if !missing.is_empty() {
        let create = Statement::from_sql_and_values(
            txn.get_database_backend(),
            CREATE_MISSING,
            [array(&missing), now.into()],
        );
        txn.execute_raw(create).await?;
        rows.extend(lock_existing(txn, &missing).await?);
    }
    Ok(rows)
}

/// The budget rows of `principals` that exist, locked in principal order.
async fn lock_existing<C: ConnectionTrait>(
    txn: &C,
    principals: &[String],
) -> Result<BTreeMap<String, Locked>> {
    // `= ANY($1)`, not `IN (…)`: one statement text whatever the number, prepared once.
    let rows = principal_budget::Entity::find()
        .filter(Expr::cust_with_values("principal_id = ANY($1)", [array(principals)]))
        .order_by_asc(Column::PrincipalId)
        .lock_exclusive()
        .all(txn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.principal_id.clone(), Locked { counters: Counters::of(&row), row, deferred: false }))
        .collect())
}

/// `principals` as one array parameter.
fn array(principals: &[String]) -> Value {
    Value::Array(ArrayType::String, Some(Box::new(principals.iter().map(|p| p.as_str().into()).collect())))
}

/// Adds what the admitted costs gave each principal to its counters, in one statement.
async fn add<C: ConnectionTrait>(
    txn: &C,
    locked: &BTreeMap<String, Locked>,
    now: OffsetDateTime,
) -> Result<()> {
    let gains: Vec<(&str, Counters)> = locked
        .iter()
        .filter(|(_, l)| l.counters != Counters::of(&l.row))
        .map(|(p, l)| (p.as_str(), l.counters.gain(&Counters::of(&l.row))))
        .collect();
    if gains.is_empty() {
        return Ok(());
    }
    let column = |ty, f: &dyn Fn(&(&str, Counters)) -> Value| {
        Value::Array(ty, Some(Box::new(gains.iter().map(f).collect())))
    };
    let values = [
        column(ArrayType::String, &|g| g.0.into()),
        column(ArrayType::TimeDateTimeWithTimeZone, &|g| g.1.day.into()),
        column(ArrayType::BigInt, &|g| g.1.daily.into()),
        column(ArrayType::TimeDateTimeWithTimeZone, &|g| g.1.month.into()),
        column(ArrayType::BigInt, &|g| g.1.monthly.into()),
        now.into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(txn.get_database_backend(), ADD, values)).await?;
    Ok(())
}
