//! Lists the v1 tables that exist before sark-db's first migration runs (see
//! [`crate::adopted`]): an existing v1 database whose data later `down`s and `fresh` must keep.
//!
//! It comes first in [`crate::Migrator`] although it was added after migration 12: on a
//! database that had already run migrations 1–12 it runs after them, finds all v1 tables and
//! lists them, since nothing tells whether migration 1 created them.

use crate::adopted::{RECORD, V1_TABLES};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Record {
    TableName,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new(RECORD))
                    .if_not_exists()
                    .col(ColumnDef::new(Record::TableName).string().not_null().primary_key())
                    .to_owned(),
            )
            .await?;
        for table in V1_TABLES {
            if manager.has_table(table).await? {
                tracing::info!("{table} exists already: it is adopted, and no migration will drop it");
                let insert = Query::insert()
                    .into_table(Alias::new(RECORD))
                    .columns([Record::TableName])
                    .values_panic([table.into()])
                    .on_conflict(OnConflict::column(Record::TableName).do_nothing().to_owned())
                    .to_owned();
                manager.execute(insert).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new(RECORD)).if_exists().to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
