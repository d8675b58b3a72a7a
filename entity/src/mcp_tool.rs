//! `mcp_tools`: the v1 tools of MCP servers, kept until v2 is stable.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of the v1 `mcp_tools` table.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "mcp_tools")]
pub struct Model {
    /// Tool id (becomes `capabilities.id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The server offering the tool.
    pub server_id: String,
    /// Tool name.
    pub name: String,
    /// Free text.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// JSON Schema of the input.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub input_schema: Option<Json>,
    /// Free-form sensitivity label.
    pub sensitivity_level: Option<String>,
    /// Whether a human must approve each call.
    pub requires_approval: bool,
    /// Free-form JSON.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub metadata: Option<Json>,
}

/// Relations of a v1 tool.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The server offering the tool.
    #[sea_orm(
        belongs_to = "super::mcp_server::Entity",
        from = "Column::ServerId",
        to = "super::mcp_server::Column::Id",
        on_delete = "Cascade"
    )]
    McpServer,
}

impl Related<super::mcp_server::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::McpServer.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
