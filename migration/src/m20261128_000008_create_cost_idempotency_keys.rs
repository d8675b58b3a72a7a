//! `cost_idempotency_keys` (exactly-once cost recording) and the ledger index for one
//! principal's costs over a period. The index carries the amounts, so summing a principal's
//! month is an index-only scan.
//!
//! Keys live in a plain table: a hypertable cannot hold a unique key without its time column.

use crate::columns::timestamp_now;
use crate::tables::{CostIdempotencyKeys, CostTracking};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const PRINCIPAL_TIME_INDEX: &str = "idx_cost_principal_timestamp";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CostIdempotencyKeys::Table)
                    .col(ColumnDef::new(CostIdempotencyKeys::Key).string().not_null().primary_key())
                    .col(ColumnDef::new(CostIdempotencyKeys::Payload).text().not_null())
                    .col(ColumnDef::new(CostIdempotencyKeys::Outcome).text().null())
                    .col(timestamp_now(CostIdempotencyKeys::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(PRINCIPAL_TIME_INDEX)
                    .table(CostTracking::Table)
                    .col(CostTracking::PrincipalId)
                    .col(CostTracking::Timestamp)
                    .col(CostTracking::ActualCostMicros)
                    .col(CostTracking::EstimatedCostMicros)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(PRINCIPAL_TIME_INDEX).table(CostTracking::Table).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(CostIdempotencyKeys::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
