//! Bad input across resources, capabilities, federation and audit: a typed error naming the
//! field, and nothing written. Odd but valid strings are stored verbatim.

use crate::common;

use common::{CLOCK, certs, scalar};
use rust_decimal::dec;
use sark_db::Db;
use sark_db::audit::{self, AuditFilter, NewAuditEvent};
use sark_db::entity::Protocol;
use sark_db::federation::{self, NewNode};
use sark_db::registry::capabilities::{self, CapabilityPatch, NewCapability};
use sark_db::registry::resources::{self, NewResource, ResourceFilter, ResourcePatch};
use sark_db::registry::{self, discovery};
use sark_db::{Conflict, Entity, Error};
use serde_json::json;
use time::macros::datetime;

/// What a bad input must yield.
#[derive(Debug)]
enum Expect {
    Validation(&'static str),
    NotFound(Entity),
    Exists(Entity),
}

fn check(case: &str, result: &Result<(), Error>, expect: &Expect) {
    let ok = match (result, expect) {
        (Err(Error::Validation { field, .. }), Expect::Validation(want)) => field == want,
        (Err(Error::NotFound { entity, .. }), Expect::NotFound(want)) => entity == want,
        (Err(Error::Conflict(Conflict::Exists { entity, .. })), Expect::Exists(want)) => entity == want,
        _ => false,
    };
    assert!(ok, "{case}: expected {expect:?}, got {result:?}");
}

/// Only whether it failed, and how.
fn d<T>(result: Result<T, Error>) -> Result<(), Error> {
    result.map(drop)
}

async fn counts(db: &Db) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["resources", "capabilities", "federation_nodes", "audit_events"] {
        counts.push(scalar(db, &format!("SELECT count(*) FROM {table}")).await);
    }
    counts
}

fn mcp(name: &str) -> NewResource {
    NewResource::new(name, Protocol::Mcp, "npx server")
}

fn node(node_id: &str, endpoint: &str, pem: &str) -> NewNode {
    NewNode::new(node_id, "Partner", endpoint, pem)
}

on_all! {
    async fn bad_input_is_refused_by_field_and_writes_nothing(db: &Db) {
        use Expect::*;
        let (pem, _) = certs::certificate("partner.example.org");
        let (other_pem, _) = certs::certificate("other.example.org");
        let key = certs::private_key();
        let (expired, _) = certs::certificate_valid("old", datetime!(2020-01-01 0:00 UTC), datetime!(2021-01-01 0:00 UTC));
        let url = "https://partner.example.org";
        resources::create(db, &NewResource { id: Some("r-1".into()), ..mcp("one") }).await.unwrap();
        capabilities::create(db, "r-1", &NewCapability { id: Some("c-1".into()), ..NewCapability::new("read") }).await.unwrap();
        federation::register(db, &node("partner", url, &pem)).await.unwrap();
        audit::append(&db.with_clock(CLOCK), &NewAuditEvent::new("seed")).await.unwrap();
        let before = counts(db).await;
        let long = "x".repeat(256);

        let cases: Vec<(&str, Expect, Result<(), Error>)> = vec![
            ("empty resource name", Validation("name"), d(resources::create(db, &mcp("")).await)),
            ("blank resource name", Validation("name"), d(resources::create(db, &mcp(" \t ")).await)),
            ("resource name of 256 characters", Validation("name"), d(resources::create(db, &mcp(&"é".repeat(256))).await)),
            ("empty resource id", Validation("id"), d(resources::create(db, &NewResource { id: Some(String::new()), ..mcp("a") }).await)),
            ("empty endpoint", Validation("endpoint"), d(resources::create(db, &NewResource::new("a", Protocol::Http, "")).await)),
            ("endpoint of 2049 characters", Validation("endpoint"), d(resources::create(db, &NewResource::new("a", Protocol::Http, "h".repeat(2_049))).await)),
            ("metadata array", Validation("metadata"), d(resources::create(db, &NewResource { metadata: json!([1]), ..mcp("a") }).await)),
            ("duplicate resource id", Exists(Entity::Resource), d(resources::create(db, &NewResource { id: Some("r-1".into()), ..mcp("again") }).await)),
            ("protocol outside the vocabulary", Validation("protocol"), d(registry::parse_protocol("ftp"))),
            ("protocol in upper case", Validation("protocol"), d(registry::parse_protocol("MCP"))),
            ("sensitivity outside the vocabulary", Validation("sensitivity_level"), d(registry::parse_sensitivity("extreme"))),
            ("patch of a missing resource", NotFound(Entity::Resource), d(resources::update(db, "nope", &ResourcePatch { name: Some("n".into()), ..Default::default() }).await)),
            ("patch with metadata string", Validation("metadata"), d(resources::update(db, "r-1", &ResourcePatch { metadata: Some(json!("s")), ..Default::default() }).await)),
            ("patch with empty name", Validation("name"), d(resources::update(db, "r-1", &ResourcePatch { name: Some(String::new()), ..Default::default() }).await)),
            ("page of 0", Validation("limit"), d(resources::list(db, &ResourceFilter { limit: Some(0), ..Default::default() }).await)),
            ("page of 1001", Validation("limit"), d(resources::list(db, &ResourceFilter { limit: Some(1_001), ..Default::default() }).await)),
            ("delete of a missing resource", NotFound(Entity::Resource), d(resources::delete(db, "nope").await)),
            ("capability of a missing resource", NotFound(Entity::Resource), d(capabilities::create(db, "nope", &NewCapability::new("read")).await)),
            ("input schema array", Validation("input_schema"), d(capabilities::create(db, "r-1", &NewCapability { input_schema: json!([]), ..NewCapability::new("a") }).await)),
            ("output schema null", Validation("output_schema"), d(capabilities::create(db, "r-1", &NewCapability { output_schema: json!(null), ..NewCapability::new("a") }).await)),
            ("capability name of 256 characters", Validation("name"), d(capabilities::create(db, "r-1", &NewCapability::new(long.as_str())).await)),
            ("duplicate capability id", Exists(Entity::Capability), d(capabilities::create(db, "r-1", &NewCapability { id: Some("c-1".into()), ..NewCapability::new("b") }).await)),
            ("capability patch with schema number", Validation("input_schema"), d(capabilities::update(db, "c-1", &CapabilityPatch { input_schema: Some(json!(7)), ..Default::default() }).await)),
            ("delete of a missing capability", NotFound(Entity::Capability), d(capabilities::delete(db, "nope").await)),
            ("sync with a duplicate name", Validation("name"), d(discovery::sync(db, "r-1", &[NewCapability::new("a"), NewCapability::new("b"), NewCapability::new("a")]).await)),
            ("sync with a bad schema", Validation("metadata"), d(discovery::sync(db, "r-1", &[NewCapability { metadata: json!(true), ..NewCapability::new("a") }]).await)),
            ("sync of a missing resource", NotFound(Entity::Resource), d(discovery::sync(db, "nope", &[NewCapability::new("a")]).await)),
            ("plain http to a public host", Validation("endpoint"), d(federation::register(db, &node("n", "http://partner.example.org", &pem)).await)),
            ("credentials in the URL", Validation("endpoint"), d(federation::register(db, &node("n", "https://user:secret@partner.example.org", &pem)).await)),
            ("user name in the URL", Validation("endpoint"), d(federation::register(db, &node("n", "https://user@partner.example.org", &pem)).await)),
            ("relative URL", Validation("endpoint"), d(federation::register(db, &node("n", "partner.example.org/sark", &pem)).await)),
            ("ftp URL", Validation("endpoint"), d(federation::register(db, &node("n", "ftp://partner.example.org", &pem)).await)),
            ("URL without host", Validation("endpoint"), d(federation::register(db, &node("n", "file:///etc/passwd", &pem)).await)),
            ("private key as trust anchor", Validation("trust_anchor_cert"), d(federation::register(db, &node("n", url, &key)).await)),
            ("certificate followed by its key", Validation("trust_anchor_cert"), d(federation::register(db, &node("n", url, &format!("{other_pem}{key}"))).await)),
            ("two certificates", Validation("trust_anchor_cert"), d(federation::register(db, &node("n", url, &format!("{pem}{other_pem}"))).await)),
            ("garbage as trust anchor", Validation("trust_anchor_cert"), d(federation::register(db, &node("n", url, "not a certificate")).await)),
            ("broken base64 in the block", Validation("trust_anchor_cert"), d(federation::register(db, &node("n", url, &pem.replacen('M', "*", 3))).await)),
            ("expired certificate", Validation("trust_anchor_cert"), d(federation::register(db, &node("n", url, &expired)).await)),
            ("rate limit of 0", Validation("rate_limit_per_hour"), d(federation::register(db, &NewNode { rate_limit_per_hour: 0, ..node("n", url, &pem) }).await)),
            ("duplicate node_id", Exists(Entity::FederationNode), d(federation::register(db, &node("partner", url, &other_pem)).await)),
            ("negative rate limit change", Validation("rate_limit_per_hour"), d(federation::set_rate_limit(db, "partner", -5).await)),
            ("rotation to a private key", Validation("trust_anchor_cert"), d(federation::rotate_trust_anchor(db, "partner", &key).await)),
            ("get of a missing node", NotFound(Entity::FederationNode), d(federation::get(db, "nope").await)),
            ("empty event type", Validation("event_type"), d(audit::append(&db.with_clock(CLOCK), &NewAuditEvent::new("")).await)),
            ("details array", Validation("details"), d(audit::append(&db.with_clock(CLOCK), &NewAuditEvent { details: json!([]), ..NewAuditEvent::new("x") }).await)),
            ("negative estimated cost", Validation("estimated_cost"), d(audit::append(&db.with_clock(CLOCK), &NewAuditEvent { estimated_cost: Some(dec!(-0.01)), ..NewAuditEvent::new("x") }).await)),
            ("actual cost with 7 decimals", Validation("actual_cost"), d(audit::append(&db.with_clock(CLOCK), &NewAuditEvent { actual_cost: Some(dec!(0.0000001)), ..NewAuditEvent::new("x") }).await)),
            ("user agent of 256 characters", Validation("user_agent"), d(audit::append(&db.with_clock(CLOCK), &NewAuditEvent { user_agent: Some(long.clone()), ..NewAuditEvent::new("x") }).await)),
            ("batch with one bad event", Validation("correlation_id"), d(audit::append_many(&db.with_clock(CLOCK), &[NewAuditEvent::new("ok"), NewAuditEvent { correlation_id: Some(String::new()), ..NewAuditEvent::new("x") }]).await)),
            ("range ending before it starts", Validation("to"), d(audit::query(db, &AuditFilter::between(datetime!(2026-02-01 0:00 UTC), datetime!(2026-01-01 0:00 UTC))).await)),
            ("NUL in a capability description", Validation("description"), d(capabilities::create(db, "r-1", &NewCapability { description: Some("a\0".into()), ..NewCapability::new("d") }).await)),
            ("NUL in a name prefix", Validation("name_prefix"), d(resources::list(db, &ResourceFilter { name_prefix: Some("\0".into()), ..Default::default() }).await)),
            ("NUL in a trace id", Validation("correlation_id"), d(audit::trace(db, "a\0").await)),
            ("timestamp before the year 1", Validation("timestamp"), d(audit::append(&db.with_clock(CLOCK), &NewAuditEvent { timestamp: datetime!(-0001-06-01 0:00 UTC), ..NewAuditEvent::new("x") }).await)),
        ];
        for (case, expect, result) in &cases {
            check(case, result, expect);
        }
        assert_eq!(counts(db).await, before, "no bad input wrote a row");
        assert_eq!(federation::get(db, "partner").await.unwrap().trust_anchor_cert, pem, "the refused rotation left the anchor");
    }

    async fn odd_strings_are_stored_verbatim(db: &Db) {
        let names = [
            "'; DROP TABLE resources; --".to_owned(),
            "Robert\"); DELETE FROM capabilities WHERE ('1'='1".to_owned(),
            "%_\\ LIKE *? $1 ?1 :name".to_owned(),
            "日本語のサーバー 🚀🔥 émoji".to_owned(),
            "é".repeat(255),
            "🦀".repeat(255),
        ];
        for (i, name) in names.iter().enumerate() {
            let new = NewResource { id: Some(format!("{name}#{i}").chars().rev().take(255).collect()), metadata: json!({ name.as_str(): name }), ..mcp(name) };
            let created = resources::create(db, &new).await.unwrap();
            let read = resources::get(db, &created.id).await.unwrap();
            assert_eq!((&read.name, &read.metadata, &read.id), (name, &new.metadata, new.id.as_ref().unwrap()));
            let cap = NewCapability { description: Some(format!("{name}\n").repeat(400)), ..NewCapability::new(name.as_str()) };
            let stored = capabilities::create(db, &created.id, &cap).await.unwrap();
            assert_eq!(capabilities::get(db, &stored.id).await.unwrap().description, cap.description);
            assert_eq!(capabilities::find_by_name(db, name).await.unwrap().len(), 1);
        }
        let page = resources::list(db, &ResourceFilter { name_prefix: Some("'; DROP".into()), ..Default::default() }).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(scalar(db, "SELECT count(*) FROM resources").await, 6);
    }
}
