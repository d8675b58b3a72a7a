//! Audit seals: `audit_seals` (one row per sealed time range of the audit log: its event count,
//! its SHA-256 digest chained to the previous seal's) and `audit_seal_entries` (the hash of
//! every sealed event, so that verification can name what changed). Both are append-only, and
//! `audit_events` refuses an event stamped inside a sealed range.

use crate::canonical;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const PG_UP: &str = r#"
CREATE TABLE audit_seals (
    seq bigint NOT NULL PRIMARY KEY CHECK (seq > 0),
    range_start timestamptz NOT NULL,
    range_end timestamptz NOT NULL CHECK (range_end > range_start),
    event_count bigint NOT NULL CHECK (event_count >= 0),
    digest varchar NOT NULL,
    previous_digest varchar NOT NULL,
    algorithm varchar NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE audit_seal_entries (
    seal_seq bigint NOT NULL,
    "timestamp" timestamptz NOT NULL,
    event_id varchar NOT NULL,
    hash varchar NOT NULL,
    PRIMARY KEY (seal_seq, "timestamp", event_id)
);
CREATE TRIGGER audit_seals_no_update_delete BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION sark_append_only();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION sark_append_only();
CREATE TRIGGER audit_seal_entries_no_update_delete BEFORE UPDATE OR DELETE ON audit_seal_entries
    FOR EACH ROW EXECUTE FUNCTION sark_append_only();
CREATE TRIGGER audit_seal_entries_no_truncate BEFORE TRUNCATE ON audit_seal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION sark_append_only();
CREATE OR REPLACE FUNCTION audit_events_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."timestamp" < (SELECT max(range_end) FROM audit_seals) THEN
        RAISE EXCEPTION 'audit_events: % lies in a sealed range', NEW."timestamp"
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_events_unsealed BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_unsealed();
"#;

const PG_DOWN: &str = r#"
DROP TRIGGER IF EXISTS audit_events_unsealed ON audit_events;
DROP FUNCTION IF EXISTS audit_events_unsealed();
DROP TABLE IF EXISTS audit_seal_entries;
DROP TABLE IF EXISTS audit_seals;
"#;

/// `{now}`: the canonical current time.
const SQLITE_UP: &str = r#"
CREATE TABLE audit_seals (
    seq INTEGER NOT NULL PRIMARY KEY CHECK (seq > 0),
    range_start TEXT NOT NULL,
    range_end TEXT NOT NULL CHECK (range_end > range_start),
    event_count INTEGER NOT NULL CHECK (event_count >= 0),
    digest TEXT NOT NULL,
    previous_digest TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    sealed_at TEXT NOT NULL DEFAULT {now}
);
CREATE TABLE audit_seal_entries (
    seal_seq INTEGER NOT NULL,
    "timestamp" TEXT NOT NULL,
    event_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (seal_seq, "timestamp", event_id)
);
CREATE TRIGGER audit_seals_no_update BEFORE UPDATE ON audit_seals
BEGIN SELECT RAISE(ABORT, 'audit_seals is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals
BEGIN SELECT RAISE(ABORT, 'audit_seals is append-only: DELETE is not allowed'); END;
CREATE TRIGGER audit_seal_entries_no_update BEFORE UPDATE ON audit_seal_entries
BEGIN SELECT RAISE(ABORT, 'audit_seal_entries is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER audit_seal_entries_no_delete BEFORE DELETE ON audit_seal_entries
BEGIN SELECT RAISE(ABORT, 'audit_seal_entries is append-only: DELETE is not allowed'); END;
CREATE TRIGGER audit_events_unsealed BEFORE INSERT ON audit_events
WHEN NEW."timestamp" < (SELECT max(range_end) FROM audit_seals)
BEGIN SELECT RAISE(ABORT, 'audit_events: the event lies in a sealed range'); END;
"#;

const SQLITE_DOWN: &str = r#"
DROP TRIGGER IF EXISTS audit_events_unsealed;
DROP TABLE IF EXISTS audit_seal_entries;
DROP TABLE IF EXISTS audit_seals;
"#;

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
