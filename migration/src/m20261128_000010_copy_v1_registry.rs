//! Copies the v1 registry into v2 (`mcp_servers` → `resources`, `mcp_tools` → `capabilities`)
//! by the rules in [`crate::v1_copy`]. The v1 tables stay. `down` removes exactly the copied rows.

use crate::tables::V1CopiedRows;
use crate::v1_copy;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(V1CopiedRows::Table)
                    .col(ColumnDef::new(V1CopiedRows::Entity).string().not_null())
                    .col(ColumnDef::new(V1CopiedRows::Id).string().not_null())
                    .primary_key(Index::create().col(V1CopiedRows::Entity).col(V1CopiedRows::Id))
                    .to_owned(),
            )
            .await?;
        v1_copy::copy(manager.get_connection()).await.map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        v1_copy::uncopy(manager.get_connection()).await?;
        manager.drop_table(Table::drop().table(V1CopiedRows::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
