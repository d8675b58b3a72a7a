//! Native PostgreSQL month partitions (migration 16), through the run's functions.

use super::{Result, log_removal, month_around};
use crate::ledger::window::Window;
use entity::retention_entry;
use sea_orm::{ConnectionTrait, Statement};
use time::OffsetDateTime;

/// Moves the default partition's rows into partitions of their months; returns how many.
const MOVE_DEFAULT_ROWS: &str = "SELECT pg_temp.sark_move_default_rows($1::regclass) AS moved";

/// Creates the partition of the month starting on `$2` unless it exists; returns its name or NULL.
const CREATE_MONTH: &str = "SELECT pg_temp.sark_create_month($1::regclass, $2::date) AS name";

/// Drops the month partitions ending at or before `$2`; one row (name, first day, row count) each.
const DROP_MONTHS_BEFORE: &str =
    "SELECT name, first_day, row_count FROM pg_temp.sark_drop_months_before($1::regclass, $2)";

/// Moves the rows of `table`'s default partition into partitions of their months; returns how
/// many rows moved.
pub(super) async fn move_default_rows<C: ConnectionTrait>(db: &C, table: &str) -> Result<u64> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            MOVE_DEFAULT_ROWS,
            [table.into()],
        ))
        .await?;
    let moved: i64 = row.map(|r| r.try_get("", "moved")).transpose()?.unwrap_or(0);
    Ok(u64::try_from(moved).unwrap_or(0))
}

/// Creates the partitions of `table` from the month of `now` to `ahead` months after it;
/// returns the names of those it created.
pub(super) async fn create_ahead<C: ConnectionTrait>(
    db: &C,
    table: &str,
    now: OffsetDateTime,
    ahead: u32,
) -> Result<Vec<String>> {
    let mut created = Vec::new();
    let mut month = Window::Monthly.start(now);
    for _ in 0..=ahead {
        let values = [table.into(), month.date().into()];
        let row = db
            .query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), CREATE_MONTH, values))
            .await?;
        created.extend(row.map(|r| r.try_get::<Option<String>>("", "name")).transpose()?.flatten());
        month = month_around(month)?.1;
    }
    Ok(created)
}

/// Drops the month partitions of `table` that end at or before `cutoff`, logging each.
pub(super) async fn drop_months_before<C: ConnectionTrait>(
    db: &C,
    table: &str,
    cutoff: OffsetDateTime,
) -> Result<Vec<retention_entry::Model>> {
    let dropped = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            DROP_MONTHS_BEFORE,
            [table.into(), cutoff.into()],
        ))
        .await?;
    let mut removed = Vec::new();
    for row in dropped {
        let name: String = row.try_get("", "name")?;
        let first_day: time::Date = row.try_get("", "first_day")?;
        let range = month_around(first_day.midnight().assume_utc())?;
        removed.push(log_removal(db, table, &name, range, row.try_get("", "row_count")?).await?);
    }
    Ok(removed)
}
