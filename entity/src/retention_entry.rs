//! `retention_log`: what retention removed. Append-only.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `retention_log`: one partition, chunk or month of rows that retention removed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "retention_log")]
pub struct Model {
    /// A UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The table the rows were removed from (`audit_events`, `cost_tracking`).
    pub table_name: String,
    /// What was removed: a partition or chunk name, or `rows` (SQLite).
    pub removed: String,
    /// Start of the removed time range (UTC, inclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub range_start: TimeDateTimeWithTimeZone,
    /// End of the removed time range (UTC, exclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub range_end: TimeDateTimeWithTimeZone,
    /// How many rows went.
    pub row_count: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub removed_at: TimeDateTimeWithTimeZone,
    /// The database role that removed them (`sqlite` on SQLite, which has no roles).
    pub removed_by: String,
}

/// Retention entries have no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
