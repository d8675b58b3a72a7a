//! `resources` and `capabilities` (the v2 replacements of `mcp_servers` and `mcp_tools`).

use crate::columns::{json_object, sensitivity, string_id, timestamp_now};
use crate::tables::{Capabilities, Resources};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(resources()).await?;
        manager.create_table(capabilities()).await?;
        let indexes = [
            ("idx_resources_protocol", Resources::Table.into_iden(), Resources::Protocol.into_iden()),
            (
                "idx_resources_sensitivity",
                Resources::Table.into_iden(),
                Resources::SensitivityLevel.into_iden(),
            ),
            (
                "idx_capabilities_resource",
                Capabilities::Table.into_iden(),
                Capabilities::ResourceId.into_iden(),
            ),
            ("idx_capabilities_name", Capabilities::Table.into_iden(), Capabilities::Name.into_iden()),
        ];
        for (name, table, col) in indexes {
            manager.create_index(Index::create().name(name).table(table).col(col).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Capabilities::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Resources::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

fn resources() -> TableCreateStatement {
    Table::create()
        .table(Resources::Table)
        .col(string_id(Resources::Id))
        .col(ColumnDef::new(Resources::Name).string().not_null())
        .col(ColumnDef::new(Resources::Protocol).string().not_null())
        .col(ColumnDef::new(Resources::Endpoint).string().not_null())
        .col(sensitivity(Resources::SensitivityLevel))
        .col(json_object(Resources::Metadata))
        .col(timestamp_now(Resources::CreatedAt))
        .col(timestamp_now(Resources::UpdatedAt))
        .to_owned()
}

fn capabilities() -> TableCreateStatement {
    Table::create()
        .table(Capabilities::Table)
        .col(string_id(Capabilities::Id))
        .col(ColumnDef::new(Capabilities::ResourceId).string().not_null())
        .col(ColumnDef::new(Capabilities::Name).string().not_null())
        .col(ColumnDef::new(Capabilities::Description).text().null())
        .col(json_object(Capabilities::InputSchema))
        .col(json_object(Capabilities::OutputSchema))
        .col(sensitivity(Capabilities::SensitivityLevel))
        .col(json_object(Capabilities::Metadata))
        .foreign_key(
            ForeignKey::create()
                .name("fk_capabilities_resource")
                .from(Capabilities::Table, Capabilities::ResourceId)
                .to(Resources::Table, Resources::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}
