//! `mcp_servers`: the v1 registry of MCP servers, kept until v2 is stable.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of the v1 `mcp_servers` table.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "mcp_servers")]
pub struct Model {
    /// Server id (becomes `resources.id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Server name.
    pub name: String,
    /// Free text.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// `stdio`, `http` or `sse`.
    pub transport: String,
    /// Command line of a stdio server.
    pub command: Option<String>,
    /// Command arguments, a JSON array of strings.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub args: Option<Json>,
    /// Environment, a JSON object.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub env: Option<Json>,
    /// URL of an http/sse server.
    pub endpoint: Option<String>,
    /// Free-form sensitivity label.
    pub sensitivity_level: Option<String>,
    /// Free-form JSON.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub metadata: Option<Json>,
    /// When the row was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: TimeDateTimeWithTimeZone,
    /// When the row last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: TimeDateTimeWithTimeZone,
}

/// Relations of a v1 server.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The server's tools.
    #[sea_orm(has_many = "super::mcp_tool::Entity")]
    McpTool,
}

impl Related<super::mcp_tool::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::McpTool.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
