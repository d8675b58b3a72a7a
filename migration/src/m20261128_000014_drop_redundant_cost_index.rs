//! Drops `idx_cost_principal` (`cost_tracking (principal_id)`): it is a prefix of
//! `idx_cost_principal_timestamp`, which serves every lookup by principal (the plan tests in
//! `tests/plans.rs` check the library's own statements), and it cost every insert a second
//! index write.

use crate::tables::CostTracking;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_cost_principal";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(INDEX).table(CostTracking::Table).if_exists().to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(CostTracking::Table)
                    .col(CostTracking::PrincipalId)
                    .to_owned(),
            )
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
