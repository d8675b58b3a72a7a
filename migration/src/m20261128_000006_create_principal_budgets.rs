//! `principal_budgets`: per-principal daily and monthly limits and spend, in micro-units.

use crate::columns::{micros_null, timestamp_now};
use crate::tables::PrincipalBudgets;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let spent = |col| ColumnDef::new(col).big_integer().not_null().default(0).to_owned();
        let window_start = |col| ColumnDef::new(col).timestamp_with_time_zone().null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(PrincipalBudgets::Table)
                    .col(ColumnDef::new(PrincipalBudgets::PrincipalId).string().not_null().primary_key())
                    .col(micros_null(PrincipalBudgets::DailyBudgetMicros))
                    .col(micros_null(PrincipalBudgets::MonthlyBudgetMicros))
                    .col(spent(PrincipalBudgets::DailySpentMicros))
                    .col(spent(PrincipalBudgets::MonthlySpentMicros))
                    .col(window_start(PrincipalBudgets::LastDailyReset))
                    .col(window_start(PrincipalBudgets::LastMonthlyReset))
                    .col(ColumnDef::new(PrincipalBudgets::Currency).string().not_null().default("USD"))
                    .col(timestamp_now(PrincipalBudgets::CreatedAt))
                    .col(timestamp_now(PrincipalBudgets::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PrincipalBudgets::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
