//! `retention_log`: one row per removal of old audit events or costs (a partition, a
//! TimescaleDB chunk, or on SQLite a month of rows), with its time range, row count, when and by
//! which database role. Append-only like the audit log.

use crate::append_only;
use crate::columns::{string_id, timestamp_now_canonical};
use crate::tables::RetentionLog as R;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function of the append-only rule (see `append_only`), which names the table it guards.
const PG_APPEND_ONLY_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION sark_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        // SQLite has no roles: `removed_by` says so.
        let role = match backend {
            DbBackend::Postgres => Expr::cust("current_user"),
            _ => Expr::val("sqlite"),
        };
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(string_id(R::Id))
                    .col(ColumnDef::new(R::TableName).string().not_null())
                    .col(ColumnDef::new(R::Removed).string().not_null())
                    .col(ColumnDef::new(R::RangeStart).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(R::RangeEnd).timestamp_with_time_zone().not_null())
                    .col(
                        ColumnDef::new(R::RowCount)
                            .big_integer()
                            .not_null()
                            .check(Expr::col(R::RowCount).gte(0)),
                    )
                    .col(timestamp_now_canonical(backend, R::RemovedAt))
                    .col(ColumnDef::new(R::RemovedBy).string().not_null().default(role))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        if backend == DbBackend::Postgres {
            db.execute_unprepared(PG_APPEND_ONLY_FUNCTION).await?;
        }
        db.execute_unprepared(&append_only::rule(backend, "retention_log")).await.map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(R::Table).if_exists().to_owned()).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared("DROP FUNCTION IF EXISTS sark_append_only()").await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
