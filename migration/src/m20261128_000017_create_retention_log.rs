//! `retention_log`: one row per removal of old audit events or costs (a partition, a
//! TimescaleDB chunk, or on SQLite a month of rows), with its time range, row count, when and by
//! which database role. Append-only like the audit log.

use crate::canonical;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const PG_UP: &str = r#"
CREATE OR REPLACE FUNCTION sark_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TABLE retention_log (
    id varchar NOT NULL PRIMARY KEY,
    table_name varchar NOT NULL,
    removed varchar NOT NULL,
    range_start timestamptz NOT NULL,
    range_end timestamptz NOT NULL,
    row_count bigint NOT NULL CHECK (row_count >= 0),
    removed_at timestamptz NOT NULL DEFAULT now(),
    removed_by varchar NOT NULL DEFAULT current_user
);
CREATE TRIGGER retention_log_no_update_delete BEFORE UPDATE OR DELETE ON retention_log
    FOR EACH ROW EXECUTE FUNCTION sark_append_only();
CREATE TRIGGER retention_log_no_truncate BEFORE TRUNCATE ON retention_log
    FOR EACH STATEMENT EXECUTE FUNCTION sark_append_only();
"#;

const PG_DOWN: &str = r#"
DROP TABLE IF EXISTS retention_log;
DROP FUNCTION IF EXISTS sark_append_only();
"#;

/// SQLite has no roles: `removed_by` says so. `{now}`: the canonical current time.
const SQLITE_UP: &str = r#"
CREATE TABLE retention_log (
    id TEXT NOT NULL PRIMARY KEY,
    table_name TEXT NOT NULL,
    removed TEXT NOT NULL,
    range_start TEXT NOT NULL,
    range_end TEXT NOT NULL,
    row_count INTEGER NOT NULL CHECK (row_count >= 0),
    removed_at TEXT NOT NULL DEFAULT {now},
    removed_by TEXT NOT NULL DEFAULT 'sqlite'
);
CREATE TRIGGER retention_log_no_update BEFORE UPDATE ON retention_log
BEGIN SELECT RAISE(ABORT, 'retention_log is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER retention_log_no_delete BEFORE DELETE ON retention_log
BEGIN SELECT RAISE(ABORT, 'retention_log is append-only: DELETE is not allowed'); END;
"#;

const SQLITE_DOWN: &str = "DROP TABLE IF EXISTS retention_log;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DbBackend::Postgres => PG_UP.to_owned(),
            _ => SQLITE_UP.replace("{now}", canonical::NOW),
        };
        manager.get_connection().execute_unprepared(&sql).await.map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DbBackend::Postgres => PG_DOWN,
            _ => SQLITE_DOWN,
        };
        manager.get_connection().execute_unprepared(sql).await.map(drop)
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
