//! Audit appends through group commit ([`Ledger::append`](crate::ledger::Ledger::append)): the
//! events queued together are inserted by one statement, which is its own transaction on every
//! backend, so they share one commit and one round trip. Each caller gets its own answer: bad
//! input is refused before the statement; when the server refuses the statement (an event in a
//! sealed range, a taken id and timestamp), nothing of it is written and every event is appended
//! on its own, which gives each its own outcome; when the statement's outcome is unknown (the
//! connection lost on the way back), every event of the group gets the error. No event is
//! answered Ok before its statement returned.

use super::log::{NewAuditEvent, append};
use crate::error::not_applied;
use crate::{Conn, Db, Error, Result, Server, timestamp};
use entity::audit_event;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic, Iterable, Statement,
    TryIntoModel, Value,
};
use serde_json::Value as Json;
use tokio::sync::oneshot;

/// PostgreSQL (not Citus): the events by one statement of fixed text, as one JSON array.
const INSERT_EVENTS: &str = include_str!("sql/insert_events.pg.sql");

/// PostgreSQL: [`INSERT_EVENTS`], skipping an event whose id and timestamp are stored already.
const INSERT_NEW_EVENTS: &str = include_str!("sql/insert_new_events.pg.sql");

/// An append waiting for its group's statement.
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
                    let reason = format!("a group of audit events may or may not have been written: {e}");
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

/// Inserts `rows` by one statement, its own transaction (one round trip), and returns them as
/// stored. `Err(None)` when the statement was refused or never sent (nothing is written);
/// `Err(Some(e))` when its outcome is unknown (say, the connection was lost on the way back).
async fn together(
    db: &Db,
    rows: &[audit_event::ActiveModel],
) -> std::result::Result<Vec<audit_event::Model>, Option<Error>> {
    let models =
        rows.iter().map(|row| row.clone().try_into_model()).collect::<std::result::Result<Vec<_>, _>>();
    let models = models.map_err(|_| None)?;
    let inserted = if db.server() == Server::Postgres {
        let events = as_json(rows).map_err(|_| None)?;
        db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, INSERT_EVENTS, [events.into()]))
            .await
            .map(drop)
    } else {
        audit_event::Entity::insert_many(rows.to_vec()).exec_without_returning(db).await.map(drop)
    };
    match inserted {
        Ok(()) => Ok(models),
        Err(e) if not_applied(&e) => Err(None),
        Err(e) => Err(Some(e.into())),
    }
}

/// Inserts `rows` on `db` (a transaction) by one statement, skipping any whose id and timestamp
/// are stored already: the events of governed calls, committed with their charges.
pub(crate) async fn insert_new<C: ConnectionTrait>(
    db: &C,
    rows: &[&audit_event::ActiveModel],
) -> std::result::Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        let events = as_json(rows.iter().copied())?;
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            INSERT_NEW_EVENTS,
            [events.into()],
        ))
        .await?;
    } else {
        let rows = rows.iter().map(|&row| row.clone());
        let skip = OnConflict::columns([audit_event::Column::Id, audit_event::Column::Timestamp])
            .do_nothing()
            .to_owned();
        audit_event::Entity::insert_many(rows).on_conflict(skip).exec_without_returning(db).await?;
    }
    Ok(())
}

/// `rows` as a JSON array of objects keyed by column name, as `insert_events.pg.sql` reads it.
fn as_json<'a>(
    rows: impl IntoIterator<Item = &'a audit_event::ActiveModel>,
) -> std::result::Result<Json, DbErr> {
    let event = |row: &audit_event::ActiveModel| {
        let mut object = serde_json::Map::with_capacity(22);
        for column in audit_event::Column::iter() {
            let value = match row.get(column).into_value() {
                Some(Value::String(s)) => s.map_or(Json::Null, Json::String),
                Some(Value::BigInt(n)) => n.map_or(Json::Null, Json::from),
                Some(Value::Json(json)) => json.map_or(Json::Null, |json| *json),
                Some(Value::TimeDateTimeWithTimeZone(t)) => {
                    t.map_or(Json::Null, |t| Json::String(timestamp::text(t)))
                }
                other => return Err(DbErr::Custom(format!("audit event column {column:?}: {other:?}"))),
            };
            object.insert(column.as_str().to_owned(), value);
        }
        Ok(Json::Object(object))
    };
    rows.into_iter().map(event).collect::<std::result::Result<Vec<_>, _>>().map(Json::Array)
}
