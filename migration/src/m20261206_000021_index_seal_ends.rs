//! Indexes `audit_seals (range_end)`. Every event inserted into `audit_events` asks for the end
//! of the sealed ranges (`max(range_end)`, the sealed-range trigger of migration 18); without an
//! index each insert read every seal, so appends slowed as seals accumulated (32 events in one
//! statement: 0.85 ms with no seal, 11.9 ms with 8,760 — a year of hourly seals — and 1.08 ms
//! with this index, on the machine of docs/benchmarks.md).

use crate::tables::AuditSeals;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_audit_seals_range_end";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create().name(INDEX).table(AuditSeals::Table).col(AuditSeals::RangeEnd).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(INDEX).table(AuditSeals::Table).to_owned()).await
    }
}
