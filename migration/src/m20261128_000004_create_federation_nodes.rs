//! `federation_nodes`: trusted nodes of other organisations.

use crate::columns::{json_object, string_id, timestamp_now};
use crate::tables::FederationNodes;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FederationNodes::Table)
                    .col(string_id(FederationNodes::Id))
                    .col(ColumnDef::new(FederationNodes::NodeId).string().not_null().unique_key())
                    .col(ColumnDef::new(FederationNodes::Name).string().not_null())
                    .col(ColumnDef::new(FederationNodes::Endpoint).string().not_null())
                    .col(ColumnDef::new(FederationNodes::TrustAnchorCert).text().not_null())
                    .col(ColumnDef::new(FederationNodes::Enabled).boolean().not_null().default(true))
                    .col(timestamp_now(FederationNodes::TrustedSince))
                    .col(
                        ColumnDef::new(FederationNodes::RateLimitPerHour)
                            .integer()
                            .not_null()
                            .default(10_000),
                    )
                    .col(json_object(FederationNodes::Metadata))
                    .col(timestamp_now(FederationNodes::CreatedAt))
                    .col(timestamp_now(FederationNodes::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(FederationNodes::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
