//! `capabilities`: one tool, endpoint or method a resource offers.

use crate::SensitivityLevel;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `capabilities`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "capabilities")]
pub struct Model {
    /// Caller-supplied id or a UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The resource offering it; deleting the resource deletes the capability.
    pub resource_id: String,
    /// Name, unique in practice within a resource.
    pub name: String,
    /// What it does.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// JSON Schema of the input, a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub input_schema: Json,
    /// JSON Schema of the output, a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub output_schema: Json,
    /// Sensitivity of this capability.
    pub sensitivity_level: SensitivityLevel,
    /// Free-form data, a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
}

/// Relations of a capability.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The resource that offers it.
    #[sea_orm(
        belongs_to = "super::resource::Entity",
        from = "Column::ResourceId",
        to = "super::resource::Column::Id",
        on_delete = "Cascade"
    )]
    Resource,
}

impl Related<super::resource::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Resource.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
