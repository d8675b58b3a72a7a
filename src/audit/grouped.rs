//! Audit appends through group commit ([`Ledger::append`](crate::ledger::Ledger::append)): the
//! events queued together are inserted by one statement, which is its own transaction on every
//! backend, so they share one commit and one round trip. Each caller gets its own answer: bad
//! input is refused before the statement; when the server refuses the statement (an event in a
//! sealed range, a taken id and timestamp), nothing of it is written and every event is appended
//! on its own, which gives each its own outcome. When the connection is lost, the group goes
//! again as its two halves at once, each on a connection of its own: at once if the statement
//! was not written, else once the first event was read back as absent (the statement is one
//! transaction: one event of it is stored if and only if all are; present, the group is
//! answered as stored). This assumes that the lost connection's server process has ended, as it
//! has once the server answered with an error or killed it; when nothing can be read, every
//! event of the group gets the error. No event is answered Ok before it was read or its
//! statement returned.

#[cfg(feature = "postgres")]
use super::arrays;
use super::log::{NewAuditEvent, append};
use crate::error::{connection_lost, not_applied};
use crate::{Conn, Db, Error, Result, timestamp};
use entity::audit_event;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic, Iterable,
    QueryFilter, Statement, TryIntoModel, Value,
};
use serde_json::Value as Json;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::oneshot;

/// PostgreSQL: the events of a JSON array, skipping an event whose id and timestamp are stored
/// already.
pub(crate) const INSERT_NEW_EVENTS: &str = include_str!("sql/insert_new_events.pg.sql");

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
    in_statements(db, valid, rows).await;
}

/// Appends the events of `calls` (their rows `rows`) by one statement and answers each. When
/// its connection was lost and nothing of it is written, the two halves go again at once, each
/// by a statement of its own on a connection of its own. A group of one, or one whose statement
/// was refused, is appended event by event.
fn in_statements(
    db: &Db,
    mut calls: Vec<Append>,
    mut rows: Vec<audit_event::ActiveModel>,
) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        if calls.len() > 1 {
            let outcome = match together(db, &rows).await {
                // One statement, one transaction: its first event is stored if and only if all are.
                Err(Failed::Unknown(e)) => match stored(db, &rows[0]).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Failed::Lost),
                    Err(_) => Err(Failed::Unknown(e)),
                },
                outcome => outcome,
            };
            match outcome {
                Ok(()) => {
                    for (call, row) in calls.into_iter().zip(rows) {
                        let _ = call.reply.send(row.try_into_model().map_err(Into::into));
                    }
                    return;
                }
                Err(Failed::Unknown(e)) => {
                    let e = e.to_string();
                    for call in calls {
                        let reason = format!("a group of audit events may or may not have been written: {e}");
                        let _ = call.reply.send(Err(DbErr::Custom(reason).into()));
                    }
                    return;
                }
                Err(Failed::Lost) => {
                    let half = calls.len() / 2;
                    let (later, later_rows) = (calls.split_off(half), rows.split_off(half));
                    tokio::join!(in_statements(db, calls, rows), in_statements(db, later, later_rows));
                    return;
                }
                Err(Failed::Refused) => {}
            }
        }
        for call in calls {
            let _ = call.reply.send(append(db, &call.event).await);
        }
    })
}

/// How a group's statement failed.
enum Failed {
    /// The server refused it: nothing is written.
    Refused,
    /// The connection was lost and nothing is written.
    Lost,
    /// Whether it took effect is unknown (the connection was lost on the way back).
    Unknown(Error),
}

/// Inserts `rows` by one statement, its own transaction (one round trip).
async fn together(db: &Db, rows: &[audit_event::ActiveModel]) -> std::result::Result<(), Failed> {
    let inserted = match db.server() {
        #[cfg(feature = "postgres")]
        crate::Server::Postgres => arrays::insert(db.pool().get_postgres_connection_pool(), rows).await,
        _ => audit_event::Entity::insert_many(rows.to_vec()).exec_without_returning(db).await.map(drop),
    };
    match inserted {
        Ok(()) => Ok(()),
        Err(e) if connection_lost(&e) && not_applied(&e) => Err(Failed::Lost),
        Err(e) if not_applied(&e) => Err(Failed::Refused),
        Err(e) => Err(Failed::Unknown(e.into())),
    }
}

/// Whether the event of `row` is stored, read on the pool.
pub(crate) async fn stored(db: &Db, row: &audit_event::ActiveModel) -> std::result::Result<bool, DbErr> {
    use audit_event::Column as A;
    let event = audit_event::Entity::find()
        .filter(A::Id.eq(row.id.as_ref()))
        .filter(A::Timestamp.eq(*row.timestamp.as_ref()))
        .one(db)
        .await?;
    Ok(event.is_some())
}

/// Inserts `rows` on `db` (a transaction) by one statement, skipping any whose id and timestamp
/// are stored already: the events of governed calls, committed with their charges.
pub(crate) async fn insert_new<C: ConnectionTrait>(
    db: &C,
    rows: &[&audit_event::ActiveModel],
) -> std::result::Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        let events = json_rows(rows.iter().copied())?;
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

/// `rows` as the JSON array PostgreSQL's statements of events take: one object per event,
/// keyed by column name.
pub(crate) fn json_rows<'a>(
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
