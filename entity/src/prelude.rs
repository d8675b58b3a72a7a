//! Every entity under the name of its row, for `use entity::prelude::*`.

pub use crate::audit_event::Entity as AuditEvent;
pub use crate::audit_seal::Entity as AuditSeal;
pub use crate::audit_seal_entry::Entity as AuditSealEntry;
pub use crate::audit_seal_removal::Entity as AuditSealRemoval;
pub use crate::capability::Entity as Capability;
pub use crate::cost_idempotency_key::Entity as CostIdempotencyKey;
pub use crate::cost_record::Entity as CostRecord;
pub use crate::federation_node::Entity as FederationNode;
pub use crate::mcp_server::Entity as McpServer;
pub use crate::mcp_tool::Entity as McpTool;
pub use crate::principal_budget::Entity as PrincipalBudget;
pub use crate::resource::Entity as Resource;
pub use crate::retention_entry::Entity as RetentionEntry;
pub use crate::{Protocol, SensitivityLevel};
