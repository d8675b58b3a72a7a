//! Names the database gives its refusals, shared by the migrations that create them and the
//! library that recognises them (`tests/schema.rs` checks each exists).

/// The unique key of a capability's name under its resource (migration 13).
pub const UQ_CAPABILITIES_RESOURCE_NAME: &str = "uq_capabilities_resource_name";

/// The trigger (and, on PostgreSQL, its function) that refuses an audit event stamped inside a
/// sealed range (migration 18).
pub const AUDIT_EVENTS_UNSEALED: &str = "audit_events_unsealed";
