//! Route 1 (see the table in [`super`]): PostgreSQL (not Citus), a cost or a group of costs
//! in one statement that is its own transaction, whenever the costs fall in the windows their
//! budget rows count (or newer ones) and fit their limits. A statement that does not apply
//! writes nothing and leaves its calls to route 2.
//!
//! - [`charge`]: one unkeyed cost ([`sql/charge.pg.sql`](self)), on the pool or inside
//!   route 2's transaction.
//! - [`charge_keyed`]: one keyed cost ([`sql/charge_keyed.pg.sql`](self)), where a unique
//!   violation (the key's first use in flight elsewhere) aborts no transaction a caller goes
//!   on with: on the pool, or in a [`Ledger`](super::Ledger) group, which then reruns its calls
//!   one by one.
//! - [`charge_many`]: the unkeyed calls of a [`Ledger`](super::Ledger) group
//!   ([`sql/charge_many.pg.sql`](self)). Per principal it takes all of its calls or none: it
//!   adds the sum of their amounts to the counters in one conditional `UPDATE` only when the
//!   limits hold for every charge counting the calls before it — the spend before the group
//!   plus the largest running sum at a charge — and inserts their cost rows, and the `charged`
//!   audit events of its governed calls, in the same statement. Amounts are never negative, so
//!   when they all fit, each call's answer is the one it would get alone in arrival order: the
//!   counters before it plus the calls up to it.

use super::cost::{Call, CostOutcome, Valid, sorted_ids, unnest_values};
use super::idempotency;
use super::locked;
use super::spend::{Spend, Spent};
use crate::audit::grouped::json_rows;
use crate::error::{is_unique_violation, not_applied};
use crate::{Db, Error, Result, Window, timestamp};
use entity::audit_event;
use sea_orm::sea_query::ArrayType;
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement, Value};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// [`SPEND`](super::spend::SPEND) and the insert of the cost row in one statement
/// ([`sql/charge.pg.sql`](self), whole, its parameters documented there). Returns no row when
/// the spend did not apply.
pub(crate) const PG_SPEND_AND_INSERT: &str = include_str!("sql/charge.pg.sql");

/// A keyed cost in one statement ([`sql/charge_keyed.pg.sql`](self)): the key's
/// first use spends and inserts the cost row, its outcome and the key; a committed key returns
/// its first payload and outcome and spends nothing.
pub(crate) const PG_KEYED_SPEND_AND_INSERT: &str = include_str!("sql/charge_keyed.pg.sql");

/// The budget changes and the cost rows of the principals they applied to, in one statement
/// ([`sql/charge_many.pg.sql`](self)): a row per changed budget (its principal, counters and
/// limits), then a row per inserted cost (its id alone).
const SPEND_AND_INSERT_MANY: &str = include_str!("sql/charge_many.pg.sql");

/// An unkeyed cost in one statement ([`PG_SPEND_AND_INSERT`]), on the pool or in a
/// transaction: its outcome; its refusal when the budget row the statement locked tells it
/// ([`locked::refusal`]); else `None` (nothing was written, route 3 judges it).
pub(super) async fn charge<C: ConnectionTrait>(
    db: &C,
    v: &Valid<'_>,
    spend: &Spend<'_>,
) -> Result<Option<CostOutcome>> {
    let mut values = spend.values(true);
    values.extend(v.cost_values());
    let stmt = Statement::from_sql_and_values(db.get_database_backend(), PG_SPEND_AND_INSERT, values);
    let Some(row) = db.query_one_raw(stmt).await? else { return Ok(None) };
    match row.try_get::<Option<i64>>("", "id")? {
        Some(id) => Ok(Some(v.outcome(id, Spent::from_row(&row)?))),
        None => locked::refusal(&row, spend)?.map_or(Ok(None), Err),
    }
}

/// A keyed cost in one statement ([`PG_KEYED_SPEND_AND_INSERT`]). The first outcome (or
/// [`Conflict::IdempotencyKeyReused`]) when the key was used before; `None` when the spend did
/// not apply or the key's first use is in flight elsewhere (then nothing was written).
pub(super) async fn charge_keyed<C: ConnectionTrait>(
    db: &C,
    v: &Valid<'_>,
    spend: &Spend<'_>,
    key: &str,
    enforce: bool,
) -> Result<Option<CostOutcome>> {
    let payload = v.payload(enforce);
    let mut values = spend.values(true);
    values.extend(v.cost_values());
    values.extend::<[Value; 3]>([key.into(), payload.clone().into(), timestamp::now().into()]);
    let stmt = Statement::from_sql_and_values(db.get_database_backend(), PG_KEYED_SPEND_AND_INSERT, values);
    let row = match db.query_one_raw(stmt).await {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(row) = row else { return Ok(None) };
    match row.try_get::<Option<String>>("", "payload")? {
        Some(first) => {
            let outcome: Option<String> = row.try_get("", "stored")?;
            idempotency::replay(key, &payload, &first, outcome.as_deref()).map(Some)
        }
        None => Ok(Some(v.outcome(row.try_get("", "id")?, Spent::from_row(&row)?))),
    }
}

/// One principal's calls in the group: what they add, what its charges need, their windows.
#[derive(Debug)]
struct Principal {
    /// The sum of the amounts.
    total: i64,
    /// The running sum at the last charge: the most any charge needs on top of the counters.
    need: i64,
    /// Whether any call is a charge.
    enforce: bool,
    /// The UTC day and month of the first call; the others must share them.
    day: OffsetDateTime,
    month: OffsetDateTime,
    /// False when a call is in other windows or the sum passes `i64::MAX`.
    fits_one_statement: bool,
}

impl Principal {
    fn new(valid: &Valid<'_>) -> Self {
        Principal {
            total: 0,
            need: 0,
            enforce: false,
            day: Window::Daily.start(valid.at),
            month: Window::Monthly.start(valid.at),
            fits_one_statement: true,
        }
    }

    /// Counts the next call.
    fn add(&mut self, valid: &Valid<'_>, enforce: bool) {
        let same_windows =
            Window::Daily.start(valid.at) == self.day && Window::Monthly.start(valid.at) == self.month;
        match self.total.checked_add(valid.amount) {
            Some(total) if same_windows => self.total = total,
            _ => self.fits_one_statement = false,
        }
        if enforce {
            self.need = self.total;
            self.enforce = true;
        }
    }
}

/// Settles what it can of `calls` (unkeyed, valid, in arrival order) in one statement on the
/// pool `db`, each with the audit event of its charge in `events` (a governed call's; one
/// element per call): the answer of each call it settled, `None` for the others. When the
/// statement fails in a way that leaves its outcome unknown (a lost connection), each of its
/// calls is answered with the error: none is run again.
pub(super) async fn charge_many(
    db: &Db,
    calls: &[Call<'_>],
    events: &[Option<&audit_event::ActiveModel>],
    now: OffsetDateTime,
) -> Vec<Option<Result<CostOutcome>>> {
    let mut principals: BTreeMap<&str, Principal> = BTreeMap::new();
    for (valid, enforce) in calls {
        principals
            .entry(valid.cost.principal_id.as_str())
            .or_insert_with(|| Principal::new(valid))
            .add(valid, *enforce);
    }
    principals.retain(|_, p| p.fits_one_statement);
    let sent: Vec<&Valid<'_>> = calls
        .iter()
        .map(|(v, _)| v)
        .filter(|v| principals.contains_key(v.cost.principal_id.as_str()))
        .collect();
    if sent.is_empty() {
        return unanswered(calls);
    }
    let mut values = unnest_values(&sent);
    values.extend(budget_values(&principals, now));
    // The events of the calls sent, each with its principal (the statement drops those of
    // principals whose calls did not apply).
    let (payers, events): (Vec<Value>, Vec<&audit_event::ActiveModel>) = calls
        .iter()
        .zip(events)
        .filter(|((v, _), _)| principals.contains_key(v.cost.principal_id.as_str()))
        .filter_map(|((v, _), event)| Some((v.cost.principal_id.as_str().into(), (*event)?)))
        .unzip();
    match json_rows(events) {
        Ok(events) => values.extend([events.into(), Value::Array(ArrayType::String, Some(Box::new(payers)))]),
        Err(e) => return calls.iter().map(|_| Some(Err(e.clone().into()))).collect(),
    }
    let stmt = Statement::from_sql_and_values(db.get_database_backend(), SPEND_AND_INSERT_MANY, values);
    let written = db.query_all_raw(stmt).await.map_err(Error::from);
    match written.and_then(|rows| Applied::read(&rows)).and_then(|applied| applied.answers(calls)) {
        Ok(answers) => answers,
        Err(Error::Db(e)) if not_applied(&e) => unanswered(calls),
        Err(e) => {
            let reason = format!("a group of charges may or may not have been written: {e}");
            calls
                .iter()
                .map(|(v, _)| {
                    let sent = principals.contains_key(v.cost.principal_id.as_str());
                    sent.then(|| Err(DbErr::Custom(reason.clone()).into()))
                })
                .collect()
        }
    }
}

/// The parameters `$8`–`$14` of the statement: one array per column of the principals.
fn budget_values(principals: &BTreeMap<&str, Principal>, now: OffsetDateTime) -> Vec<Value> {
    let column = |ty, f: &dyn Fn(&str, &Principal) -> Value| {
        Value::Array(ty, Some(Box::new(principals.iter().map(|(id, p)| f(id, p)).collect())))
    };
    vec![
        column(ArrayType::String, &|id, _| id.into()),
        column(ArrayType::BigInt, &|_, p| p.total.into()),
        column(ArrayType::BigInt, &|_, p| p.need.into()),
        column(ArrayType::TimeDateTimeWithTimeZone, &|_, p| p.day.into()),
        column(ArrayType::TimeDateTimeWithTimeZone, &|_, p| p.month.into()),
        column(ArrayType::Bool, &|_, p| p.enforce.into()),
        now.into(),
    ]
}

/// What the statement wrote: the principals whose calls applied, with their counters after
/// them all and their limits, and the ids of the inserted costs in arrival order.
struct Applied {
    spent: BTreeMap<String, Spent>,
    ids: Vec<i64>,
}

impl Applied {
    fn read(rows: &[QueryResult]) -> Result<Self> {
        let mut spent = BTreeMap::new();
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            match row.try_get::<Option<String>>("", "principal_id")? {
                Some(principal) => {
                    spent.insert(principal, Spent::from_row(row)?);
                }
                None => ids.push(row.try_get::<i64>("", "id")),
            }
        }
        Ok(Applied { spent, ids: sorted_ids(ids.into_iter())? })
    }

    /// The answer of each call whose principal's calls applied. Each call's counters are its
    /// principal's final ones less the amounts of the calls after it.
    fn answers(mut self, calls: &[Call<'_>]) -> Result<Vec<Option<Result<CostOutcome>>>> {
        let applied: Vec<usize> =
            (0..calls.len()).filter(|&i| self.spent.contains_key(&calls[i].0.cost.principal_id)).collect();
        if applied.len() != self.ids.len() {
            let reason = format!("{} costs applied but {} rows inserted", applied.len(), self.ids.len());
            return Err(DbErr::Custom(reason).into());
        }
        let mut answers = unanswered(calls);
        for (i, id) in applied.into_iter().zip(self.ids).rev() {
            let valid = &calls[i].0;
            let spent = self.spent.get_mut(&valid.cost.principal_id).expect("an applied principal");
            answers[i] = Some(Ok(valid.outcome(id, *spent)));
            spent.daily -= valid.amount;
            spent.monthly -= valid.amount;
        }
        Ok(answers)
    }
}

/// No answer yet for any of `calls`.
fn unanswered(calls: &[Call<'_>]) -> Vec<Option<Result<CostOutcome>>> {
    calls.iter().map(|_| None).collect()
}

#[cfg(test)]
mod tests {
    use super::{PG_KEYED_SPEND_AND_INSERT, PG_SPEND_AND_INSERT};
    use crate::ledger::spend::SPEND;

    /// `sql` without its comments, its white space folded.
    fn folded(sql: &str) -> String {
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

    /// The statement's insert of events is that of the governed calls' events in a transaction
    /// (rows of the table's record type from JSON objects, stored ones skipped), restricted to
    /// the events of the changed budgets.
    #[test]
    fn the_events_follow_only_the_changed_budgets() {
        let statement = folded(super::SPEND_AND_INSERT_MANY);
        let (_, events) = statement.split_once(", event AS (").expect("the insert of events");
        let insert = folded(crate::audit::grouped::INSERT_NEW_EVENTS);
        let (_, skip) = insert.split_once("$1::jsonb)").expect("the events' parameter");
        for part in [
            "INSERT INTO audit_events SELECT r.* FROM jsonb_array_elements($15::jsonb)",
            "jsonb_populate_record(NULL::audit_events, e) AS r",
            "WHERE ($16::varchar[])[n] IN (SELECT principal_id FROM budget)",
            skip.trim(),
        ] {
            assert!(events.contains(part), "{part} not in {events}");
        }
    }

    /// The statement's insert is the bulk insert, restricted to the changed budgets.
    #[test]
    fn the_cost_rows_follow_only_the_changed_budgets() {
        let insert = folded(crate::ledger::cost::PG_INSERT_UNNEST).replacen(
            "ORDER BY n",
            "WHERE p IN (SELECT principal_id FROM budget) ORDER BY n",
            1,
        );
        assert!(folded(super::SPEND_AND_INSERT_MANY).contains(&insert));
    }
}
