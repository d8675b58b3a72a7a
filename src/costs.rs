//! The cost ledger: charging pre-authorised work, recording costs that happened, bulk ingest.
//!
//! The amount that counts is `actual` when present (zero included), else `estimated`. The
//! cost row and the budget change commit together: on PostgreSQL as one statement (a
//! data-modifying CTE), on SQLite as one `BEGIN IMMEDIATE` transaction.

use crate::budgets::{self, Spent};
use crate::db::{begin_write, is_postgres};
use crate::idempotency::{self, Claim};
use crate::money::{from_micros, to_micros};
use crate::window::Window;
use crate::{Error, Result, timestamp, validate};
use entity::cost_record;
use rust_decimal::Decimal;
use sea_orm::sea_query::ArrayType;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, EntityTrait, Statement,
    TransactionSession, TransactionTrait, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use time::OffsetDateTime;

/// Rows per `INSERT` in bulk recording: 7 values a row stays below SQLite's 32 766 binds.
const CHUNK_ROWS: usize = 4_000;

/// Rows per `INSERT … SELECT FROM UNNEST` on PostgreSQL, which binds one array per column.
const PG_CHUNK_ROWS: usize = 50_000;

/// PostgreSQL bulk insert: one array parameter per column, whatever the number of rows.
/// The driver binds no NULL array elements, so a missing amount travels as [`NO_AMOUNT`]
/// (amounts are never negative).
const PG_INSERT_UNNEST: &str = r#"
INSERT INTO cost_tracking ("timestamp", principal_id, resource_id, capability_id,
    estimated_cost_micros, actual_cost_micros, metadata)
SELECT t, p, r, c, NULLIF(e, -1), NULLIF(a, -1), m
FROM UNNEST($1::timestamptz[], $2::varchar[], $3::varchar[], $4::varchar[],
    $5::int8[], $6::int8[], $7::jsonb[]) AS u(t, p, r, c, e, a, m)"#;

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
    /// Spent in the principal's current daily window after this cost.
    pub daily_spent: Decimal,
    /// Spent in the principal's current monthly window after this cost.
    pub monthly_spent: Decimal,
    /// A window whose limit is now exceeded (only ever set by [`record`]).
    pub over_limit: Option<Window>,
    /// Whether this is the stored outcome of an earlier call with the same idempotency key.
    #[serde(skip)]
    pub replayed: bool,
}

/// A cost that passed validation, in micro-units.
struct Valid<'a> {
    cost: &'a NewCost,
    estimated: Option<i64>,
    actual: Option<i64>,
    amount: i64,
    at: OffsetDateTime,
}

impl<'a> Valid<'a> {
    fn new(cost: &'a NewCost) -> Result<Self> {
        validate::name("principal_id", &cost.principal_id)?;
        validate::name("resource_id", &cost.resource_id)?;
        validate::name("capability_id", &cost.capability_id)?;
        validate::json_object("metadata", &cost.metadata)?;
        if let Some(key) = &cost.idempotency_key {
            validate::name("idempotency_key", key)?;
        }
        let estimated = cost.estimated.map(|e| to_micros("estimated", e)).transpose()?;
        let actual = cost.actual.map(|a| to_micros("actual", a)).transpose()?;
        let amount = actual
            .or(estimated)
            .ok_or_else(|| Error::validation("actual", "neither actual nor estimated is given"))?;
        Ok(Valid { cost, estimated, actual, amount, at: timestamp::normalize(cost.timestamp) })
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
}

/// Charges work that is about to happen: records the cost row and adds the amount to both
/// windows only if both limits still hold; otherwise [`Error::BudgetExceeded`] and nothing is
/// written. A refused charge does not use up its idempotency key: a retry is judged afresh.
pub async fn charge<C: ConnectionTrait + TransactionTrait>(db: &C, cost: &NewCost) -> Result<CostOutcome> {
    settle(db, cost, true).await
}

/// Records a cost that already happened: always records and adds it, and reports in
/// [`CostOutcome::over_limit`] whether a limit is now exceeded.
pub async fn record<C: ConnectionTrait + TransactionTrait>(db: &C, cost: &NewCost) -> Result<CostOutcome> {
    settle(db, cost, false).await
}

async fn settle<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    cost: &NewCost,
    enforce: bool,
) -> Result<CostOutcome> {
    let valid = Valid::new(cost)?;
    if cost.idempotency_key.is_none() && is_postgres(db) {
        return apply(db, &valid, enforce).await;
    }
    let txn = begin_write(db).await?;
    if let Some(key) = &cost.idempotency_key
        && let Claim::Replay(outcome) = idempotency::claim(&txn, key, &valid.payload(enforce)).await?
    {
        return Ok(outcome);
    }
    let outcome = apply(&txn, &valid, enforce).await?;
    if let Some(key) = &cost.idempotency_key {
        idempotency::complete(&txn, key, &outcome).await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

/// PostgreSQL: the budget change and the cost row in one statement, so a charge costs one
/// round trip. Parameters `$1`–`$6` are those of [`budgets::SPEND`].
const PG_SPEND_AND_INSERT_TEMPLATE: &str = r#"
WITH budget AS ({SPEND}),
cost AS (
    INSERT INTO cost_tracking ("timestamp", principal_id, resource_id, capability_id,
        estimated_cost_micros, actual_cost_micros, metadata)
    SELECT $7, $1, $8, $9, $10, $11, $12 FROM budget
    RETURNING id)
SELECT cost.id, budget.* FROM budget, cost"#;

/// [`PG_SPEND_AND_INSERT_TEMPLATE`] with [`budgets::SPEND`] in place, built once.
static PG_SPEND_AND_INSERT: LazyLock<String> =
    LazyLock::new(|| PG_SPEND_AND_INSERT_TEMPLATE.replace("{SPEND}", budgets::SPEND));

/// Spends and inserts the cost row; atomic on PostgreSQL by itself, on SQLite inside the
/// caller's transaction.
async fn apply<C: ConnectionTrait>(db: &C, v: &Valid<'_>, enforce: bool) -> Result<CostOutcome> {
    let cost = v.cost;
    let (cost_id, spent) = if is_postgres(db) {
        let mut values = budgets::spend_values(&cost.principal_id, v.amount, v.at, enforce);
        values.extend::<[Value; 6]>([
            v.at.into(),
            cost.resource_id.clone().into(),
            cost.capability_id.clone().into(),
            v.estimated.into(),
            v.actual.into(),
            cost.metadata.clone().into(),
        ]);
        let sql = PG_SPEND_AND_INSERT.replace("{SPEND}", budgets::SPEND);
        match db.query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await?
        {
            Some(row) => (row.try_get::<i64>("", "id")?, Spent::from_row(&row)?),
            None => return Err(refusal(db, v).await),
        }
    } else {
        match budgets::spend(db, &cost.principal_id, v.amount, v.at, enforce).await? {
            Some(spent) => (v.row().insert(db).await?.id, spent),
            None => return Err(refusal(db, v).await),
        }
    };
    Ok(CostOutcome {
        cost_id,
        amount: from_micros(v.amount),
        daily_spent: from_micros(spent.daily),
        monthly_spent: from_micros(spent.monthly),
        over_limit: spent.over_limit(),
        replayed: false,
    })
}

/// The [`Error::BudgetExceeded`] for a refused charge, naming the window that refused it.
async fn refusal<C: ConnectionTrait>(db: &C, v: &Valid<'_>) -> Error {
    let status = match budgets::status(db, &v.cost.principal_id, v.at).await {
        Ok(status) => status,
        Err(e) => return e,
    };
    let requested = from_micros(v.amount);
    let daily = status.window(Window::Daily);
    let window = match daily.limit {
        Some(limit) if daily.spent + requested > limit => Window::Daily,
        _ => Window::Monthly,
    };
    let w = status.window(window);
    Error::BudgetExceeded { window, limit: w.limit.unwrap_or_default(), spent: w.spent, requested }
}

/// Inserts `rows` as one `UNNEST` statement (PostgreSQL).
async fn insert_unnest<C: ConnectionTrait>(db: &C, rows: &[Valid<'_>]) -> Result<()> {
    fn array<T>(ty: ArrayType, rows: &[Valid<'_>], f: impl Fn(&Valid<'_>) -> T) -> Value
    where
        T: Into<Value>,
    {
        Value::Array(ty, Some(Box::new(rows.iter().map(|v| f(v).into()).collect())))
    }
    let values = vec![
        array(ArrayType::TimeDateTimeWithTimeZone, rows, |v| v.at),
        array(ArrayType::String, rows, |v| v.cost.principal_id.clone()),
        array(ArrayType::String, rows, |v| v.cost.resource_id.clone()),
        array(ArrayType::String, rows, |v| v.cost.capability_id.clone()),
        array(ArrayType::BigInt, rows, |v| v.estimated.unwrap_or(NO_AMOUNT)),
        array(ArrayType::BigInt, rows, |v| v.actual.unwrap_or(NO_AMOUNT)),
        array(ArrayType::Json, rows, |v| v.cost.metadata.clone()),
    ];
    db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), PG_INSERT_UNNEST, values))
        .await?;
    Ok(())
}

/// Records many costs that already happened in one transaction: rows in chunks below the bind
/// limit, then one budget change per principal and UTC day, oldest first. Idempotency keys
/// are not taken here. Returns the number of rows written.
pub async fn record_many<C: ConnectionTrait + TransactionTrait>(db: &C, costs: &[NewCost]) -> Result<u64> {
    let valid = costs.iter().map(Valid::new).collect::<Result<Vec<_>>>()?;
    if valid.iter().any(|v| v.cost.idempotency_key.is_some()) {
        return Err(Error::validation("idempotency_key", "is not supported in bulk recording"));
    }
    let mut per_day: BTreeMap<(OffsetDateTime, &str), (OffsetDateTime, i64)> = BTreeMap::new();
    for v in &valid {
        let entry =
            per_day.entry((Window::Daily.start(v.at), v.cost.principal_id.as_str())).or_insert((v.at, 0));
        entry.1 =
            entry.1.checked_add(v.amount).ok_or_else(|| Error::validation("actual", "sum overflows"))?;
    }
    let txn = begin_write(db).await?;
    if is_postgres(db) {
        for chunk in valid.chunks(PG_CHUNK_ROWS) {
            insert_unnest(&txn, chunk).await?;
        }
    } else {
        for chunk in valid.chunks(CHUNK_ROWS) {
            cost_record::Entity::insert_many(chunk.iter().map(Valid::row))
                .exec_without_returning(&txn)
                .await?;
        }
    }
    for ((_, principal_id), (at, amount)) in per_day {
        budgets::spend(&txn, principal_id, amount, at, false).await?;
    }
    txn.commit().await?;
    Ok(valid.len() as u64)
}
