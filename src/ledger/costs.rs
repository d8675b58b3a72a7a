//! The cost ledger: charging pre-authorised work, recording costs that happened, bulk ingest.
//!
//! The amount that counts is `actual` when present (zero included), else `estimated`. The
//! cost row and the budget change commit together. A cost in the windows the budget row
//! counts takes one statement on PostgreSQL (a data-modifying CTE; one round trip when no
//! idempotency key is given, a refusal included) and one `BEGIN IMMEDIATE` transaction on
//! SQLite; a cost in any other window is checked against the ledger's own sum under the budget
//! row's lock.
//!
//! A cost stamped more than the handle's [`Clock`](crate::Clock) tolerance after now is refused
//! with `Validation { field: "timestamp" }`.

use super::bulk;
use super::cost::{Valid, cost_span};
use super::one_statement;
use super::stepwise;
use crate::trace::{operation, traced};
use crate::{Conn, Error, Result, Server};
use time::OffsetDateTime;

pub use super::cost::{CostOutcome, NewCost};

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
pub async fn charge<C: Conn>(db: &C, cost: &NewCost) -> Result<CostOutcome> {
    traced(cost_span!("costs::charge", cost), settle(db, cost, true)).await
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
pub async fn record<C: Conn>(db: &C, cost: &NewCost) -> Result<CostOutcome> {
    traced(cost_span!("costs::record", cost), settle(db, cost, false)).await
}

async fn settle<C: Conn>(db: &C, cost: &NewCost, enforce: bool) -> Result<CostOutcome> {
    let valid = Valid::new(cost, db.clock())?;
    settle_valid(db, &valid, enforce, db.clock().now(), db.as_pool().is_some()).await
}

/// Charges (`enforce`) or records a validated cost on `db`, the pool or a transaction, by
/// the routes of [`super`]: route 1 when it may apply, else route 2 (and 3 within it). With
/// `keyed_in_one` a keyed cost on PostgreSQL is first tried as one statement, which fails with
/// a unique violation when the key's first use is in flight elsewhere: allowed where that
/// failure does not abort a transaction the caller goes on with.
pub(super) async fn settle_valid<C: Conn>(
    db: &C,
    valid: &Valid<'_>,
    enforce: bool,
    now: OffsetDateTime,
    keyed_in_one: bool,
) -> Result<CostOutcome> {
    let spend = valid.spend(enforce, now);
    let key = &valid.cost.idempotency_key;
    let one_statement = db.server() == Server::Postgres && (key.is_none() || keyed_in_one);
    if one_statement {
        let applied = match key {
            None => one_statement::charge(db, valid, &spend).await?,
            Some(key) => one_statement::charge_keyed(db, valid, &spend, key, enforce).await?,
        };
        if let Some(outcome) = applied {
            return Ok(outcome);
        }
    }
    stepwise::settle(db, valid, &spend, enforce, one_statement).await
}

/// Records many costs that already happened in one transaction: one budget change per
/// principal and UTC day, oldest first, then the rows in chunks below the bind limit.
/// Idempotency keys are not taken here. Returns the number of rows written.
pub async fn record_many<C: Conn>(db: &C, costs: &[NewCost]) -> Result<u64> {
    traced(operation!(INFO, "costs::record_many", costs = costs.len()), async {
        let valid = costs.iter().map(|c| Valid::new(c, db.clock())).collect::<Result<Vec<_>>>()?;
        if valid.iter().any(|v| v.cost.idempotency_key.is_some()) {
            return Err(Error::validation("idempotency_key", "is not supported in bulk recording"));
        }
        bulk::record(db, &valid).await
    })
    .await
}
