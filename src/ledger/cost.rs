//! A cost as every route of the ledger takes it: the input ([`NewCost`]), the outcome
//! ([`CostOutcome`]), the validated form ([`Valid`]), and its ledger row, inserted alone or
//! many at once ([`insert_unnest`]). Imports no route.

use super::money::{from_micros, to_micros};
use super::spend::{Spend, Spent};
use crate::{Clock, Error, Result, Window, timestamp, validate};
use entity::cost_record;
use rust_decimal::Decimal;
use sea_orm::sea_query::ArrayType;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, Statement, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use time::OffsetDateTime;

/// PostgreSQL bulk insert ([`sql/insert_costs.pg.sql`](self)): one array parameter per
/// column, whatever the number of rows, the rows inserted in their order. The driver binds no
/// NULL array elements, so a missing amount travels as [`NO_AMOUNT`] (amounts are never
/// negative).
pub(super) const PG_INSERT_UNNEST: &str = include_str!("sql/insert_costs.pg.sql");

/// Stands for a missing amount in [`PG_INSERT_UNNEST`].
const NO_AMOUNT: i64 = -1;

/// One call of a group: the cost and whether it is a charge.
pub(super) type Call<'a> = (Valid<'a>, bool);

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
    /// A window whose limit is now exceeded (only ever set by
    /// [`record`](super::costs::record)).
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
    pub(super) fn payload(&self, enforce: bool) -> String {
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

    /// The parameters `$8`–`$13` of the cost row in the one-statement charges
    /// ([`sql/charge.pg.sql`](super::one_statement)).
    pub(super) fn cost_values(&self) -> [Value; 6] {
        [
            self.at.into(),
            self.cost.resource_id.clone().into(),
            self.cost.capability_id.clone().into(),
            self.estimated.into(),
            self.actual.into(),
            self.cost.metadata.clone().into(),
        ]
    }

    /// The ledger row of this cost.
    pub(super) fn row(&self) -> cost_record::ActiveModel {
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

    /// The outcome of this cost, stored as `cost_id`, after `spent`.
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
