//! `cost_idempotency_keys`: caller keys that make cost recording exactly-once.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `cost_idempotency_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "cost_idempotency_keys")]
pub struct Model {
    /// The principal whose request used the key; keys of different principals never meet.
    #[sea_orm(primary_key, auto_increment = false)]
    pub principal_id: String,
    /// The caller's key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Canonical JSON of the request the key was first used with.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// JSON of the first outcome; set in the same transaction that claimed the key.
    #[sea_orm(column_type = "Text", nullable)]
    pub outcome: Option<String>,
    /// When the key was first used.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: TimeDateTimeWithTimeZone,
}

/// Keys have no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
