//! On PostgreSQL without TimescaleDB, turns `audit_events` and `cost_tracking` into tables
//! partitioned by month on `timestamp` (see [`crate::partitions`]), keeping every row, key,
//! index, check and trigger: the append-only rule holds on the parent and on every partition.
//! Hypertables (migration 7) stay hypertables; SQLite keeps plain tables. `down` turns them
//! back into plain tables with their rows.

use crate::partitions::{self, TABLES};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Months of partitions made ahead of the current one.
pub const AHEAD_MONTHS: u32 = 3;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in TABLES {
            if partitions::is_hypertable(db, table).await? {
                tracing::info!("{table} is a TimescaleDB hypertable: it stays one");
            } else if !partitions::is_partitioned(db, table).await? {
                partitions::partition(db, table, AHEAD_MONTHS).await?;
                tracing::info!("{table} is partitioned by month");
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in TABLES {
            if partitions::is_partitioned(db, table).await? {
                partitions::unpartition(db, table).await?;
            }
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
