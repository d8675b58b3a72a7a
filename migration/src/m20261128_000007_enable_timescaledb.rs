//! Turns `cost_tracking` and `audit_events` into TimescaleDB hypertables where the extension
//! is usable; on plain PostgreSQL and on SQLite it does nothing and says so in the log.

use crate::audit_key::{AUDIT_KEY_LACKS_TIMESTAMP, WIDEN_AUDIT_KEY, query_bool};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// TimescaleDB is usable when installed, or when available and preloaded: `CREATE EXTENSION`
/// without preload kills the connection.
const USABLE: &str = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') \
    OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') \
        AND current_setting('shared_preload_libraries') ~ 'timescaledb') AS usable";

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
