//! The v1 → v2 copy, the library's own: the same rules as migration 10, whose code stays as it
//! landed. Statements are in `sql/`, whole.

use crate::db::is_postgres;
use crate::{Error, Result};
use sea_orm::{ConnectionTrait, Statement};

/// The v1 rows still to be copied that no rule maps, on both backends.
const REFUSALS: &str = include_str!("sql/refusals.sql");
/// Further refusals of PostgreSQL's JSON rules.
const PG_REFUSALS: &str = include_str!("sql/refusals.pg.sql");
/// Further refusals of SQLite's JSON and timestamp rules.
const SQLITE_REFUSALS: &str = include_str!("sql/refusals.sqlite.sql");
/// SQLite: the servers' timestamps in v2's form, a temporary view.
const SQLITE_SERVER_STAMPS: &str = include_str!("sql/server_stamps.sqlite.sql");
/// Lists the rows still to be copied as being copied.
const LIST_PENDING: &str = include_str!("sql/list_pending.sql");
const PG_INSERT_RESOURCES: &str = include_str!("sql/insert_resources.pg.sql");
const SQLITE_INSERT_RESOURCES: &str = include_str!("sql/insert_resources.sqlite.sql");
const PG_INSERT_CAPABILITIES: &str = include_str!("sql/insert_capabilities.pg.sql");
const SQLITE_INSERT_CAPABILITIES: &str = include_str!("sql/insert_capabilities.sqlite.sql");
/// Marks the listed rows as copied.
const MARK_COPIED: &str = include_str!("sql/mark_copied.sql");

/// Most offending ids a refusal names per problem.
const SHOWN_IDS: usize = 20;

/// Rows the copy created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    /// New `resources` rows.
    pub resources: u64,
    /// New `capabilities` rows.
    pub capabilities: u64,
}

/// Copies the v1 rows that are not in v2 yet, inside the caller's transaction: refused with
/// [`Error::Validation`] naming the offending ids, before anything is written, when a row has no
/// rule.
pub(super) async fn copy<C: ConnectionTrait>(db: &C) -> Result<Copied> {
    let postgres = is_postgres(db);
    if !postgres {
        db.execute_unprepared(SQLITE_SERVER_STAMPS).await?;
    }
    let further = if postgres { PG_REFUSALS } else { SQLITE_REFUSALS };
    let mut problems = refusals(db, REFUSALS).await?;
    problems.extend(refusals(db, further).await?);
    if !problems.is_empty() {
        return Err(Error::validation(
            "v1",
            format!("v1 → v2 copy refused, nothing copied: {}", problems.join("; ")),
        ));
    }
    db.execute_unprepared(LIST_PENDING).await?;
    let (resources, capabilities) = if postgres {
        (PG_INSERT_RESOURCES, PG_INSERT_CAPABILITIES)
    } else {
        (SQLITE_INSERT_RESOURCES, SQLITE_INSERT_CAPABILITIES)
    };
    let resources = db.execute_unprepared(resources).await?.rows_affected();
    let capabilities = db.execute_unprepared(capabilities).await?.rows_affected();
    db.execute_unprepared(MARK_COPIED).await?;
    Ok(Copied { resources, capabilities })
}

/// The problems `sql` finds, each as its description and the first [`SHOWN_IDS`] ids, with a
/// count of the rest.
async fn refusals<C: ConnectionTrait>(db: &C, sql: &str) -> Result<Vec<String>> {
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    for row in rows {
        let (problem, id): (String, String) = (row.try_get("", "problem")?, row.try_get("", "id")?);
        match found.last_mut() {
            Some((last, ids)) if *last == problem => ids.push(id),
            _ => found.push((problem, vec![id])),
        }
    }
    Ok(found
        .into_iter()
        .map(|(problem, ids)| {
            let shown: Vec<_> = ids.iter().take(SHOWN_IDS).map(|id| format!("{id:?}")).collect();
            let more = match ids.len().saturating_sub(SHOWN_IDS) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            format!("{problem}: {}{more}", shown.join(", "))
        })
        .collect())
}
