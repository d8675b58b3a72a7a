//! Naming the rows that stop a migration: the first [`SHOWN_IDS`] ids and a count of the rest.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

/// Most offending ids named per problem.
pub(crate) const SHOWN_IDS: usize = 20;

/// The ids `query` returns (its first column, as text), described as `what`; `None` when
/// there are none.
pub(crate) async fn describe<C: ConnectionTrait>(
    db: &C,
    what: &str,
    query: &str,
) -> Result<Option<String>, DbErr> {
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), query)).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let ids = rows.iter().map(|r| r.try_get_by_index::<String>(0)).collect::<Result<Vec<_>, _>>()?;
    let shown: Vec<_> = ids.iter().take(SHOWN_IDS).map(|id| format!("{id:?}")).collect();
    let more = match ids.len().saturating_sub(SHOWN_IDS) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Ok(Some(format!("{what}: {}{more}", shown.join(", "))))
}

/// `Ok` when `problems` is empty, else a migration error headed `heading`.
pub(crate) fn refuse(heading: &str, problems: Vec<String>) -> Result<(), DbErr> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DbErr::Migration(format!("{heading}: {}", problems.join("; "))))
    }
}
