//! `audit_seals`: one sealed time range of the audit log. Append-only.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `audit_seals`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "audit_seals")]
pub struct Model {
    /// 1 for the first seal, then one more for each.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    /// Start of the sealed range (inclusive): the end of the previous seal.
    #[serde(with = "time::serde::rfc3339")]
    pub range_start: TimeDateTimeWithTimeZone,
    /// End of the sealed range (exclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub range_end: TimeDateTimeWithTimeZone,
    /// Events in the range when it was sealed.
    pub event_count: i64,
    /// SHA-256 (hex) over the previous digest, the range, the events' hashes and their count.
    pub digest: String,
    /// The previous seal's digest; 64 zeros for the first seal.
    pub previous_digest: String,
    /// Canonical encoding and hash, e.g. `sark-audit-v1/sha256`.
    pub algorithm: String,
    /// When the seal was made.
    #[serde(with = "time::serde::rfc3339")]
    pub sealed_at: TimeDateTimeWithTimeZone,
}

/// Seals have no relations declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
