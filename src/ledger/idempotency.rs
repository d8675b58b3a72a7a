//! Exactly-once costs: a caller's key is claimed in the same transaction that records the
//! cost, together with the request it came with and the outcome it produced. Keys are scoped
//! per principal: two principals may use the same key independently.

use super::cost::CostOutcome;
use crate::Conn;
use crate::trace::{self, operation, traced};
use crate::{Conflict, Error, Result, timestamp};
use entity::cost_idempotency_key::{ActiveModel, Column, Entity};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use time::OffsetDateTime;

/// What claiming a key found.
pub(crate) enum Claim {
    /// The key is new and now held by this transaction.
    New,
    /// The key was used before with the same request: its first outcome.
    Replay(CostOutcome),
}

/// Claims `key` of `principal_id` for a request whose canonical form is `payload`. A key
/// already used with another payload is a [`Conflict::IdempotencyKeyReused`]. A concurrent
/// holder of the key makes this wait until it commits (then replay) or rolls back (then claim).
pub(crate) async fn claim<C: ConnectionTrait>(
    db: &C,
    principal_id: &str,
    key: &str,
    payload: &str,
) -> Result<Claim> {
    let row = ActiveModel {
        principal_id: Set(principal_id.to_owned()),
        key: Set(key.to_owned()),
        payload: Set(payload.to_owned()),
        outcome: Set(None),
        created_at: Set(timestamp::now()),
    };
    let inserted = Entity::insert(row)
        .on_conflict(OnConflict::columns([Column::PrincipalId, Column::Key]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let existing = Entity::find_by_id((principal_id.to_owned(), key.to_owned()))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(crate::Entity::IdempotencyKey, key))?;
    replay(key, payload, &existing.payload, existing.outcome.as_deref()).map(Claim::Replay)
}

/// The outcome a retry of `key` with the request `payload` gets, from the key's stored
/// `first_payload` and `outcome`: the first outcome, marked replayed, when the requests are
/// the same; else [`Conflict::IdempotencyKeyReused`].
pub(crate) fn replay(
    key: &str,
    payload: &str,
    first_payload: &str,
    outcome: Option<&str>,
) -> Result<CostOutcome> {
    if first_payload != payload {
        return Err(Conflict::IdempotencyKeyReused { key: key.to_owned() }.into());
    }
    // The claim and its outcome commit together, so a visible key always has one.
    let outcome = outcome.ok_or_else(|| DbErr::Custom(format!("idempotency key {key:?} has no outcome")))?;
    let mut outcome: CostOutcome = serde_json::from_str(outcome)
        .map_err(|e| DbErr::Json(format!("idempotency key {key:?} holds an unreadable outcome: {e}")))?;
    outcome.replayed = true;
    Ok(outcome)
}

/// Stores the outcome of the request that claimed `key` of `principal_id`.
pub(crate) async fn complete<C: ConnectionTrait>(
    db: &C,
    principal_id: &str,
    key: &str,
    outcome: &CostOutcome,
) -> Result<()> {
    let json = serde_json::to_string(outcome).map_err(|e| DbErr::Json(e.to_string()))?;
    Entity::update_many()
        .col_expr(Column::Outcome, Expr::value(json))
        .filter(Column::PrincipalId.eq(principal_id))
        .filter(Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets the keys first used before `cutoff`, of every principal; returns how many. A retry
/// that arrives after its key was purged is charged again: keep keys longer than any caller
/// retries.
pub async fn purge_before<C: Conn>(db: &C, cutoff: OffsetDateTime) -> Result<u64> {
    traced(operation!(INFO, "idempotency::purge_before"), async {
        let cutoff = crate::timestamp::normalize(cutoff);
        let deleted =
            Entity::delete_many().filter(Column::CreatedAt.lt(cutoff)).exec(db).await?.rows_affected;
        trace::rows(deleted);
        Ok(deleted)
    })
    .await
}
