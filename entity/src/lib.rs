//! sea-orm entity models of the sark-db schema: columns, relations and enums only.
//!
//! One module per table; the module is named after the row it models
//! (`cost_tracking` → [`cost_record`]).

pub mod audit_event;
pub mod audit_seal;
pub mod audit_seal_entry;
pub mod audit_seal_removal;
pub mod capability;
pub mod cost_idempotency_key;
pub mod cost_record;
pub mod federation_node;
pub mod mcp_server;
pub mod mcp_tool;
pub mod prelude;
pub mod principal_budget;
pub mod protocol;
pub mod resource;
pub mod retention_entry;
pub mod sensitivity;
pub mod timestamp;

pub use protocol::Protocol;
pub use sensitivity::SensitivityLevel;
