//! Exactly-once cost recording: a caller key is claimed in the same transaction that records
//! the cost, together with the request it came with and the outcome it produced.

use crate::costs::CostOutcome;
use crate::{Error, Result};
use entity::cost_idempotency_key::{ActiveModel, Column, Entity};
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// What claiming a key found.
pub(crate) enum Claim {
    /// The key is new and now held by this transaction.
    New,
    /// The key was used before with the same request: its first outcome.
    Replay(CostOutcome),
}

/// Claims `key` for a request whose canonical form is `payload`. A key already used with
/// another payload is a [`Error::Conflict`]. A concurrent holder of the key makes this wait
/// until it commits (then replay) or rolls back (then claim).
pub(crate) async fn claim<C: ConnectionTrait>(db: &C, key: &str, payload: &str) -> Result<Claim> {
    let row = ActiveModel {
        key: Set(key.to_owned()),
        payload: Set(payload.to_owned()),
        outcome: Set(None),
        created_at: Set(crate::timestamp::now()),
    };
    let inserted = Entity::insert(row)
        .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let existing =
        Entity::find_by_id(key).one(db).await?.ok_or_else(|| Error::not_found("idempotency key", key))?;
    if existing.payload != payload {
        return Err(Error::Conflict(format!("idempotency key {key:?} was used with another request")));
    }
    let outcome =
        existing.outcome.ok_or_else(|| Error::Conflict(format!("idempotency key {key:?} has no outcome")))?;
    let mut outcome: CostOutcome = serde_json::from_str(&outcome)
        .map_err(|e| Error::Conflict(format!("idempotency key {key:?} holds an unreadable outcome: {e}")))?;
    outcome.replayed = true;
    Ok(Claim::Replay(outcome))
}

/// Stores the outcome of the request that claimed `key`.
pub(crate) async fn complete<C: ConnectionTrait>(db: &C, key: &str, outcome: &CostOutcome) -> Result<()> {
    let json = serde_json::to_string(outcome).map_err(|e| Error::validation("outcome", e.to_string()))?;
    Entity::update_many()
        .col_expr(Column::Outcome, Expr::value(json))
        .filter(Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}
