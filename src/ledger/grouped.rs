//! PostgreSQL: the unkeyed calls of one group-commit transaction decided together, in a
//! fixed number of statements whatever their number.
//!
//! The budget rows of the calls' principals are created when missing and locked
//! (`FOR UPDATE`, in principal order). Under that lock each call is judged in arrival order
//! exactly as the locked path judges it alone ([`spend::after`]): a cost in the windows the
//! row counts, or newer ones, is admitted or refused against the counters as the earlier calls
//! left them. Then one statement inserts the admitted costs and one adds their amounts to the
//! counters (`x = x + …`, still under the lock). A cost in an older window needs the ledger's
//! own sum: from it on, its principal's calls are left to the one-by-one path, which runs
//! after this one in the same transaction.

use super::costs::{self, CostOutcome, Valid};
use super::spend::{self, Spend, Spent};
use crate::{Result, Window};
use entity::principal_budget::{self, Column};
use sea_orm::sea_query::{ArrayType, Expr};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, Value};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Creates the missing budget rows of `$1` (unlimited), stamped `$2`.
const CREATE_MISSING: &str = "INSERT INTO principal_budgets (principal_id, created_at, updated_at) \
    SELECT p, $2, $2 FROM UNNEST($1::varchar[]) AS p ON CONFLICT (principal_id) DO NOTHING";

/// Adds each principal's admitted amounts to its counters: `$2`/`$4` are the newest day and
/// month it now counts, `$3`/`$5` what they gained (their whole spend when they are newer
/// than the row's).
const ADD: &str = "UPDATE principal_budgets AS b SET
    daily_spent_micros = CASE WHEN b.last_daily_reset = v.day THEN b.daily_spent_micros + v.daily ELSE v.daily END,
    monthly_spent_micros = CASE WHEN b.last_monthly_reset = v.month THEN b.monthly_spent_micros + v.monthly ELSE v.monthly END,
    last_daily_reset = v.day, last_monthly_reset = v.month, updated_at = $6
FROM UNNEST($1::varchar[], $2::timestamptz[], $3::int8[], $4::timestamptz[], $5::int8[])
    AS v(principal_id, day, daily, month, monthly)
WHERE b.principal_id = v.principal_id";

/// One call: the cost and whether it is a charge.
pub(super) type Call<'a> = (Valid<'a>, bool);

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

    /// Judges `spend` against these counters and `row`'s limits, and counts it when admitted;
    /// `None` when its windows are older than the counted ones.
    fn admit(&mut self, spend: &Spend<'_>, row: &principal_budget::Model) -> Option<Result<Spent>> {
        let (day, month) = (Window::Daily.start(spend.at), Window::Monthly.start(spend.at));
        if self.day > Some(day) || self.month > Some(month) {
            return None;
        }
        // A window newer than the counted one starts at zero.
        let before = |counted, counter, start| if counted == Some(start) { counter } else { 0 };
        let judged =
            spend::after(spend, Window::Daily, before(self.day, self.daily, day), row.daily_budget_micros)
                .and_then(|daily| {
                    let monthly = before(self.month, self.monthly, month);
                    Ok((daily, spend::after(spend, Window::Monthly, monthly, row.monthly_budget_micros)?))
                });
        Some(judged.map(|(daily, monthly)| {
            *self = Counters { day: Some(day), daily, month: Some(month), monthly };
            Spent {
                daily,
                monthly,
                daily_limit: row.daily_budget_micros,
                monthly_limit: row.monthly_budget_micros,
            }
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

/// Decides `calls` (unkeyed, in arrival order) in the write transaction `txn`: each call's
/// answer, or `None` for a call left to the one-by-one path (see the module).
pub(super) async fn settle<C: ConnectionTrait>(
    txn: &C,
    calls: &[Call<'_>],
    now: OffsetDateTime,
) -> Result<Vec<Option<Result<CostOutcome>>>> {
    let rows = lock(txn, calls, now).await?;
    let mut counters: BTreeMap<&str, Option<Counters>> =
        rows.iter().map(|(p, row)| (p.as_str(), Some(Counters::of(row)))).collect();
    let mut judged = Vec::with_capacity(calls.len());
    for (valid, enforce) in calls {
        let principal = valid.cost.principal_id.as_str();
        let slot = counters.entry(principal).or_default();
        let verdict = slot.as_mut().and_then(|c| c.admit(&valid.spend(*enforce, now), &rows[principal]));
        if verdict.is_none() {
            *slot = None; // this call and the principal's later ones go one by one
        }
        judged.push(verdict);
    }
    let admitted: Vec<&Valid<'_>> =
        calls.iter().zip(&judged).filter(|(_, j)| matches!(j, Some(Ok(_)))).map(|((v, _), _)| v).collect();
    let mut ids = costs::insert_unnest(txn, &admitted).await?.into_iter();
    add(txn, &rows, calls, &judged, now).await?;
    Ok(calls
        .iter()
        .zip(judged)
        .map(|((valid, _), verdict)| {
            verdict
                .map(|v| v.map(|spent| valid.outcome(ids.next().expect("one id per admitted cost"), spent)))
        })
        .collect())
}

/// The budget rows of the calls' principals, locked in principal order; the missing ones
/// are created (unlimited) and locked after the others.
async fn lock<C: ConnectionTrait>(
    txn: &C,
    calls: &[Call<'_>],
    now: OffsetDateTime,
) -> Result<BTreeMap<String, principal_budget::Model>> {
    let principals: Vec<String> = calls
        .iter()
        .map(|(v, _)| v.cost.principal_id.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
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
) -> Result<BTreeMap<String, principal_budget::Model>> {
    // `= ANY($1)`, not `IN (…)`: one statement text whatever the number, prepared once.
    let rows = principal_budget::Entity::find()
        .filter(Expr::cust_with_values("principal_id = ANY($1)", [array(principals)]))
        .order_by_asc(Column::PrincipalId)
        .lock_exclusive()
        .all(txn)
        .await?;
    Ok(rows.into_iter().map(|row| (row.principal_id.clone(), row)).collect())
}

/// `principals` as one array parameter.
fn array(principals: &[String]) -> Value {
    Value::Array(ArrayType::String, Some(Box::new(principals.iter().map(|p| p.as_str().into()).collect())))
}

/// Adds the admitted calls' amounts to their principals' counters, in one statement.
async fn add<C: ConnectionTrait>(
    txn: &C,
    rows: &BTreeMap<String, principal_budget::Model>,
    calls: &[Call<'_>],
    judged: &[Option<Result<Spent>>],
    now: OffsetDateTime,
) -> Result<()> {
    let mut reached: BTreeMap<&str, Counters> = BTreeMap::new();
    for ((valid, _), verdict) in calls.iter().zip(judged) {
        if let Some(Ok(spent)) = verdict {
            let (day, month) = (Window::Daily.start(valid.at), Window::Monthly.start(valid.at));
            let counters =
                Counters { day: Some(day), daily: spent.daily, month: Some(month), monthly: spent.monthly };
            reached.insert(valid.cost.principal_id.as_str(), counters);
        }
    }
    if reached.is_empty() {
        return Ok(());
    }
    let gains: Vec<Counters> = reached.iter().map(|(p, c)| c.gain(&Counters::of(&rows[*p]))).collect();
    let column =
        |ty, f: &dyn Fn(&Counters) -> Value| Value::Array(ty, Some(Box::new(gains.iter().map(f).collect())));
    let principals = reached.keys().map(|p| Value::from(*p)).collect();
    let values = [
        Value::Array(ArrayType::String, Some(Box::new(principals))),
        column(ArrayType::TimeDateTimeWithTimeZone, &|g| g.day.into()),
        column(ArrayType::BigInt, &|g| g.daily.into()),
        column(ArrayType::TimeDateTimeWithTimeZone, &|g| g.month.into()),
        column(ArrayType::BigInt, &|g| g.monthly.into()),
        now.into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(txn.get_database_backend(), ADD, values)).await?;
    Ok(())
}
