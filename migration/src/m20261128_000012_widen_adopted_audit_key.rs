//! One key shape everywhere: an `audit_events` adopted from a v1 database on PostgreSQL keeps
//! its v1 primary key `(id)` when TimescaleDB is absent (migration 7 widens it only on the
//! way to a hypertable). This widens it to `(id, timestamp)`, like every other deployment.
//!
//! `down` leaves the wider key: `(id)` alone may no longer be unique.

use crate::m20261128_000007_enable_timescaledb::{AUDIT_KEY_LACKS_TIMESTAMP, WIDEN_AUDIT_KEY, query_bool};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres
            && query_bool(manager, AUDIT_KEY_LACKS_TIMESTAMP).await?
        {
            tracing::info!("widening the primary key of audit_events to (id, timestamp)");
            manager.get_connection().execute_unprepared(WIDEN_AUDIT_KEY).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
