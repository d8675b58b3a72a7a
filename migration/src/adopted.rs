//! Which v1 tables sark-db adopted rather than created: those it must never drop.
//!
//! Migration 0 lists, in `sark_adopted_tables`, the v1 tables that already existed before the
//! first migration ran. Migration 1's `down` drops only the v1 tables it created, and
//! [`Migrator::fresh`](crate::Migrator) refuses to run while an adopted table exists. A database
//! migrated before migration 0 existed cannot tell which tables were adopted, so all its v1
//! tables count as adopted.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

/// The v1 tables, in the order they can be dropped (tools reference servers).
pub(crate) const V1_TABLES: [&str; 3] = ["mcp_tools", "mcp_servers", "audit_events"];

/// The table that lists adopted v1 tables.
pub(crate) const RECORD: &str = "sark_adopted_tables";

/// The v1 tables present now that sark-db did not create (or cannot tell that it created).
pub(crate) async fn adopted_tables(manager: &SchemaManager<'_>) -> Result<Vec<&'static str>, DbErr> {
    let listed = listed(manager).await?;
    let mut adopted = Vec::new();
    for table in V1_TABLES {
        let is_listed = listed.as_ref().is_none_or(|names| names.iter().any(|n| n == table));
        if is_listed && manager.has_table(table).await? {
            adopted.push(table);
        }
    }
    Ok(adopted)
}

/// The names in [`RECORD`], or `None` when it does not exist.
async fn listed(manager: &SchemaManager<'_>) -> Result<Option<Vec<String>>, DbErr> {
    if !manager.has_table(RECORD).await? {
        return Ok(None);
    }
    let db = manager.get_connection();
    let sql = format!("SELECT table_name FROM {RECORD}");
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    rows.iter().map(|row| row.try_get_by_index::<String>(0)).collect::<Result<_, _>>().map(Some)
}
