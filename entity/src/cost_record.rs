//! `cost_tracking`: the cost ledger, one row per invocation.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `cost_tracking`. On PostgreSQL the primary key is `(id, timestamp)`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "cost_tracking")]
pub struct Model {
    /// Identity assigned by the database.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When the cost was incurred (UTC, microseconds).
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: TimeDateTimeWithTimeZone,
    /// Who incurred it.
    pub principal_id: String,
    /// Resource invoked.
    pub resource_id: String,
    /// Capability invoked.
    pub capability_id: String,
    /// Estimate in micro-units of the budget currency.
    pub estimated_cost_micros: Option<i64>,
    /// Actual cost in micro-units; zero is a real cost of zero.
    pub actual_cost_micros: Option<i64>,
    /// Free-form data, a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
}

/// Cost rows keep no foreign keys: the ledger outlives what it describes.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
