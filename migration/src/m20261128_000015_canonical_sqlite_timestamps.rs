//! SQLite timestamps in one form (see [`crate::canonical`]), so that time ranges compare the
//! columns themselves and find every row. Until now sark-db wrote RFC 3339 with the fraction
//! trimmed (`…T12:00:00Z`, `…T12:00:00.5Z`), column defaults wrote `CURRENT_TIMESTAMP`
//! (`2026-11-28 12:00:00`) and adopted v1 rows hold whatever v1 wrote; as text these sort
//! apart, so rows fell out of ranges. On SQLite this migration:
//!
//! 1. fails, naming them, when rows hold a timestamp it cannot read (nothing changes);
//! 2. rewrites every other timestamp of `audit_events` and the v2 tables in the canonical form
//!    (the v1 registry tables are v1's and stay as they are);
//! 3. makes the column defaults produce it, by the procedure SQLite documents for changing a
//!    default in place (<https://www.sqlite.org/lang_altertable.html#otheralter>: edit the
//!    table's SQL in `sqlite_schema` under `writable_schema`, then bump `schema_version`);
//! 4. refuses any other form from now on (`ck_<table>_timestamps` triggers);
//! 5. replaces the expression index of migration 9 with one on `("timestamp", id)`.
//!
//! PostgreSQL stores `timestamptz` and is left alone. `down` undoes 3–5; the rows keep the
//! canonical form, which every reader (and migration 9's expression) reads the same.

use crate::canonical::{self, GLOB, NOW};
use crate::m20261128_000003_extend_audit_events::SQLITE_NO_UPDATE;
use crate::offenders::{describe, refuse};
use crate::rules::{drop_sqlite_triggers, sqlite_triggers};
use crate::sortable::sqlite_sortable;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each table with timestamps: its name, SQL naming a row, its timestamp columns.
const TABLES: [(&str, &str, &[&str]); 6] = [
    ("audit_events", "id", &["\"timestamp\""]),
    ("resources", "id", &["created_at", "updated_at"]),
    ("federation_nodes", "id", &["trusted_since", "created_at", "updated_at"]),
    ("cost_tracking", "CAST(id AS TEXT)", &["\"timestamp\""]),
    (
        "principal_budgets",
        "principal_id",
        &["last_daily_reset", "last_monthly_reset", "created_at", "updated_at"],
    ),
    ("cost_idempotency_keys", "principal_id || ' ' || key", &["created_at"]),
];

const OLD_DEFAULT: &str = "DEFAULT CURRENT_TIMESTAMP";

/// The audit time index (migration 9).
const TIME_INDEX: &str = "idx_audit_timestamp_id";

fn rule_name(table: &str) -> String {
    format!("ck_{table}_timestamps")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        let mut problems = Vec::new();
        for (table, key, columns) in TABLES {
            let unreadable: Vec<_> = columns
                .iter()
                .map(|c| format!("({c} IS NOT NULL AND {} IS NULL)", canonical::sqlite(c)))
                .collect();
            let query = format!("SELECT {key} FROM {table} WHERE {} ORDER BY 1", unreadable.join(" OR "));
            problems
                .extend(describe(db, &format!("{table} rows with an unreadable timestamp"), &query).await?);
        }
        refuse("timestamps cannot be put in one form, nothing changed", problems)?;

        db.execute_unprepared("DROP TRIGGER audit_events_no_update").await?;
        for (table, _, columns) in TABLES {
            for c in columns {
                let sql =
                    format!("UPDATE {table} SET {c} = {} WHERE {c} NOT GLOB '{GLOB}'", canonical::sqlite(c));
                db.execute_unprepared(&sql).await?;
            }
        }
        db.execute_unprepared(SQLITE_NO_UPDATE).await?;

        set_defaults(db, OLD_DEFAULT, &format!("DEFAULT {NOW}")).await?;
        for (table, _, columns) in TABLES {
            let canonical: Vec<_> =
                columns.iter().map(|c| format!("coalesce(NEW.{c} GLOB '{GLOB}', 1)")).collect();
            db.execute_unprepared(&sqlite_triggers(&rule_name(table), table, &canonical.join(" AND ")))
                .await?;
        }
        db.execute_unprepared(&format!(
            "DROP INDEX {TIME_INDEX}; CREATE INDEX {TIME_INDEX} ON audit_events (\"timestamp\", id)"
        ))
        .await
        .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        let key = sqlite_sortable("\"timestamp\"");
        db.execute_unprepared(&format!(
            "DROP INDEX {TIME_INDEX}; CREATE INDEX {TIME_INDEX} ON audit_events ({key}, id)"
        ))
        .await?;
        for (table, ..) in TABLES {
            db.execute_unprepared(&drop_sqlite_triggers(&rule_name(table))).await?;
        }
        set_defaults(db, &format!("DEFAULT {NOW}"), OLD_DEFAULT).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Replaces the text `from` with `to` in the SQL of the [`TABLES`], SQLite's documented way to
/// change a column default without rebuilding the table.
async fn set_defaults<C: ConnectionTrait>(db: &C, from: &str, to: &str) -> Result<(), DbErr> {
    let version: i64 = db
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA schema_version"))
        .await?
        .ok_or_else(|| DbErr::Custom("no schema_version".into()))?
        .try_get_by_index(0)?;
    let tables: Vec<_> = TABLES.iter().map(|(t, ..)| format!("'{t}'")).collect();
    db.execute_unprepared(&format!(
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = replace(sql, '{}', '{}') WHERE type = 'table' AND name IN ({});
         PRAGMA schema_version = {};
         PRAGMA writable_schema = OFF;",
        from.replace('\'', "''"),
        to.replace('\'', "''"),
        tables.join(", "),
        version + 1
    ))
    .await
    .map(drop)
}
