//! `federation_nodes`: trusted SARK nodes of other organisations.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `federation_nodes`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "federation_nodes")]
pub struct Model {
    /// Row id (UUIDv7 or caller-supplied).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The node's federation identity, unique.
    #[sea_orm(unique)]
    pub node_id: String,
    /// Human-readable name.
    pub name: String,
    /// Absolute https URL of the node.
    pub endpoint: String,
    /// PEM X.509 certificate that anchors trust in the node.
    #[sea_orm(column_type = "Text")]
    pub trust_anchor_cert: String,
    /// Whether requests from the node are accepted.
    pub enabled: bool,
    /// When the current trust anchor was installed.
    #[serde(with = "time::serde::rfc3339")]
    pub trusted_since: TimeDateTimeWithTimeZone,
    /// Requests per hour the node may make.
    pub rate_limit_per_hour: i32,
    /// Free-form data, a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    /// When the row was created (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: TimeDateTimeWithTimeZone,
    /// When the row last changed (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: TimeDateTimeWithTimeZone,
}

/// Federation nodes have no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

crate::timestamp::touches_updated_at!();
