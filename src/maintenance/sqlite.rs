//! SQLite: plain tables, whose old rows are deleted month by month.

use super::{Result, log_removal, month_around};
use crate::ledger::window::Window;
use entity::retention_entry;
use sea_orm::{ConnectionTrait, Statement};
use time::OffsetDateTime;

/// Per table and UTC month, the rows to remove and the first instant of their month.
const MONTHS_BEFORE: &str = include_str!("months_before.sqlite.sql");

/// The append-only guard against `DELETE` on `audit_events`, as the schema holds it (`cost_tracking`
/// has none on SQLite).
const GUARD: &str =
    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_events_no_delete'";

/// Lifts that guard, inside the caller's transaction; it is put back from its stored text.
const LIFT_GUARD: &str = "DROP TRIGGER IF EXISTS audit_events_no_delete";

/// The audit events stamped before `$1`.
const DELETE_EVENTS: &str = r#"DELETE FROM audit_events WHERE "timestamp" < $1"#;

/// The costs stamped before `$1`.
const DELETE_COSTS: &str = r#"DELETE FROM cost_tracking WHERE "timestamp" < $1"#;

/// Deletes the rows of the months that end at or before each table's cut-off (`None`: keep
/// everything), one log entry per table and month, with the append-only guard lifted and put
/// back inside the caller's transaction.
pub(super) async fn remove_months_before<C: ConnectionTrait>(
    db: &C,
    events_cutoff: Option<OffsetDateTime>,
    costs_cutoff: Option<OffsetDateTime>,
) -> Result<Vec<retention_entry::Model>> {
    let backend = db.get_database_backend();
    // Whole months only: everything before the start of the cut-off's month.
    let events_before = events_cutoff.map(|t| Window::Monthly.start(t));
    let costs_before = costs_cutoff.map(|t| Window::Monthly.start(t));
    let months = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            MONTHS_BEFORE,
            [events_before.into(), costs_before.into()],
        ))
        .await?;
    if months.is_empty() {
        return Ok(Vec::new());
    }
    let guard = db.query_one_raw(Statement::from_string(backend, GUARD)).await?;
    let guard: Option<String> = guard.map(|row| row.try_get("", "sql")).transpose()?;
    db.execute_unprepared(LIFT_GUARD).await?;
    for (delete, before) in [(DELETE_EVENTS, events_before), (DELETE_COSTS, costs_before)] {
        if let Some(before) = before {
            db.execute_raw(Statement::from_sql_and_values(backend, delete, [before.into()])).await?;
        }
    }
    if let Some(guard) = guard {
        db.execute_unprepared(&guard).await?;
    }
    let mut removed = Vec::new();
    for row in months {
        let table: String = row.try_get("", "table_name")?;
        let start: OffsetDateTime = row.try_get("", "month_start")?;
        removed.push(log_removal(db, &table, "rows", month_around(start)?, row.try_get("", "n")?).await?);
    }
    Ok(removed)
}
