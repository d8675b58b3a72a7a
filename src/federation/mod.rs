//! Trusted SARK nodes of other organisations, addressed by `node_id`, and the X.509 trust
//! anchors they are trusted by.

mod nodes;
pub mod trust_anchor;

pub use nodes::{
    DEFAULT_RATE_LIMIT_PER_HOUR, NewNode, NodeTrust, delete, expiring, get, list, list_enabled, register,
    rotate_trust_anchor, set_enabled, set_rate_limit, trust,
};
