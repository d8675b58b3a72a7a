//! `audit_seal_removals`: a retention removal chained into a seal. Append-only.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `audit_seal_removals`: seal `seal_seq` chains the `retention_log` entry
/// `removal_id` as it hashed then.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "audit_seal_removals")]
pub struct Model {
    /// The seal that chains the removal.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seal_seq: i64,
    /// The `retention_log` entry's id (chained once).
    #[sea_orm(primary_key, auto_increment = false)]
    pub removal_id: String,
    /// SHA-256 (hex) of the entry's canonical form.
    pub hash: String,
}

/// Removals chained have no relations declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
