//! Route 2 (see the table in [`super`]): one write transaction, statement by statement — how
//! SQLite and Citus take every cost, and PostgreSQL whatever route 1 left (a keyed cost inside
//! a caller's transaction, a key in flight elsewhere, a cost its statement did not apply).
//!
//! In order: the idempotency key is claimed (a committed use replays its outcome); the spend
//! statement runs with the cost row's insert — on PostgreSQL as route 1's one statement, else
//! [`sql/spend.sql`](self) and then the insert, each on the principal's one shard on Citus;
//! when the spend did not apply, route 3 ([`locked::spend`]) judges the cost; the key stores
//! its outcome; commit.

use super::cost::{CostOutcome, Valid};
use super::idempotency::{self, Claim};
use super::locked;
use super::one_statement;
use super::spend::{SPEND, Spend, Spent};
use crate::{Conn, Result, Server};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Statement};

/// Settles `valid` (a charge when `enforce`) in a write transaction of `db` (a savepoint inside
/// a caller's transaction). `statement_tried`: route 1's statement already ran on the pool and
/// did not apply, so the spend goes straight to the locked route.
pub(super) async fn settle<C: Conn>(
    db: &C,
    valid: &Valid<'_>,
    spend: &Spend<'_>,
    enforce: bool,
    statement_tried: bool,
) -> Result<CostOutcome> {
    let txn = db.begin_write().await?;
    let principal = &valid.cost.principal_id;
    if let Some(key) = &valid.cost.idempotency_key
        && let Claim::Replay(outcome) =
            idempotency::claim(&txn, principal, key, &valid.payload(enforce)).await?
    {
        return Ok(outcome);
    }
    let applied = if statement_tried { None } else { spend_and_insert(&txn, valid, spend).await? };
    let outcome = match applied {
        Some(outcome) => outcome,
        None => {
            let spent = locked::spend(&txn, spend).await?;
            valid.outcome(valid.row().insert(&txn).await?.id, spent)
        }
    };
    if let Some(key) = &valid.cost.idempotency_key {
        idempotency::complete(&txn, principal, key, &outcome).await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

/// The spend in the windows the budget row counts, and the cost row; `None`, with nothing
/// written, when the spend did not apply.
async fn spend_and_insert<C: Conn>(tx: &C, v: &Valid<'_>, spend: &Spend<'_>) -> Result<Option<CostOutcome>> {
    if tx.server() == Server::Postgres {
        return one_statement::charge(tx, v, spend).await;
    }
    match counted(tx, spend).await? {
        Some(spent) => Ok(Some(v.outcome(v.row().insert(tx).await?.id, spent))),
        None => Ok(None),
    }
}

/// [`SPEND`] for a cost in the row's windows or newer ones. `None` when it did not apply (an
/// older window, a limit, or an overflow): then take [`locked::spend`].
pub(super) async fn counted<C: ConnectionTrait>(db: &C, spend: &Spend<'_>) -> Result<Option<Spent>> {
    let stmt = Statement::from_sql_and_values(db.get_database_backend(), SPEND, spend.values(true));
    db.query_one_raw(stmt).await?.as_ref().map(Spent::from_row).transpose()
}
