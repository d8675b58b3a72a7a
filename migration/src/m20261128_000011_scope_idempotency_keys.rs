//! Idempotency keys are scoped per principal: the key of `cost_idempotency_keys` becomes
//! `(principal_id, key)`, so two principals use the same key independently and one cannot
//! learn of another's keys through a conflict. Existing keys take the principal of the
//! request they were first used with (it is in their payload).
//!
//! The table is rebuilt (SQLite cannot change a primary key in place) inside the migration's
//! transaction. `down` keeps, for a key used by several principals, the earliest use.

use crate::columns::timestamp_now;
use crate::tables::CostIdempotencyKeys as Keys;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table while it is being rebuilt.
const REBUILT: &str = "cost_idempotency_keys_rebuilt";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let principal = match manager.get_database_backend() {
            DbBackend::Postgres => "CAST(payload AS jsonb) ->> 'principal_id'",
            _ => "json_extract(payload, '$.principal_id')",
        };
        let copy = format!(
            "INSERT INTO {REBUILT} (principal_id, \"key\", payload, outcome, created_at) \
             SELECT COALESCE({principal}, ''), \"key\", payload, outcome, created_at FROM cost_idempotency_keys"
        );
        let table = Table::create()
            .table(Alias::new(REBUILT))
            .col(ColumnDef::new(Keys::PrincipalId).string().not_null())
            .col(ColumnDef::new(Keys::Key).string().not_null())
            .col(ColumnDef::new(Keys::Payload).text().not_null())
            .col(ColumnDef::new(Keys::Outcome).text().null())
            .col(timestamp_now(Keys::CreatedAt))
            .primary_key(Index::create().col(Keys::PrincipalId).col(Keys::Key))
            .to_owned();
        rebuild(manager, table, &copy).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let copy = format!(
            "INSERT INTO {REBUILT} (\"key\", payload, outcome, created_at) \
             SELECT \"key\", payload, outcome, created_at FROM cost_idempotency_keys k \
             WHERE NOT EXISTS (SELECT 1 FROM cost_idempotency_keys e WHERE e.\"key\" = k.\"key\" \
                 AND (e.created_at < k.created_at OR (e.created_at = k.created_at AND e.principal_id < k.principal_id)))"
        );
        let table = Table::create()
            .table(Alias::new(REBUILT))
            .col(ColumnDef::new(Keys::Key).string().not_null().primary_key())
            .col(ColumnDef::new(Keys::Payload).text().not_null())
            .col(ColumnDef::new(Keys::Outcome).text().null())
            .col(timestamp_now(Keys::CreatedAt))
            .to_owned();
        rebuild(manager, table, &copy).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Creates `table` (named [`REBUILT`]), fills it with `copy`, and puts it in the place of
/// `cost_idempotency_keys`, primary key name included.
async fn rebuild(manager: &SchemaManager<'_>, table: TableCreateStatement, copy: &str) -> Result<(), DbErr> {
    manager.create_table(table).await?;
    let db = manager.get_connection();
    db.execute_unprepared(copy).await?;
    manager.drop_table(Table::drop().table(Keys::Table).to_owned()).await?;
    manager.rename_table(Table::rename().table(Alias::new(REBUILT), Keys::Table).to_owned()).await?;
    if manager.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(&format!(
            "ALTER TABLE cost_idempotency_keys RENAME CONSTRAINT {REBUILT}_pkey TO cost_idempotency_keys_pkey"
        ))
        .await?;
    }
    Ok(())
}
