//! The canonical forms that seals hash, and the chained digest of one seal.
//!
//! **An event** (both versions): the event's 22 columns in table order, each written as its
//! name, `=`, then `-` for NULL or the value's byte length, `:` and the value, then a newline.
//! Timestamps are `YYYY-MM-DDTHH:MM:SS.ffffffZ`; integers are decimal; `details` is JSON with
//! object keys sorted by their UTF-8 bytes and no whitespace.
//!
//! **A removal** (a `retention_log` entry, version 2): its 8 columns in table order, written
//! the same way.
//!
//! **A seal's digest**: SHA-256 over the algorithm, the previous seal's digest, the range, each
//! event hash in `(timestamp, id)` order and their count, one per line; version 2 goes on with
//! the hash of each removal the seal chains, in id order, and their count.

use crate::timestamp;
use entity::{audit_event, retention_entry};
use sea_orm::ActiveEnum;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The canonical form seals are made with now: events and the removals recorded since the
/// previous seal.
pub const ALGORITHM: &str = "sark-audit-v2/sha256";

/// The first canonical form: events only. Seals made with it still verify.
pub const ALGORITHM_V1: &str = "sark-audit-v1/sha256";

/// A canonical record being written: `name=len:value` lines.
#[derive(Default)]
struct Record(String);

impl Record {
    /// Appends one field (`None`: NULL).
    fn field(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        let out = &mut self.0;
        out.push_str(name);
        out.push('=');
        match value {
            None => out.push('-'),
            Some(v) => {
                out.push_str(&v.len().to_string());
                out.push(':');
                out.push_str(v);
            }
        }
        out.push('\n');
        self
    }

    /// SHA-256 (hex) of the record.
    fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// SHA-256 (hex) of `event`'s canonical form.
pub(crate) fn event_hash(event: &audit_event::Model) -> String {
    let int = |v: Option<i64>| v.map(|v| v.to_string());
    let e = event;
    Record::default()
        .field("id", Some(&e.id))
        .field("timestamp", Some(&timestamp::text(e.timestamp)))
        .field("event_type", Some(&e.event_type))
        .field("severity", Some(&e.severity))
        .field("user_id", e.user_id.as_deref())
        .field("user_email", e.user_email.as_deref())
        .field("server_id", e.server_id.as_deref())
        .field("tool_name", e.tool_name.as_deref())
        .field("decision", e.decision.as_deref())
        .field("policy_id", e.policy_id.as_deref())
        .field("ip_address", e.ip_address.as_deref())
        .field("user_agent", e.user_agent.as_deref())
        .field("request_id", e.request_id.as_deref())
        .field("details", Some(&canonical_json(&e.details)))
        .field("principal_org", e.principal_org.as_deref())
        .field("resource_protocol", e.resource_protocol.map(|p| p.to_value()).as_deref())
        .field("capability_id", e.capability_id.as_deref())
        .field("correlation_id", e.correlation_id.as_deref())
        .field("source_node", e.source_node.as_deref())
        .field("target_node", e.target_node.as_deref())
        .field("estimated_cost_micros", int(e.estimated_cost_micros).as_deref())
        .field("actual_cost_micros", int(e.actual_cost_micros).as_deref())
        .hash()
}

/// SHA-256 (hex) of a removal's canonical form.
pub(crate) fn removal_hash(removal: &retention_entry::Model) -> String {
    let r = removal;
    Record::default()
        .field("id", Some(&r.id))
        .field("table_name", Some(&r.table_name))
        .field("removed", Some(&r.removed))
        .field("range_start", Some(&timestamp::text(r.range_start)))
        .field("range_end", Some(&timestamp::text(r.range_end)))
        .field("row_count", Some(&r.row_count.to_string()))
        .field("removed_at", Some(&timestamp::text(r.removed_at)))
        .field("removed_by", Some(&r.removed_by))
        .hash()
}

/// `value` as JSON with object keys sorted by their bytes and no whitespace, whatever order
/// the database or the JSON library kept them in.
fn canonical_json(value: &Json) -> String {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Json::String((*k).clone()), canonical_json(&map[*k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Json::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// The running digest of one seal.
pub(crate) struct Chain {
    hasher: Sha256,
    count: i64,
}

impl Chain {
    /// Starts the digest, in canonical form `algorithm`, of the seal of `[start, end)` that
    /// follows `previous`.
    pub(crate) fn new(algorithm: &str, previous: &str, start: OffsetDateTime, end: OffsetDateTime) -> Chain {
        let mut hasher = Sha256::new();
        hasher.update(format!(
            "{algorithm}\n{previous}\n{}\n{}\n",
            timestamp::text(start),
            timestamp::text(end)
        ));
        Chain { hasher, count: 0 }
    }

    /// Adds the next event's hash.
    pub(crate) fn add(&mut self, hash: &str) {
        self.hasher.update(hash.as_bytes());
        self.hasher.update(b"\n");
        self.count += 1;
    }

    /// The count of events and the digest (hex). `removals` are the hashes of the removals the
    /// seal chains, in id order (version 2), or `None` (version 1).
    pub(crate) fn finish(mut self, removals: Option<&[String]>) -> (i64, String) {
        self.hasher.update(format!("{}\n", self.count));
        if let Some(removals) = removals {
            for hash in removals {
                self.hasher.update(hash.as_bytes());
                self.hasher.update(b"\n");
            }
            self.hasher.update(format!("{}\n", removals.len()));
        }
        (self.count, hex::encode(self.hasher.finalize()))
    }
}
