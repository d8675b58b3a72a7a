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
use std::fmt::Write;
use time::OffsetDateTime;

/// The canonical form seals are made with now: events and the removals recorded since the
/// previous seal.
pub const ALGORITHM: &str = "sark-audit-v2/sha256";

/// The first canonical form: events only. Seals made with it still verify.
pub const ALGORITHM_V1: &str = "sark-audit-v1/sha256";

/// A canonical record being written: `name=len:value` lines.
struct Record {
    /// The record so far.
    text: String,
    /// The value being written, whose length goes first.
    value: String,
}

impl Record {
    /// An empty record.
    fn new() -> Record {
        Record { text: String::with_capacity(512), value: String::with_capacity(128) }
    }

    /// Appends one field (`None`: NULL).
    fn field(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        push_field(&mut self.text, name, value);
        self
    }

    /// Appends one field whose value `write` writes.
    fn written(&mut self, name: &str, write: impl FnOnce(&mut String)) -> &mut Self {
        self.value.clear();
        write(&mut self.value);
        push_field(&mut self.text, name, Some(&self.value));
        self
    }

    /// Appends an integer field (`None`: NULL).
    fn integer(&mut self, name: &str, value: Option<i64>) -> &mut Self {
        match value {
            None => self.field(name, None),
            Some(n) => self.written(name, |out| out.push_str(itoa::Buffer::new().format(n))),
        }
    }

    /// Appends a timestamp field.
    fn timestamp(&mut self, name: &str, t: OffsetDateTime) -> &mut Self {
        self.written(name, |out| timestamp::write_text(out, t))
    }

    /// SHA-256 (hex) of the record.
    fn hash(&self) -> String {
        let mut digits = [0; 64];
        hex::encode_to_slice(Sha256::digest(self.text.as_bytes()), &mut digits)
            .expect("32 bytes are 64 digits");
        String::from_utf8_lossy(&digits).into_owned()
    }
}

/// Appends the line of one field to `out`: `name=-` for NULL, else `name=len:value`.
fn push_field(out: &mut String, name: &str, value: Option<&str>) {
    out.push_str(name);
    match value {
        None => out.push_str("=-\n"),
        Some(v) => {
            out.push('=');
            out.push_str(itoa::Buffer::new().format(v.len()));
            out.push(':');
            out.push_str(v);
            out.push('\n');
        }
    }
}

/// SHA-256 (hex) of `event`'s canonical form.
pub(crate) fn event_hash(event: &audit_event::Model) -> String {
    let e = event;
    Record::new()
        .field("id", Some(&e.id))
        .timestamp("timestamp", e.timestamp)
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
        .written("details", |out| canonical_json(out, &e.details))
        .field("principal_org", e.principal_org.as_deref())
        .field("resource_protocol", e.resource_protocol.map(|p| p.to_value()).as_deref())
        .field("capability_id", e.capability_id.as_deref())
        .field("correlation_id", e.correlation_id.as_deref())
        .field("source_node", e.source_node.as_deref())
        .field("target_node", e.target_node.as_deref())
        .integer("estimated_cost_micros", e.estimated_cost_micros)
        .integer("actual_cost_micros", e.actual_cost_micros)
        .hash()
}

/// SHA-256 (hex) of a removal's canonical form.
pub(crate) fn removal_hash(removal: &retention_entry::Model) -> String {
    let r = removal;
    Record::new()
        .field("id", Some(&r.id))
        .field("table_name", Some(&r.table_name))
        .field("removed", Some(&r.removed))
        .timestamp("range_start", r.range_start)
        .timestamp("range_end", r.range_end)
        .integer("row_count", Some(r.row_count))
        .timestamp("removed_at", r.removed_at)
        .field("removed_by", Some(&r.removed_by))
        .hash()
}

/// Appends `value` as JSON with object keys sorted by their bytes and no whitespace, whatever
/// order the database or the JSON library kept them in.
fn canonical_json(out: &mut String, value: &Json) {
    let written = match value {
        Json::Object(map) => {
            let mut fields: Vec<_> = map.iter().collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write!(out, "{}:", Json::from(key.as_str())).expect("writing to a String");
                canonical_json(out, value);
            }
            out.push('}');
            Ok(())
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(out, item);
            }
            out.push(']');
            Ok(())
        }
        other => write!(out, "{other}"),
    };
    written.expect("writing to a String");
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

#[cfg(test)]
mod tests {
    use super::{event_hash, removal_hash};
    use entity::{Protocol, audit_event, retention_entry};
    use serde_json::json;
    use sha2::{Digest, Sha256};
    use time::macros::datetime;

    /// SHA-256 (hex) of `text`.
    fn sha256(text: &str) -> String {
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// An event's hash is SHA-256 of the form the module documents, written out here by hand:
    /// a seal made today must verify with any later build.
    #[test]
    fn an_event_hashes_as_its_documented_canonical_form() {
        let event = audit_event::Model {
            id: "ev-1".into(),
            timestamp: datetime!(2026-01-02 03:04:05.678901 UTC),
            event_type: "tool_invoked".into(),
            severity: "high".into(),
            user_id: Some("ann".into()),
            user_email: Some("ann@example.org".into()),
            server_id: None,
            tool_name: Some("grep\tall\n".into()),
            decision: Some("allow".into()),
            policy_id: None,
            ip_address: Some("10.0.0.1".into()),
            user_agent: Some("bot/1.0 (Ünïcode)".into()),
            request_id: Some(String::new()),
            details: json!({"b": [1, 2.5, {"z": null, "a": "x\"y"}], "a": true, "é": -3, "B": {}}),
            principal_org: Some("org".into()),
            resource_protocol: Some(Protocol::Grpc),
            capability_id: None,
            correlation_id: Some("req-7".into()),
            source_node: None,
            target_node: Some("node-b".into()),
            estimated_cost_micros: Some(1_500_000),
            actual_cost_micros: Some(-2),
        };
        let details = r#"{"B":{},"a":true,"b":[1,2.5,{"a":"x\"y","z":null}],"é":-3}"#;
        let form = format!(
            "id=4:ev-1\ntimestamp=27:2026-01-02T03:04:05.678901Z\nevent_type=12:tool_invoked\nseverity=4:high\n\
             user_id=3:ann\nuser_email=15:ann@example.org\nserver_id=-\ntool_name=9:grep\tall\n\n\
             decision=5:allow\npolicy_id=-\nip_address=8:10.0.0.1\nuser_agent=19:bot/1.0 (Ünïcode)\n\
             request_id=0:\ndetails={}:{details}\nprincipal_org=3:org\nresource_protocol=4:grpc\n\
             capability_id=-\ncorrelation_id=5:req-7\nsource_node=-\ntarget_node=6:node-b\n\
             estimated_cost_micros=7:1500000\nactual_cost_micros=2:-2\n",
            details.len()
        );
        assert_eq!(event_hash(&event), sha256(&form));
    }

    /// A removal's hash is SHA-256 of its documented canonical form.
    #[test]
    fn a_removal_hashes_as_its_documented_canonical_form() {
        let removal = retention_entry::Model {
            id: "rm-1".into(),
            table_name: "audit_events".into(),
            removed: "dropped partition audit_events_p2026_01".into(),
            range_start: datetime!(2026-01-01 00:00 UTC),
            range_end: datetime!(2026-02-01 00:00 UTC),
            row_count: 1234,
            removed_at: datetime!(2026-12-06 19:00:00.5 UTC),
            removed_by: "sark-db".into(),
        };
        let form = "id=4:rm-1\ntable_name=12:audit_events\nremoved=39:dropped partition audit_events_p2026_01\n\
             range_start=27:2026-01-01T00:00:00.000000Z\nrange_end=27:2026-02-01T00:00:00.000000Z\n\
             row_count=4:1234\nremoved_at=27:2026-12-06T19:00:00.500000Z\nremoved_by=7:sark-db\n";
        assert_eq!(removal_hash(&removal), sha256(form));
    }
}
