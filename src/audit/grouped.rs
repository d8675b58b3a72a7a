//! Audit appends through group commit ([`Ledger::append`](crate::ledger::Ledger::append)): the
//! events queued together are inserted by one statement in one transaction, so they share one
//! commit. Each caller gets its own answer: a refused event (bad input) is refused before the
//! transaction; when the shared statement fails (an event in a sealed range, a taken id and
//! timestamp), nothing of it is written and every event is appended on its own, which gives each
//! its own outcome; when the commit fails, nobody can tell whether it took effect, and every
//! event of the group gets the error. No event is answered Ok before its commit.

use super::log::{NewAuditEvent, append};
use crate::{Conn, Db, Error, Result};
use entity::audit_event;
use sea_orm::{DbErr, EntityTrait, TryIntoModel};
use tokio::sync::oneshot;

/// An append waiting for its transaction.
pub(crate) struct Append {
    /// The event.
    pub(crate) event: NewAuditEvent,
    /// Where its answer goes.
    pub(crate) reply: oneshot::Sender<Result<audit_event::Model>>,
}

/// Appends `calls` together and answers each.
pub(crate) async fn settle(db: &Db, calls: Vec<Append>) {
    let mut rows = Vec::with_capacity(calls.len());
    let mut valid = Vec::with_capacity(calls.len());
    for call in calls {
        match call.event.row(db.clock()) {
            Ok(row) => {
                rows.push(row);
                valid.push(call);
            }
            Err(e) => drop(call.reply.send(Err(e))),
        }
    }
    if valid.len() > 1 {
        match together(db, &rows).await {
            Ok(models) => {
                for (call, model) in valid.into_iter().zip(models) {
                    let _ = call.reply.send(Ok(model));
                }
                return;
            }
            Err(Some(e)) => {
                let e = e.to_string();
                for call in valid {
                    let reason = format!("the commit of a group of audit events failed: {e}");
                    let _ = call.reply.send(Err(DbErr::Custom(reason).into()));
                }
                return;
            }
            Err(None) => {}
        }
    }
    for call in valid {
        let _ = call.reply.send(append(db, &call.event).await);
    }
}

/// Inserts `rows` in one transaction and returns them as stored. `Err(None)` when a statement
/// failed (nothing is written); `Err(Some(e))` when the commit failed (unknown).
async fn together(
    db: &Db,
    rows: &[audit_event::ActiveModel],
) -> std::result::Result<Vec<audit_event::Model>, Option<Error>> {
    let models =
        rows.iter().map(|row| row.clone().try_into_model()).collect::<std::result::Result<Vec<_>, _>>();
    let models = models.map_err(|_| None)?;
    let txn = db.begin_write().await.map_err(|_| None)?;
    if audit_event::Entity::insert_many(rows.to_vec()).exec_without_returning(&txn).await.is_err() {
        let _ = txn.rollback().await;
        return Err(None);
    }
    txn.commit().await.map_err(Some)?;
    Ok(models)
}
