//! `cost_tracking`: the cost ledger, amounts in micro-units.

use crate::columns::{json_object, micros_null, timestamp_now};
use crate::tables::CostTracking;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(cost_tracking(manager.get_database_backend())).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cost_timestamp")
                    .table(CostTracking::Table)
                    .col((CostTracking::Timestamp, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cost_principal")
                    .table(CostTracking::Table)
                    .col(CostTracking::PrincipalId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CostTracking::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// On PostgreSQL the key is `(id, timestamp)` with `id` an identity, so the table can become
/// a hypertable; SQLite can only auto-increment a lone `INTEGER PRIMARY KEY`.
fn cost_tracking(backend: DbBackend) -> TableCreateStatement {
    let mut id = ColumnDef::new(CostTracking::Id).big_integer().not_null().auto_increment().to_owned();
    let mut table = Table::create().table(CostTracking::Table).to_owned();
    if backend == DbBackend::Postgres {
        table.col(id).primary_key(Index::create().col(CostTracking::Id).col(CostTracking::Timestamp));
    } else {
        table.col(id.primary_key());
    }
    table
        .col(timestamp_now(CostTracking::Timestamp))
        .col(ColumnDef::new(CostTracking::PrincipalId).string().not_null())
        .col(ColumnDef::new(CostTracking::ResourceId).string().not_null())
        .col(ColumnDef::new(CostTracking::CapabilityId).string().not_null())
        .col(micros_null(CostTracking::EstimatedCostMicros))
        .col(micros_null(CostTracking::ActualCostMicros))
        .col(json_object(CostTracking::Metadata))
        .to_owned()
}
