//! Cost summaries, aggregated in SQL: totals, groupings and the top spenders.

use crate::Conn;
use crate::ledger::money::from_micros;
use crate::trace::{operation, traced};
use crate::{Result, validate};
use entity::cost_record::{Column, Entity};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Which ledger rows a summary covers; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostFilter {
    /// Only this principal.
    pub principal_id: Option<String>,
    /// Only this resource.
    pub resource_id: Option<String>,
    /// Only this capability.
    pub capability_id: Option<String>,
    /// Rows stamped at or after this instant.
    #[serde(with = "time::serde::rfc3339::option")]
    pub from: Option<OffsetDateTime>,
    /// Rows stamped before this instant.
    #[serde(with = "time::serde::rfc3339::option")]
    pub to: Option<OffsetDateTime>,
}

/// A sum of costs and how many rows it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    /// The group (a UTC day `YYYY-MM-DD`, or a principal, resource or capability id); empty for
    /// an ungrouped total.
    pub key: String,
    /// Sum of the amounts that count (`actual`, else `estimated`).
    pub amount: Decimal,
    /// Number of ledger rows.
    pub count: i64,
}

/// What to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The UTC calendar day of the timestamp.
    Day,
    /// The principal.
    Principal,
    /// The resource.
    Resource,
    /// The capability.
    Capability,
}

/// The SQL sum of the amounts that count (`actual` when present, zero included, else
/// `estimated`), as `BIGINT` micro-units.
fn amount_sum() -> Expr {
    Expr::cust("CAST(COALESCE(SUM(COALESCE(actual_cost_micros, estimated_cost_micros)), 0) AS BIGINT)")
}

/// The sum of the rows `filter` selects, in micro-units.
pub(crate) async fn sum_micros<C: ConnectionTrait>(db: &C, filter: &CostFilter) -> Result<i64> {
    Ok(amount_and_count(db, filter).await?.0)
}

/// The sum in micro-units and the number of the rows `filter` selects.
async fn amount_and_count<C: ConnectionTrait>(db: &C, filter: &CostFilter) -> Result<(i64, i64)> {
    Ok(filtered(filter).into_tuple().one(db).await?.unwrap_or_default())
}

/// Sums per principal and UTC day (`YYYY-MM-DD`) of the rows in `[from, to)` (`to = None`:
/// no end), in micro-units.
pub(crate) async fn by_principal_and_day<C: ConnectionTrait>(
    db: &C,
    from: OffsetDateTime,
    to: Option<OffsetDateTime>,
) -> Result<Vec<(String, String, i64)>> {
    let backend = db.get_database_backend();
    let day = group_key(backend, GroupBy::Day);
    let filter = CostFilter { from: Some(from), to, ..Default::default() };
    let rows: Vec<(i64, i64, String, String)> = filtered(&filter)
        .column_as(Column::PrincipalId, "principal_id")
        .column_as(day.clone(), "day")
        .group_by(Column::PrincipalId)
        .group_by(day)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(amount, _count, principal, day)| (principal, day, amount)).collect())
}

/// Refuses filter values no stored row can hold.
fn check(filter: &CostFilter) -> Result<()> {
    validate::optional_key("principal_id", filter.principal_id.as_deref())?;
    validate::optional_key("resource_id", filter.resource_id.as_deref())?;
    validate::optional_key("capability_id", filter.capability_id.as_deref())
}

fn filtered(filter: &CostFilter) -> Select<Entity> {
    let mut query = Entity::find().select_only();
    if let Some(p) = &filter.principal_id {
        query = query.filter(Column::PrincipalId.eq(p));
    }
    if let Some(r) = &filter.resource_id {
        query = query.filter(Column::ResourceId.eq(r));
    }
    if let Some(c) = &filter.capability_id {
        query = query.filter(Column::CapabilityId.eq(c));
    }
    if let Some(from) = filter.from {
        query = query.filter(Column::Timestamp.gte(crate::timestamp::normalize(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(Column::Timestamp.lt(crate::timestamp::normalize(to)));
    }
    query.column_as(amount_sum(), "amount").column_as(Expr::cust("COUNT(*)"), "count")
}

/// Total and count of the rows `filter` selects.
pub async fn total<C: Conn>(db: &C, filter: &CostFilter) -> Result<Total> {
    traced(operation!(DEBUG, "summaries::total", principal_id = filter.principal_id.as_deref()), async {
        check(filter)?;
        let (amount, count) = amount_and_count(db, filter).await?;
        Ok(Total { key: String::new(), amount: from_micros(amount), count })
    })
    .await
}

/// Totals of the rows `filter` selects, one per group, ordered by group key.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// # let db = sark_db::connect("sqlite::memory:").await?;
/// # sark_db::migrate(&db).await?;
/// use rust_decimal::dec;
/// use sark_db::ledger::costs::{self, NewCost};
/// use sark_db::ledger::summaries::{self, CostFilter, GroupBy};
///
/// for (principal, amount) in [("ann", dec!(1)), ("bob", dec!(2)), ("ann", dec!(0.5))] {
///     costs::record(&db, &NewCost::new(principal, "search-api", "query").actual(amount)).await?;
/// }
/// let totals = summaries::grouped(&db, &CostFilter::default(), GroupBy::Principal).await?;
/// let sums: Vec<_> = totals.iter().map(|t| (t.key.as_str(), t.amount, t.count)).collect();
/// assert_eq!(sums, [("ann", dec!(1.5), 2), ("bob", dec!(2), 1)]);
/// # Ok(())
/// # }
/// ```
pub async fn grouped<C: Conn>(db: &C, filter: &CostFilter, by: GroupBy) -> Result<Vec<Total>> {
    traced(
        operation!(DEBUG, "summaries::grouped", principal_id = filter.principal_id.as_deref(), by = ?by),
        async {
            check(filter)?;
            let key = group_key(db.get_database_backend(), by);
            let query =
                filtered(filter).column_as(key.clone(), "key").group_by(key.clone()).order_by_asc(key);
            collect(query.into_tuple().all(db).await?)
        },
    )
    .await
}

/// The `n` principals who spent most in `[from, to)`, biggest first (ties by principal id).
pub async fn top_principals<C: Conn>(
    db: &C,
    from: OffsetDateTime,
    to: OffsetDateTime,
    n: u64,
) -> Result<Vec<Total>> {
    traced(operation!(DEBUG, "summaries::top_principals"), async {
        let filter = CostFilter { from: Some(from), to: Some(to), ..Default::default() };
        let query = filtered(&filter)
            .column_as(Column::PrincipalId, "key")
            .group_by(Column::PrincipalId)
            .order_by_desc(amount_sum())
            .order_by_asc(Column::PrincipalId)
            .limit(n);
        collect(query.into_tuple().all(db).await?)
    })
    .await
}

fn collect(rows: Vec<(i64, i64, String)>) -> Result<Vec<Total>> {
    Ok(rows
        .into_iter()
        .map(|(amount, count, key)| Total { key, amount: from_micros(amount), count })
        .collect())
}

/// The grouping expression; days are cut from UTC timestamps.
fn group_key(backend: DbBackend, by: GroupBy) -> Expr {
    match (by, backend) {
        (GroupBy::Day, DbBackend::Postgres) => {
            Expr::cust(r#"to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD')"#)
        }
        (GroupBy::Day, _) => Expr::cust(r#"substr("timestamp", 1, 10)"#),
        (GroupBy::Principal, _) => Expr::col(Column::PrincipalId),
        (GroupBy::Resource, _) => Expr::col(Column::ResourceId),
        (GroupBy::Capability, _) => Expr::col(Column::CapabilityId),
    }
}
