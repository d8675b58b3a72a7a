//! The protocol a governed resource speaks.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Protocol of a resource, stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Model Context Protocol server.
    #[sea_orm(string_value = "mcp")]
    Mcp,
    /// Plain HTTP API.
    #[sea_orm(string_value = "http")]
    Http,
    /// gRPC service.
    #[sea_orm(string_value = "grpc")]
    Grpc,
}
