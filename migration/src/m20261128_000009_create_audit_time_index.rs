//! `idx_audit_timestamp_id`: time-range queries of `audit_events` and their keyset pagination
//! read the log in index order. On PostgreSQL the index is on `(timestamp, id)`; on SQLite on
//! the sortable form of the timestamp text (see [`crate::sortable`]) and `id`.

use crate::sortable::sqlite_sortable;
use crate::tables::AuditEvents;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Name of the index.
const INDEX: &str = "idx_audit_timestamp_id";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Sqlite {
            let key = sqlite_sortable("\"timestamp\"");
            let sql = format!("CREATE INDEX {INDEX} ON audit_events ({key}, id)");
            return manager.get_connection().execute_unprepared(&sql).await.map(drop);
        }
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(AuditEvents::Table)
                    .col(AuditEvents::Timestamp)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(INDEX).table(AuditEvents::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
