//! Turns `cost_tracking` and `audit_events` into TimescaleDB hypertables where the extension
//! is usable; on plain PostgreSQL and on SQLite it does nothing and says so in the log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// TimescaleDB is usable when installed, or when available and preloaded: `CREATE EXTENSION`
/// without preload kills the connection.
const USABLE: &str = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') \
    OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') \
        AND current_setting('shared_preload_libraries') ~ 'timescaledb') AS usable";

/// Whether the primary key of `audit_events` lacks `timestamp` (an adopted v1 table).
pub(crate) const AUDIT_KEY_LACKS_TIMESTAMP: &str = "SELECT NOT EXISTS ( \
    SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
    WHERE i.indrelid = 'audit_events'::regclass AND i.indisprimary AND a.attname = 'timestamp') AS lacks";

/// Widens the key of an adopted v1 `audit_events` to `(id, timestamp)`.
pub(crate) const WIDEN_AUDIT_KEY: &str = r#"
DO $$
DECLARE pk text;
BEGIN
    SELECT conname INTO pk FROM pg_constraint WHERE conrelid = 'audit_events'::regclass AND contype = 'p';
    IF pk IS NOT NULL THEN
        EXECUTE format('ALTER TABLE audit_events DROP CONSTRAINT %I', pk);
    END IF;
    ALTER TABLE audit_events ADD PRIMARY KEY (id, "timestamp");
END
$$;
"#;

/// `migrate_data` TRUNCATEs the parent after copying rows into chunks, so the append-only
/// TRUNCATE trigger is disabled around it, inside this migration's transaction.
const HYPERTABLES: &str = r#"
CREATE EXTENSION IF NOT EXISTS timescaledb;
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_truncate;
SELECT create_hypertable('audit_events', 'timestamp', if_not_exists => TRUE, migrate_data => TRUE);
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_truncate;
SELECT create_hypertable('cost_tracking', 'timestamp', if_not_exists => TRUE, migrate_data => TRUE);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !timescaledb_usable(manager).await? {
            tracing::info!(
                "TimescaleDB is not usable here: cost_tracking and audit_events stay plain tables"
            );
            return Ok(());
        }
        let db = manager.get_connection();
        if query_bool(manager, AUDIT_KEY_LACKS_TIMESTAMP).await? {
            tracing::info!("widening the primary key of audit_events to (id, timestamp)");
            db.execute_unprepared(WIDEN_AUDIT_KEY).await?;
        }
        db.execute_unprepared(HYPERTABLES).await?;
        tracing::info!("cost_tracking and audit_events are TimescaleDB hypertables");
        Ok(())
    }

    /// A hypertable cannot be turned back into a plain table in place; it keeps working as a
    /// table, and the `down` of the migration that created it drops it.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if timescaledb_usable(manager).await? {
            tracing::info!("hypertables stay hypertables; earlier migrations drop them");
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

async fn timescaledb_usable(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    query_bool(manager, USABLE).await
}

pub(crate) async fn query_bool(manager: &SchemaManager<'_>, sql: &str) -> Result<bool, DbErr> {
    let db = manager.get_connection();
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("no row from: {sql}")))?;
    row.try_get_by_index(0)
}
