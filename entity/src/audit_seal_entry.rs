//! `audit_seal_entries`: the hash of one sealed event. Append-only.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `audit_seal_entries`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "audit_seal_entries")]
pub struct Model {
    /// The seal the event belongs to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seal_seq: i64,
    /// The event's timestamp.
    #[sea_orm(primary_key, auto_increment = false)]
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: TimeDateTimeWithTimeZone,
    /// The event's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    /// SHA-256 (hex) of the event's canonical form.
    pub hash: String,
}

/// Entries have no relations declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
