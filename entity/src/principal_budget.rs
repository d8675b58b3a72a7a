//! `principal_budgets`: daily and monthly limits and spend of one principal.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `principal_budgets`. `None` limits mean unlimited.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "principal_budgets")]
pub struct Model {
    /// The principal the budget belongs to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub principal_id: String,
    /// Daily limit in micro-units.
    pub daily_budget_micros: Option<i64>,
    /// Monthly limit in micro-units.
    pub monthly_budget_micros: Option<i64>,
    /// Spent in the window starting at `last_daily_reset`.
    pub daily_spent_micros: i64,
    /// Spent in the window starting at `last_monthly_reset`.
    pub monthly_spent_micros: i64,
    /// Start (UTC midnight) of the daily window `daily_spent_micros` counts.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_daily_reset: Option<TimeDateTimeWithTimeZone>,
    /// Start (UTC first of month) of the monthly window `monthly_spent_micros` counts.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_monthly_reset: Option<TimeDateTimeWithTimeZone>,
    /// ISO 4217 currency code.
    pub currency: String,
    /// When the row was created (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: TimeDateTimeWithTimeZone,
    /// When the row last changed (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: TimeDateTimeWithTimeZone,
}

/// Budgets have no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

crate::timestamp::touches_updated_at!();
