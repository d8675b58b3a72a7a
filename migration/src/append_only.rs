//! The append-only rule for tables added after migration 3 (`retention_log`, the audit
//! seals): UPDATE, DELETE and, on PostgreSQL, TRUNCATE are refused, naming the table.

use sea_orm_migration::sea_orm::DbBackend;

/// The statements that make `table` append-only on `backend`. On PostgreSQL they call
/// `sark_append_only()`, which migration 17 creates.
pub(crate) fn rule(backend: DbBackend, table: &str) -> String {
    match backend {
        DbBackend::Postgres => format!(
            "CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
                 FOR EACH ROW EXECUTE FUNCTION sark_append_only();
             CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                 FOR EACH STATEMENT EXECUTE FUNCTION sark_append_only();"
        ),
        _ => ["UPDATE", "DELETE"]
            .map(|op| {
                format!(
                    "CREATE TRIGGER {table}_no_{lower} BEFORE {op} ON {table}
                     BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} is not allowed'); END;",
                    lower = op.to_lowercase()
                )
            })
            .join("\n"),
    }
}
