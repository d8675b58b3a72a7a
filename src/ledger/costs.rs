//! The cost ledger: charging pre-authorised work, recording costs that happened, bulk ingest.
//!
//! The amount that counts is `actual` when present (zero included), else `estimated`. The
//! cost row and the budget change commit together. A cost in the windows the budget row
//! counts takes one statement on PostgreSQL (a data-modifying CTE; one round trip when no
//! idempotency key is given) and one `BEGIN IMMEDIATE` transaction on SQLite; a cost in any
//! other window is checked against the ledger's own sum under the budget row's lock.
//!
//! A cost stamped more than the [`Clock`]'s tolerance after now is refused with
//! `Validation { field: "timestamp" }`; the `…_with` functions take the clock, the others use
//! [`Clock::default`].

use super::grouped;
use super::idempotency::{self, Claim};
use super::money::{from_micros, to_micros};
use super::spend::{self, PG_KEYED_SPEND_AND_INSERT, PG_SPEND_AND_INSERT, Spend, Spent};
use crate::Window;
use crate::db::{Server, as_pool, begin_write, is_postgres, server};
use crate::timestamp::stored;
use crate::trace::{self, operation, traced};
use crate::{Clock, Error, Result, timestamp, validate};
use entity::cost_record;
use rust_decimal::Decimal;
use sea_orm::sea_query::ArrayType;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, EntityTrait, SqlErr, Statement,
    TransactionSession, TransactionTrait, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Rows per `INSERT` in bulk recording: 7 values a row stays below SQLite's 32 766 binds.
const CHUNK_ROWS: usize = 4_000;

/// Rows per `INSERT … SELECT FROM UNNEST` on PostgreSQL, which binds one array per column.
const PG_CHUNK_ROWS: usize = 50_000;

/// PostgreSQL bulk insert ([`sql/insert_costs.pg.sql`](self)): one array parameter per
/// column, whatever the number of rows, the rows inserted in their order. The driver binds no
/// NULL array elements, so a missing amount travels as [`NO_AMOUNT`] (amounts are never
/// negative).
pub(super) const PG_INSERT_UNNEST: &str = include_str!("sql/insert_costs.pg.sql");

/// Stands for a missing amount in [`PG_INSERT_UNNEST`].
const NO_AMOUNT: i64 = -1;

/// A cost to charge or record. Build with [`NewCost::new`] and the setters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCost {
    /// Who incurs the cost.
    pub principal_id: String,
    /// Resource invoked.
    pub resource_id: String,
    /// Capability invoked.
    pub capability_id: String,
    /// Estimate, in the principal's budget currency.
    pub estimated: Option<Decimal>,
    /// Actual cost; when present (zero included) it is the amount that counts.
    pub actual: Option<Decimal>,
    /// Free-form data, a JSON object.
    pub metadata: Json,
    /// When the cost is incurred; decides the budget windows. Defaults to now.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// Makes retries safe: the same key and request return the first outcome.
    pub idempotency_key: Option<String>,
}

impl NewCost {
    /// A cost of `principal_id` for `capability_id` of `resource_id`, stamped now, no amounts yet.
    pub fn new(
        principal_id: impl Into<String>,
        resource_id: impl Into<String>,
        capability_id: impl Into<String>,
    ) -> Self {
        NewCost {
            principal_id: principal_id.into(),
            resource_id: resource_id.into(),
            capability_id: capability_id.into(),
            estimated: None,
            actual: None,
            metadata: json!({}),
            timestamp: timestamp::now(),
            idempotency_key: None,
        }
    }

    /// Sets the estimate.
    pub fn estimated(mut self, amount: Decimal) -> Self {
        self.estimated = Some(amount);
        self
    }

    /// Sets the actual cost.
    pub fn actual(mut self, amount: Decimal) -> Self {
        self.actual = Some(amount);
        self
    }

    /// Sets the metadata object.
    pub fn metadata(mut self, metadata: Json) -> Self {
        self.metadata = metadata;
        self
    }

    /// Stamps the cost at `at` instead of now.
    pub fn at(mut self, at: OffsetDateTime) -> Self {
        self.timestamp = at;
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// What a charge or record did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostOutcome {
    /// Id of the ledger row.
    pub cost_id: i64,
    /// The amount that counted.
    pub amount: Decimal,
    /// Spent in the UTC day of the cost's own timestamp, counting it.
    pub daily_spent: Decimal,
    /// Spent in the UTC month of the cost's own timestamp, counting it.
    pub monthly_spent: Decimal,
    /// A window whose limit is now exceeded (only ever set by [`record`]).
    pub over_limit: Option<Window>,
    /// Whether this is the stored outcome of an earlier call with the same idempotency key.
    #[serde(skip)]
    pub replayed: bool,
}

/// A cost that passed validation, in micro-units.
#[derive(Clone, Copy)]
pub(super) struct Valid<'a> {
    pub(super) cost: &'a NewCost,
    pub(super) estimated: Option<i64>,
    pub(super) actual: Option<i64>,
    pub(super) amount: i64,
    /// `actual` or `estimated`: the field the amount comes from.
    pub(super) field: &'static str,
    pub(super) at: OffsetDateTime,
}

impl<'a> Valid<'a> {
    pub(super) fn new(cost: &'a NewCost, clock: &Clock) -> Result<Self> {
        validate::name("principal_id", &cost.principal_id)?;
        validate::name("resource_id", &cost.resource_id)?;
        validate::name("capability_id", &cost.capability_id)?;
        validate::json_object("metadata", &cost.metadata)?;
        if let Some(key) = &cost.idempotency_key {
            validate::name("idempotency_key", key)?;
        }
        let estimated = cost.estimated.map(|e| to_micros("estimated", e)).transpose()?;
        let actual = cost.actual.map(|a| to_micros("actual", a)).transpose()?;
        let (amount, field) = match (actual, estimated) {
            (Some(actual), _) => (actual, "actual"),
            (None, Some(estimated)) => (estimated, "estimated"),
            (None, None) => return Err(Error::validation("actual", "neither actual nor estimated is given")),
        };
        let at = timestamp::normalize(cost.timestamp);
        clock.check(at)?;
        Ok(Valid { cost, estimated, actual, amount, field, at })
    }

    /// The request as compared for idempotency: everything but the timestamp, canonical JSON.
    fn payload(&self, enforce: bool) -> String {
        json!({
            "kind": if enforce { "charge" } else { "record" },
            "principal_id": self.cost.principal_id,
            "resource_id": self.cost.resource_id,
            "capability_id": self.cost.capability_id,
            "estimated_micros": self.estimated,
            "actual_micros": self.actual,
            "metadata": self.cost.metadata,
        })
        .to_string()
    }

    /// This cost's change to its principal's budget.
    pub(super) fn spend(&self, enforce: bool, now: OffsetDateTime) -> Spend<'_> {
        Spend {
            principal_id: &self.cost.principal_id,
            amount: self.amount,
            field: self.field,
            at: self.at,
            now,
            enforce,
            unrecorded_in_month: 0,
        }
    }

    /// The parameters `$8`–`$13` of the cost row in [`PG_SPEND_AND_INSERT`].
    fn cost_values(&self) -> [Value; 6] {
        [
            self.at.into(),
            self.cost.resource_id.clone().into(),
            self.cost.capability_id.clone().into(),
            self.estimated.into(),
            self.actual.into(),
            self.cost.metadata.clone().into(),
        ]
    }

    fn row(&self) -> cost_record::ActiveModel {
        cost_record::ActiveModel {
            id: NotSet,
            timestamp: Set(self.at),
            principal_id: Set(self.cost.principal_id.clone()),
            resource_id: Set(self.cost.resource_id.clone()),
            capability_id: Set(self.cost.capability_id.clone()),
            estimated_cost_micros: Set(self.estimated),
            actual_cost_micros: Set(self.actual),
            metadata: Set(self.cost.metadata.clone()),
        }
    }

    pub(super) fn outcome(&self, cost_id: i64, spent: Spent) -> CostOutcome {
        CostOutcome {
            cost_id,
            amount: from_micros(self.amount),
            daily_spent: from_micros(spent.daily),
            monthly_spent: from_micros(spent.monthly),
            over_limit: spent.over_limit(),
            replayed: false,
        }
    }
}

/// The span of one charge or record: the cost's principal, resource and capability.
macro_rules! cost_span {
    ($name:literal, $cost:expr) => {
        $crate::trace::operation!(
            INFO,
            $name,
            principal_id = %$cost.principal_id,
            resource_id = %$cost.resource_id,
            capability_id = %$cost.capability_id
        )
    };
}
pub(super) use cost_span;

/// Charges work that is about to happen: records the cost row and adds the amount to its
/// windows only if, counting it, the day and the month of its timestamp stay within their
/// limits; otherwise [`Error::BudgetExceeded`] and nothing is written. A refused charge does
/// not use up its idempotency key: a retry is judged afresh.
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
/// budgets::set_limits(&db, "ann", &Limits { daily: Some(dec!(1)), monthly: None, currency: "USD".into() }).await?;
/// let call = NewCost::new("ann", "search-api", "query").estimated(dec!(0.6));
/// assert_eq!(costs::charge(&db, &call).await?.daily_spent, dec!(0.6));
/// assert!(matches!(costs::charge(&db, &call).await, Err(sark_db::Error::BudgetExceeded { .. })));
/// # Ok(())
/// # }
/// ```
pub async fn charge<C: ConnectionTrait + TransactionTrait + 'static>(
    db: &C,
    cost: &NewCost,
) -> Result<CostOutcome> {
    charge_with(db, cost, &Clock::default()).await
}

/// [`charge`] with the current time and tolerance taken from `clock`.
pub async fn charge_with<C: ConnectionTrait + TransactionTrait + 'static>(
    db: &C,
    cost: &NewCost,
    clock: &Clock,
) -> Result<CostOutcome> {
    traced(cost_span!("costs::charge", cost), settle(db, cost, true, clock)).await
}

/// Records a cost that already happened: always records it in the windows of its timestamp,
/// and reports in [`CostOutcome::over_limit`] a window of that timestamp that is now over.
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
/// budgets::set_limits(&db, "ann", &Limits { daily: Some(dec!(1)), monthly: None, currency: "USD".into() }).await?;
/// let outcome = costs::record(&db, &NewCost::new("ann", "search-api", "query").actual(dec!(1.5))).await?;
/// assert_eq!(outcome.over_limit, Some(sark_db::Window::Daily)); // recorded all the same
/// # Ok(())
/// # }
/// ```
pub async fn record<C: ConnectionTrait + TransactionTrait + 'static>(
    db: &C,
    cost: &NewCost,
) -> Result<CostOutcome> {
    record_with(db, cost, &Clock::default()).await
}

/// [`record`] with the current time and tolerance taken from `clock`.
pub async fn record_with<C: ConnectionTrait + TransactionTrait + 'static>(
    db: &C,
    cost: &NewCost,
    clock: &Clock,
) -> Result<CostOutcome> {
    traced(cost_span!("costs::record", cost), settle(db, cost, false, clock)).await
}

async fn settle<C: ConnectionTrait + TransactionTrait + 'static>(
    db: &C,
    cost: &NewCost,
    enforce: bool,
    clock: &Clock,
) -> Result<CostOutcome> {
    let valid = Valid::new(cost, clock)?;
    let server = server(db).await?;
    settle_valid(db, &valid, enforce, clock.now(), as_pool(db).is_some(), server).await
}

/// Charges (`enforce`) or records a validated cost on `db`, the pool or a transaction of
/// `server`. With `keyed_in_one` a keyed cost on PostgreSQL is first tried as one statement,
/// which fails with a unique violation when the key's first use is in flight elsewhere:
/// allowed where that failure does not abort a transaction the caller goes on with.
pub(super) async fn settle_valid<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    valid: &Valid<'_>,
    enforce: bool,
    now: OffsetDateTime,
    keyed_in_one: bool,
    server: Server,
) -> Result<CostOutcome> {
    let cost = valid.cost;
    let spend = valid.spend(enforce, now);
    // The common case on PostgreSQL: one statement, no transaction around it. When it did
    // not apply, the transaction below goes straight to the locked path, which judges any
    // state of the budget row.
    let mut fast_tried = false;
    if server == Server::Postgres {
        let done = match &cost.idempotency_key {
            None => fast(&stored(db), valid, &spend, server).await?,
            Some(key) if keyed_in_one => fast_keyed(&stored(db), valid, &spend, key, enforce).await?,
            Some(_) => None,
        };
        if let Some(outcome) = done {
            return Ok(outcome);
        }
        fast_tried = cost.idempotency_key.is_none() || keyed_in_one;
    }
    let txn = begin_write(db).await?;
    let tx = &stored(&txn);
    let principal = &cost.principal_id;
    if let Some(key) = &cost.idempotency_key
        && let Claim::Replay(outcome) =
            idempotency::claim(tx, principal, key, &valid.payload(enforce)).await?
    {
        return Ok(outcome);
    }
    let outcome = match if fast_tried { None } else { fast(tx, valid, &spend, server).await? } {
        Some(outcome) => outcome,
        None => {
            let spent = spend::locked(tx, &spend).await?;
            valid.outcome(valid.row().insert(tx).await?.id, spent)
        }
    };
    if let Some(key) = &cost.idempotency_key {
        idempotency::complete(tx, principal, key, &outcome).await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

/// The fast path: the spend in the windows the budget row counts, and the cost row; `None`
/// when the spend did not apply. Atomic on PostgreSQL by itself (one statement), on SQLite
/// and Citus (two statements) inside the caller's transaction.
async fn fast<C: ConnectionTrait>(
    db: &C,
    v: &Valid<'_>,
    spend: &Spend<'_>,
    server: Server,
) -> Result<Option<CostOutcome>> {
    if server != Server::Postgres {
        return match spend::fast(db, spend).await? {
            Some(spent) => Ok(Some(v.outcome(v.row().insert(db).await?.id, spent))),
            None => Ok(None),
        };
    }
    let mut values = spend.values(true);
    values.extend(v.cost_values());
    let stmt = Statement::from_sql_and_values(db.get_database_backend(), PG_SPEND_AND_INSERT, values);
    match db.query_one_raw(stmt).await? {
        Some(row) => Ok(Some(v.outcome(row.try_get("", "id")?, Spent::from_row(&row)?))),
        None => Ok(None),
    }
}

/// PostgreSQL: a keyed cost in one statement. The first outcome (or
/// [`Conflict::IdempotencyKeyReused`]) when the key was used before; `None` when the spend did
/// not apply or the key's first use is in flight elsewhere (then nothing was written).
async fn fast_keyed<C: ConnectionTrait>(
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
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => return Ok(None),
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

/// Inserts `rows` as one `UNNEST` statement (PostgreSQL); returns their ids, in order.
pub(super) async fn insert_unnest<C: ConnectionTrait>(db: &C, rows: &[&Valid<'_>]) -> Result<Vec<i64>> {
    let stmt =
        Statement::from_sql_and_values(db.get_database_backend(), PG_INSERT_UNNEST, unnest_values(rows));
    let rows = db.query_all_raw(stmt).await?;
    Ok(sorted_ids(rows.iter().map(|row| row.try_get_by_index(0)))?)
}

/// The parameters `$1`–`$7` of [`PG_INSERT_UNNEST`]: one array per column.
pub(super) fn unnest_values(rows: &[&Valid<'_>]) -> Vec<Value> {
    fn array<T>(ty: ArrayType, rows: &[&Valid<'_>], f: impl Fn(&Valid<'_>) -> T) -> Value
    where
        T: Into<Value>,
    {
        Value::Array(ty, Some(Box::new(rows.iter().map(|v| f(v).into()).collect())))
    }
    vec![
        array(ArrayType::TimeDateTimeWithTimeZone, rows, |v| v.at),
        array(ArrayType::String, rows, |v| v.cost.principal_id.clone()),
        array(ArrayType::String, rows, |v| v.cost.resource_id.clone()),
        array(ArrayType::String, rows, |v| v.cost.capability_id.clone()),
        array(ArrayType::BigInt, rows, |v| v.estimated.unwrap_or(NO_AMOUNT)),
        array(ArrayType::BigInt, rows, |v| v.actual.unwrap_or(NO_AMOUNT)),
        array(ArrayType::Json, rows, |v| v.cost.metadata.clone()),
    ]
}

/// The ids [`PG_INSERT_UNNEST`] returned, in the order of its rows: the identity draws
/// increasing ids as the rows are inserted, in their order, so sorted, the ids are the rows',
/// whatever order RETURNING lists them in.
pub(super) fn sorted_ids<E>(ids: impl Iterator<Item = Result<i64, E>>) -> Result<Vec<i64>, E> {
    let mut ids = ids.collect::<Result<Vec<i64>, E>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Inserts `rows` in chunks below the bind limit.
async fn insert_rows<C: ConnectionTrait>(txn: &C, rows: &[&Valid<'_>]) -> Result<()> {
    if is_postgres(txn) {
        for chunk in rows.chunks(PG_CHUNK_ROWS) {
            insert_unnest(txn, chunk).await?;
        }
    } else {
        for chunk in rows.chunks(CHUNK_ROWS) {
            cost_record::Entity::insert_many(chunk.iter().map(|v| v.row()))
                .exec_without_returning(txn)
                .await?;
        }
    }
    Ok(())
}

/// Records many costs that already happened in one transaction: one budget change per
/// principal and UTC day, oldest first, then the rows in chunks below the bind limit.
/// Idempotency keys are not taken here. Returns the number of rows written.
pub async fn record_many<C: ConnectionTrait + TransactionTrait + 'static>(
    db: &C,
    costs: &[NewCost],
) -> Result<u64> {
    record_many_with(db, costs, &Clock::default()).await
}

/// [`record_many`] with the current time and tolerance taken from `clock`.
pub async fn record_many_with<C: ConnectionTrait + TransactionTrait + 'static>(
    db: &C,
    costs: &[NewCost],
    clock: &Clock,
) -> Result<u64> {
    traced(operation!(INFO, "costs::record_many", costs = costs.len()), async {
        let valid = costs.iter().map(|c| Valid::new(c, clock)).collect::<Result<Vec<_>>>()?;
        if valid.iter().any(|v| v.cost.idempotency_key.is_some()) {
            return Err(Error::validation("idempotency_key", "is not supported in bulk recording"));
        }
        let mut groups: BTreeMap<(OffsetDateTime, &str), Vec<&Valid<'_>>> = BTreeMap::new();
        for v in &valid {
            groups.entry((Window::Daily.start(v.at), v.cost.principal_id.as_str())).or_default().push(v);
        }
        let now = clock.now();
        let spends = day_spends(&groups, now)?;
        let server = server(db).await?;
        let rows: Vec<&Valid<'_>> = groups.into_values().flatten().collect();
        // PostgreSQL: all budget changes in one statement unless a day is older than its row's
        // windows (a back-fill: then they would not apply together in a second try either);
        // on the pool with the rows by COPY.
        #[cfg(feature = "postgres")]
        let copy_tried = match as_pool(db).filter(|_| server == Server::Postgres) {
            Some(pool)
                if super::copy::record(pool.get_postgres_connection_pool(), &spends, &rows, now).await? =>
            {
                trace::rows(rows.len());
                return Ok(rows.len() as u64);
            }
            Some(_) => true,
            None => false,
        };
        #[cfg(not(feature = "postgres"))]
        let copy_tried = false;
        let txn = begin_write(db).await?;
        let tx = &stored(&txn);
        if !(server == Server::Postgres && !copy_tried && grouped::add_all(tx, &spends, now).await?) {
            for spend in &spends {
                if spend::fast(tx, spend).await?.is_none() {
                    spend::locked(tx, spend).await?;
                }
            }
        }
        insert_rows(tx, &rows).await?;
        txn.commit().await?;
        trace::rows(rows.len());
        Ok(rows.len() as u64)
    })
    .await
}

/// One budget change per principal and UTC day of `groups`, oldest first, each knowing what
/// the earlier days of its month add; refused when a sum would pass the largest storable.
fn day_spends<'a>(
    groups: &BTreeMap<(OffsetDateTime, &'a str), Vec<&'a Valid<'a>>>,
    now: OffsetDateTime,
) -> Result<Vec<Spend<'a>>> {
    let mut unrecorded: BTreeMap<(OffsetDateTime, &str), i64> = BTreeMap::new();
    let mut spends = Vec::with_capacity(groups.len());
    for ((day, principal), rows) in groups {
        let overflow = || {
            Error::validation(rows[0].field, "the costs of one principal sum past the largest storable sum")
        };
        let amount = rows.iter().try_fold(0i64, |sum, v| sum.checked_add(v.amount)).ok_or_else(overflow)?;
        let month = unrecorded.entry((Window::Monthly.start(*day), principal)).or_default();
        spends.push(Spend { amount, unrecorded_in_month: *month, ..rows[0].spend(false, now) });
        *month = month.checked_add(amount).ok_or_else(overflow)?;
    }
    Ok(spends)
}
