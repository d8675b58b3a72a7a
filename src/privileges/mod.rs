//! Least privilege on PostgreSQL: the role a SARK service connects as may do exactly what the
//! library's functions need, and cannot rewrite the audit log, the ledger or the retention log.
//!
//! The owner (who runs migrations and [`crate::maintenance`]) calls [`grant_application`] once
//! after migrating, and again after later migrations. The application role gets:
//!
//! | tables | privileges |
//! |---|---|
//! | `audit_events`, `cost_tracking` | `SELECT, INSERT` — never `UPDATE`, `DELETE`, `TRUNCATE` |
//! | `retention_log` | `SELECT` — only the owner's maintenance records removals |
//! | `principal_budgets` | `SELECT, INSERT, UPDATE` (the budget upsert and its row lock) |
//! | `cost_idempotency_keys` | `SELECT, INSERT, UPDATE, DELETE` (outcomes, `purge_before`) |
//! | `resources`, `capabilities`, `federation_nodes` | `SELECT, INSERT, UPDATE, DELETE` |
//! | `mcp_servers`, `mcp_tools`, `v1_copied_rows`, `seaql_migrations` | `SELECT` (`v1::verify`; `migrate` with nothing pending) |
//! | `audit_seals`, `audit_seal_entries`, `audit_seal_removals` | `SELECT` (the append trigger reads where the seals end; `audit::verify`) — sealing is the owner's |
//!
//! Native partitions (migration 16) grant the role nothing: rows reach them through the parent,
//! whose privileges are the ones checked, a partition accessed directly refuses the role, and
//! the owner's default privileges are set to grant the role nothing, so partitions created
//! later by maintenance stay closed to it. TimescaleDB chunks are different: TimescaleDB copies
//! the hypertable's privileges to every chunk, so the role has `SELECT, INSERT` on each chunk
//! too — and still no `UPDATE`, `DELETE` or `TRUNCATE`, which nobody has on a chunk (the row
//! triggers refuse the first two, migration 20 revoked `TRUNCATE` from every role).

use crate::Conn;
use crate::db::is_postgres;
use crate::trace::{operation, traced};
use crate::{Error, Result};
use sea_orm::{ConnectionTrait, Statement};

/// Creates the function below for the call's transaction (see the file).
const FUNCTION: &str = include_str!("grant_application.pg.sql");

/// Makes `$1` the application role.
const GRANT: &str = "SELECT pg_temp.sark_grant_application($1)";

/// Makes `role` (created, without login, when it does not exist) the application role: it
/// gets exactly the privileges in the table above (`grant_application.pg.sql` lists them), any
/// other privilege it had on the schema's tables is revoked, and tables the caller creates later
/// grant it nothing. Run as the owner
/// of the schema. A role name that is not a plain lower-case SQL identifier is
/// [`Error::Validation`]; on SQLite, which has no roles, so is any call.
///
/// ```no_run
/// # async fn example(owner: &sark_db::Db) -> sark_db::Result<()> {
/// sark_db::privileges::grant_application(owner, "sark_app").await?;
/// // then, as the owner: ALTER ROLE sark_app LOGIN PASSWORD '…';
/// # Ok(())
/// # }
/// ```
pub async fn grant_application<C: Conn>(db: &C, role: &str) -> Result<()> {
    traced(operation!(INFO, "privileges::grant_application", role), async {
        if !is_postgres(db) {
            return Err(Error::validation("backend", "SQLite has no roles: privileges apply to PostgreSQL"));
        }
        check_role_name(role)?;
        let txn = db.begin_write().await?;
        txn.execute_unprepared(FUNCTION).await?;
        txn.execute_raw(Statement::from_sql_and_values(txn.get_database_backend(), GRANT, [role.into()]))
            .await?;
        txn.commit().await?;
        Ok(())
    })
    .await
}

/// Refuses a role name that would need quoting: 1–63 characters of `a-z`, `0-9` and `_`,
/// not starting with a digit.
fn check_role_name(role: &str) -> Result<()> {
    let plain = role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let starts_well = role.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    if plain && starts_well && role.len() <= 63 {
        Ok(())
    } else {
        Err(Error::validation(
            "role",
            "must be 1 to 63 characters of a-z, 0-9 and _, not starting with a digit",
        ))
    }
}
