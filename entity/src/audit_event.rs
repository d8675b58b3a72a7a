//! `audit_events`: the append-only audit log (v1 columns plus the v2 federation and cost columns).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `audit_events`. The primary key is `(id, timestamp)` (a time-partitioned table
/// needs the timestamp in every unique key), except that an SQLite database adopted from v1
/// keeps v1's `(id)`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// UUIDv7 or caller-supplied id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// When the event happened (UTC, microseconds).
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: TimeDateTimeWithTimeZone,
    /// What happened, e.g. `tool_invoked`.
    pub event_type: String,
    /// Severity label (v1 vocabulary).
    pub severity: String,
    /// Acting user.
    pub user_id: Option<String>,
    /// Acting user's e-mail.
    pub user_email: Option<String>,
    /// v1 server id (a resource id in v2).
    pub server_id: Option<String>,
    /// v1 tool name.
    pub tool_name: Option<String>,
    /// Policy decision, e.g. `allow`.
    pub decision: Option<String>,
    /// Policy that decided.
    pub policy_id: Option<String>,
    /// Client address.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Free-form details, a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub details: Json,
    /// Organisation of the principal (federation).
    pub principal_org: Option<String>,
    /// Protocol of the resource involved.
    pub resource_protocol: Option<crate::Protocol>,
    /// Capability involved.
    pub capability_id: Option<String>,
    /// Cross-organisation correlation id.
    pub correlation_id: Option<String>,
    /// Federation node the request came from.
    pub source_node: Option<String>,
    /// Federation node the request went to.
    pub target_node: Option<String>,
    /// Estimated cost in micro-units.
    pub estimated_cost_micros: Option<i64>,
    /// Actual cost in micro-units.
    pub actual_cost_micros: Option<i64>,
}

/// Audit events relate to nothing by foreign key: they outlive what they describe.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
