//! `resources`: a governed MCP server, HTTP API or gRPC service.

use crate::{Protocol, SensitivityLevel};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `resources`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "resources")]
pub struct Model {
    /// Caller-supplied id or a UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Protocol the resource speaks.
    pub protocol: Protocol,
    /// Where the resource is reached (URL or command).
    pub endpoint: String,
    /// Sensitivity of the resource as a whole.
    pub sensitivity_level: SensitivityLevel,
    /// Protocol-specific data, always a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    /// When the row was created (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: TimeDateTimeWithTimeZone,
    /// When the row last changed (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: TimeDateTimeWithTimeZone,
}

/// Relations of a resource.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The capabilities the resource offers.
    #[sea_orm(has_many = "super::capability::Entity")]
    Capability,
}

impl Related<super::capability::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Capability.def()
    }
}

crate::timestamp::touches_updated_at!();
