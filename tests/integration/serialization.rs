//! Public types and entities serialise timestamps as RFC 3339 text, and read it back.

use rust_decimal::dec;
use sark_db::entity::{principal_budget, resource};
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::NewCost;
use sark_db::registry::resources::{self, NewResource};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

on_all! {
    async fn stored_rows_serialise_timestamps_as_rfc3339(db: &Db) {
        let r = resources::create(db, &NewResource::new("one", sark_db::entity::Protocol::Mcp, "x")).await.unwrap();
        let value = serde_json::to_value(&r).unwrap();
        let text = value["created_at"].as_str().unwrap_or_else(|| panic!("created_at is not text: {value}"));
        assert_eq!(OffsetDateTime::parse(text, &Rfc3339).unwrap(), r.created_at);
        assert_eq!(serde_json::from_value::<resource::Model>(value).unwrap(), r, "round trip");

        let limits = Limits { daily: Some(dec!(5)), monthly: None, currency: "USD".into() };
        let b = budgets::set_limits(db, "ann", &limits).await.unwrap();
        let value = serde_json::to_value(&b).unwrap();
        assert_eq!(value["last_daily_reset"], json!(null));
        assert!(value["updated_at"].is_string(), "{value}");
        assert_eq!(serde_json::from_value::<principal_budget::Model>(value).unwrap(), b);

        let status = budgets::status(db, "ann", datetime!(2026-11-28 12:00 UTC)).await.unwrap();
        assert_eq!(serde_json::to_value(&status).unwrap()["daily"]["start"], json!("2026-11-28T00:00:00Z"));
    }
}

#[test]
fn inputs_read_rfc3339_timestamps() {
    let cost: NewCost = serde_json::from_value(json!({
        "principal_id": "ann", "resource_id": "r", "capability_id": "c",
        "estimated": null, "actual": "0.5", "timestamp": "2026-11-28T13:00:00.25+01:00",
        "idempotency_key": null, "metadata": {}
    }))
    .unwrap();
    assert_eq!(cost.timestamp, datetime!(2026-11-28 12:00:00.25 UTC));
    let text = serde_json::to_value(&cost).unwrap()["timestamp"].as_str().unwrap().to_owned();
    assert_eq!(text, "2026-11-28T13:00:00.25+01:00", "the caller's instant, as given");
}
