//! On PostgreSQL, `audit_events` checks the sealed range once per statement instead of once per
//! row: the trigger `audit_events_unsealed` of migration 18 becomes an `AFTER INSERT … FOR EACH
//! STATEMENT` trigger that compares the earliest event the statement inserted (its transition
//! table) with the end of the sealed ranges, and refuses the statement — nothing of it is
//! written — with the same error (`restrict_violation`). The row trigger ran a PL/pgSQL call and
//! a lookup for every event: it cost an `INSERT` of 32 events a fifth of its rate
//! (docs/benchmarks.md).
//!
//! The check fires on `audit_events` itself, not on its partitions: an `INSERT` straight into a
//! partition is not checked. The application role holds no privilege on partitions; the owner,
//! who could as well disable the trigger, is the actor seals watch (an event inside a sealed
//! range is named extra by verification).
//!
//! TimescaleDB hypertables take no trigger with a transition table, and Citus runs a distributed
//! table's triggers on its shards: there, and on SQLite (whose check is a `WHEN` clause of the
//! row trigger), the row trigger stays. `down` brings the row trigger back where `up` replaced it.

use crate::{citus, partitions};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The statement-level check replaces the row trigger.
const PG_PER_STATEMENT: &str = r#"
CREATE FUNCTION audit_events_unsealed_statement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    earliest timestamptz;
BEGIN
    SELECT min("timestamp") INTO earliest FROM inserted;
    IF earliest < (SELECT max(range_end) FROM audit_seals) THEN
        RAISE EXCEPTION 'audit_events: % lies in a sealed range', earliest
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS audit_events_unsealed ON audit_events;
CREATE TRIGGER audit_events_unsealed AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_unsealed_statement();
"#;

/// Migration 18's row trigger again, where `up` replaced it.
const PG_PER_ROW: &str = r#"
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'audit_events_unsealed_statement') THEN
        DROP TRIGGER IF EXISTS audit_events_unsealed ON audit_events;
        DROP FUNCTION audit_events_unsealed_statement();
        CREATE TRIGGER audit_events_unsealed BEFORE INSERT ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_unsealed();
    END IF;
END
$$;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        if partitions::is_hypertable(db, "audit_events").await? {
            tracing::info!(
                "audit_events is a TimescaleDB hypertable: its sealed range stays checked per row"
            );
            return Ok(());
        }
        if citus::installed(db).await? {
            tracing::info!("Citus: the shards of audit_events keep checking the sealed range per row");
            return Ok(());
        }
        db.execute_unprepared(PG_PER_STATEMENT).await.map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(PG_PER_ROW).await.map(drop)
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
