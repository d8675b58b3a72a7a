//! The v1 tables (`mcp_servers`, `mcp_tools`, `audit_events`), created only when absent so that
//! a fresh database and an existing v1 database follow the same path. `down` drops only the
//! tables it created: an adopted v1 table (see [`crate::adopted`]) and its rows stay.

use crate::adopted::{V1_TABLES, adopted_tables};
use crate::columns::{json_null, string_id, timestamp_now};
use crate::tables::{AuditEvents, McpServers, McpTools};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(mcp_servers()).await?;
        manager.create_table(mcp_tools()).await?;
        manager.create_table(audit_events()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let adopted = adopted_tables(manager).await?;
        for table in V1_TABLES {
            if adopted.contains(&table) {
                tracing::info!("{table} was adopted, not created, by sark-db: it stays");
            } else {
                manager.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
            }
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

fn mcp_servers() -> TableCreateStatement {
    Table::create()
        .table(McpServers::Table)
        .if_not_exists()
        .col(string_id(McpServers::Id))
        .col(ColumnDef::new(McpServers::Name).string().not_null())
        .col(ColumnDef::new(McpServers::Description).text().null())
        .col(ColumnDef::new(McpServers::Transport).string().not_null())
        .col(ColumnDef::new(McpServers::Command).string().null())
        .col(json_null(McpServers::Args))
        .col(json_null(McpServers::Env))
        .col(ColumnDef::new(McpServers::Endpoint).string().null())
        .col(ColumnDef::new(McpServers::SensitivityLevel).string().null())
        .col(json_null(McpServers::Metadata))
        .col(timestamp_now(McpServers::CreatedAt))
        .col(timestamp_now(McpServers::UpdatedAt))
        .to_owned()
}

fn mcp_tools() -> TableCreateStatement {
    Table::create()
        .table(McpTools::Table)
        .if_not_exists()
        .col(string_id(McpTools::Id))
        .col(ColumnDef::new(McpTools::ServerId).string().not_null())
        .col(ColumnDef::new(McpTools::Name).string().not_null())
        .col(ColumnDef::new(McpTools::Description).text().null())
        .col(json_null(McpTools::InputSchema))
        .col(ColumnDef::new(McpTools::SensitivityLevel).string().null())
        .col(ColumnDef::new(McpTools::RequiresApproval).boolean().not_null().default(false))
        .col(json_null(McpTools::Metadata))
        .foreign_key(
            ForeignKey::create()
                .name("fk_mcp_tools_server")
                .from(McpTools::Table, McpTools::ServerId)
                .to(McpServers::Table, McpServers::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

/// `audit_events` with primary key `(id, timestamp)`: a time-partitioned table (TimescaleDB,
/// native partitioning) accepts no unique key without its partitioning column.
fn audit_events() -> TableCreateStatement {
    Table::create()
        .table(AuditEvents::Table)
        .if_not_exists()
        .col(ColumnDef::new(AuditEvents::Id).string().not_null())
        .col(timestamp_now(AuditEvents::Timestamp))
        .col(ColumnDef::new(AuditEvents::EventType).string().not_null())
        .col(ColumnDef::new(AuditEvents::Severity).string().not_null().default("low"))
        .col(ColumnDef::new(AuditEvents::UserId).string().null())
        .col(ColumnDef::new(AuditEvents::UserEmail).string().null())
        .col(ColumnDef::new(AuditEvents::ServerId).string().null())
        .col(ColumnDef::new(AuditEvents::ToolName).string().null())
        .col(ColumnDef::new(AuditEvents::Decision).string().null())
        .col(ColumnDef::new(AuditEvents::PolicyId).string().null())
        .col(ColumnDef::new(AuditEvents::IpAddress).string().null())
        .col(ColumnDef::new(AuditEvents::UserAgent).string().null())
        .col(ColumnDef::new(AuditEvents::RequestId).string().null())
        .col(ColumnDef::new(AuditEvents::Details).json_binary().not_null().default("{}"))
        .primary_key(Index::create().col(AuditEvents::Id).col(AuditEvents::Timestamp))
        .to_owned()
}
