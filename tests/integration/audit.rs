//! The audit log: append, batches, get, trace, time-range queries with keyset pagination.

use crate::common;

use common::{CLOCK, scalar};
use rust_decimal::dec;
use sark_db::Db;
use sark_db::audit::{self, AuditCursor, AuditFilter, NewAuditEvent};
use sark_db::entity::Protocol;
use sark_db::ledger::{GroupCommit, Ledger};
use sark_db::{Conflict, Entity, Error, Page};
use serde_json::json;
use std::collections::BTreeSet;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-28 12:00 UTC);

/// Walks every page of `q` and returns the `(timestamp, id)` keys in the order seen.
async fn walk(db: &Db, mut q: AuditFilter) -> Vec<(OffsetDateTime, String)> {
    let mut keys = Vec::new();
    loop {
        let Page { items, next } = audit::query(db, &q).await.unwrap();
        keys.extend(items.into_iter().map(|e| (e.timestamp, e.id)));
        match next {
            Some(after) => q.after = Some(after),
            None => return keys,
        }
    }
}

/// Events whose every text field holds what a bulk format gives a meaning: tabs, line ends,
/// backslashes, `\N`, `\.`.
fn odd_events() -> Vec<NewAuditEvent> {
    let odd = [
        "tab\there",
        "line\nbreak",
        "cr\rreturn",
        "back\\slash",
        "\\N",
        "\\.",
        "end\\",
        "quote'\"",
        "ünï 🚀",
    ];
    odd.iter()
        .enumerate()
        .map(|(i, s)| {
            let text = Some(format!("{s} {i}"));
            NewAuditEvent {
                id: Some(format!("odd {i} {s}")),
                timestamp: T0 + Duration::seconds(i as i64),
                severity: (*s).to_owned(),
                user_id: text.clone(),
                user_email: text.clone(),
                server_id: text.clone(),
                tool_name: text.clone(),
                decision: text.clone(),
                policy_id: text.clone(),
                ip_address: text.clone(),
                user_agent: text.clone(),
                request_id: text.clone(),
                details: json!({ "s": s, "nested": [s, { "k": s }] }),
                principal_org: text.clone(),
                resource_protocol: Some(Protocol::Http),
                capability_id: text.clone(),
                correlation_id: text.clone(),
                source_node: text.clone(),
                target_node: text.clone(),
                estimated_cost: Some(dec!(0.000001) * rust_decimal::Decimal::from(i)),
                actual_cost: None,
                ..NewAuditEvent::new(*s)
            }
        })
        .collect()
}

/// Each of `events` reads back as given.
async fn stored_as_given(db: &Db, events: &[NewAuditEvent]) {
    for (i, e) in events.iter().enumerate() {
        let stored = audit::get(db, e.id.as_deref().unwrap()).await.unwrap();
        let given = [
            &e.user_id,
            &e.user_email,
            &e.server_id,
            &e.tool_name,
            &e.decision,
            &e.policy_id,
            &e.ip_address,
            &e.user_agent,
            &e.request_id,
            &e.principal_org,
            &e.capability_id,
            &e.correlation_id,
            &e.source_node,
            &e.target_node,
        ];
        let read = [
            &stored.user_id,
            &stored.user_email,
            &stored.server_id,
            &stored.tool_name,
            &stored.decision,
            &stored.policy_id,
            &stored.ip_address,
            &stored.user_agent,
            &stored.request_id,
            &stored.principal_org,
            &stored.capability_id,
            &stored.correlation_id,
            &stored.source_node,
            &stored.target_node,
        ];
        assert_eq!(given, read);
        assert_eq!(
            (&stored.event_type, &stored.severity, &stored.details),
            (&e.event_type, &e.severity, &e.details)
        );
        assert_eq!((stored.timestamp, stored.resource_protocol), (e.timestamp, e.resource_protocol));
        assert_eq!((stored.estimated_cost_micros, stored.actual_cost_micros), (Some(i as i64), None));
    }
}

on_all! {
    async fn an_event_round_trips_with_every_field(db: &Db) {
        let event = common::every_field("ev-1", datetime!(2026-11-28 13:14:15.123456789 +02:00));
        let stored = audit::append(&db.with_clock(CLOCK), &event).await.unwrap();
        assert_eq!(audit::get(db, "ev-1").await.unwrap(), stored);
        assert_eq!(stored.timestamp, datetime!(2026-11-28 11:14:15.123456 UTC), "UTC, microseconds");
        assert_eq!((stored.estimated_cost_micros, stored.actual_cost_micros), (Some(300), Some(1_000_001)));
        assert_eq!(stored.resource_protocol, Some(Protocol::Grpc));
        assert_eq!(stored.details, event.details);
        assert_eq!((stored.user_agent.as_deref(), stored.target_node.as_deref()), (Some("claude/1.0"), Some("globex")));
        assert!(matches!(audit::append(&db.with_clock(CLOCK), &event).await, Err(Error::Conflict(Conflict::Exists { entity: Entity::AuditEvent, id })) if id == "ev-1"));
        assert!(matches!(audit::get(db, "ev-2").await, Err(Error::NotFound { entity: Entity::AuditEvent, .. })));
        let generated = audit::append(&db.with_clock(CLOCK), &NewAuditEvent::new("login")).await.unwrap();
        assert_eq!(uuid::Uuid::parse_str(&generated.id).unwrap().get_version_num(), 7);
    }

    async fn a_batch_is_chunked_and_all_or_nothing(db: &Db) {
        let batch: Vec<_> = (0..4_321)
            .map(|i| NewAuditEvent { timestamp: T0 + Duration::milliseconds(i), ..NewAuditEvent::new("tool_invoked") })
            .collect();
        assert_eq!(audit::append_many(&db.with_clock(CLOCK), &batch).await.unwrap(), 4_321);
        assert_eq!(scalar(db, "SELECT count(*) FROM audit_events").await, 4_321);
        // A clash in the last chunk rolls back the chunks before it.
        let mut clash: Vec<_> = (0..2_500).map(|_| NewAuditEvent::new("x")).collect();
        clash.push(NewAuditEvent { id: Some("dup".into()), timestamp: T0, ..NewAuditEvent::new("x") });
        clash.push(NewAuditEvent { id: Some("dup".into()), timestamp: T0, ..NewAuditEvent::new("x") });
        let refused = audit::append_many(&db.with_clock(CLOCK), &clash).await;
        assert!(matches!(&refused, Err(Error::Conflict(Conflict::Exists { entity: Entity::AuditEvent, id })) if id == "dup"), "{refused:?}");
        assert_eq!(scalar(db, "SELECT count(*) FROM audit_events").await, 4_321);
        assert_eq!(audit::append_many(&db.with_clock(CLOCK), &[]).await.unwrap(), 0);
    }

    async fn a_batch_stores_every_field_as_given(db: &Db) {
        let events = odd_events();
        assert_eq!(audit::append_many(&db.with_clock(CLOCK), &events).await.unwrap(), events.len() as u64);
        stored_as_given(db, &events).await;
    }

    async fn grouped_appends_store_every_field_as_given(db: &Db) {
        let ledger = Ledger::new(db.with_clock(CLOCK), GroupCommit::default());
        let events = odd_events();
        for answer in futures::future::join_all(events.iter().map(|e| ledger.append(e))).await {
            answer.unwrap();
        }
        stored_as_given(db, &events).await;
    }

    async fn a_refused_batch_names_the_event_it_is_refused_for(db: &Db) {
        let at = |i: i64| T0 + Duration::minutes(i);
        let event = |id: &str, i| NewAuditEvent { id: Some(id.into()), timestamp: at(i), ..NewAuditEvent::new("x") };
        audit::append(&db.with_clock(CLOCK), &event("kept", 10)).await.unwrap();
        // The clash is with a stored event, in the second chunk: the database refuses it, the
        // first chunk is rolled back, and the error names the event.
        let mut batch: Vec<_> = (0..1_500).map(|i| event(&format!("b-{i}"), 100 + i)).collect();
        batch.push(event("kept", 10));
        let refused = audit::append_many(&db.with_clock(CLOCK), &batch).await;
        assert!(matches!(&refused, Err(Error::Conflict(Conflict::Exists { entity: Entity::AuditEvent, id })) if id == "kept"), "{refused:?}");
        assert_eq!(scalar(db, "SELECT count(*) FROM audit_events").await, 1);
        // An event stamped inside a sealed range, among others after it.
        audit::seal(&db.with_clock(CLOCK), at(60)).await.unwrap();
        let batch = [event("late-1", 70), event("early", 30), event("late-2", 80)];
        let refused = audit::append_many(&db.with_clock(CLOCK), &batch).await;
        assert!(matches!(&refused, Err(Error::Conflict(Conflict::Sealed { id })) if id == "early"), "{refused:?}");
        assert_eq!(scalar(db, "SELECT count(*) FROM audit_events").await, 1);
    }

    async fn a_trace_follows_one_request_across_organisations_in_time_order(db: &Db) {
        let hop = |org: &str, minutes: i64, corr: &str| NewAuditEvent {
            principal_org: Some(org.into()),
            correlation_id: Some(corr.into()),
            timestamp: T0 + Duration::minutes(minutes),
            ..NewAuditEvent::new("federated_call")
        };
        let events = [hop("globex", 2, "c-1"), hop("acme", 0, "c-1"), hop("initech", 1, "c-1"), hop("acme", 1, "c-2")];
        audit::append_many(&db.with_clock(CLOCK), &events).await.unwrap();
        let orgs: Vec<_> = audit::trace(db, "c-1").await.unwrap().into_iter().map(|e| e.principal_org.unwrap()).collect();
        assert_eq!(orgs, ["acme", "initech", "globex"]);
        assert!(audit::trace(db, "c-3").await.unwrap().is_empty());
    }

    async fn queries_narrow_by_range_and_every_filter(db: &Db) {
        let mut events = Vec::new();
        for i in 0..240i64 {
            events.push(NewAuditEvent {
                timestamp: T0 + Duration::seconds(i),
                principal_org: Some(["acme", "globex"][i as usize % 2].into()),
                source_node: Some(["n1", "n2", "n3"][i as usize % 3].into()),
                target_node: Some(["n4", "n5", "n6", "n7"][i as usize % 4].into()),
                capability_id: Some(format!("cap-{}", i % 5)),
                resource_protocol: Some([Protocol::Mcp, Protocol::Http][i as usize / 120]),
                ..NewAuditEvent::new(["tool_invoked", "policy_denied"][i as usize % 6 / 5])
            });
        }
        audit::append_many(&db.with_clock(CLOCK), &events).await.unwrap();
        let all = AuditFilter { limit: Some(1_000), ..AuditFilter::between(T0, T0 + Duration::hours(1)) };
        let count = async |q: AuditFilter| walk(db, q).await.len();
        assert_eq!(count(all.clone()).await, 240);
        assert_eq!(count(AuditFilter { to: T0 + Duration::seconds(60), ..all.clone() }).await, 60, "the end is exclusive");
        assert_eq!(count(AuditFilter { from: T0 + Duration::seconds(239), ..all.clone() }).await, 1, "the start is inclusive");
        assert_eq!(count(AuditFilter { event_type: Some("policy_denied".into()), ..all.clone() }).await, 40);
        assert_eq!(count(AuditFilter { principal_org: Some("acme".into()), ..all.clone() }).await, 120);
        assert_eq!(count(AuditFilter { source_node: Some("n3".into()), ..all.clone() }).await, 80);
        assert_eq!(count(AuditFilter { target_node: Some("n7".into()), ..all.clone() }).await, 60);
        assert_eq!(count(AuditFilter { capability_id: Some("cap-4".into()), ..all.clone() }).await, 48);
        assert_eq!(count(AuditFilter { resource_protocol: Some(Protocol::Http), ..all.clone() }).await, 120);
        assert_eq!(count(AuditFilter { resource_protocol: Some(Protocol::Grpc), ..all.clone() }).await, 0);
        let narrow = AuditFilter { principal_org: Some("acme".into()), target_node: Some("n4".into()), source_node: Some("n1".into()), ..all.clone() };
        assert_eq!(count(narrow).await, 20, "filters combine");
    }

    async fn pages_walk_thousands_of_events_with_equal_timestamps(db: &Db) {
        // 3,000 events on 7 distinct timestamps: most pages start and end inside a tie.
        let batch: Vec<_> = (0..3_000)
            .map(|i| NewAuditEvent { timestamp: T0 + Duration::microseconds(i % 7), ..NewAuditEvent::new("tick") })
            .collect();
        audit::append_many(&db.with_clock(CLOCK), &batch).await.unwrap();
        let seen = walk(db, AuditFilter { limit: Some(101), ..AuditFilter::between(T0, T0 + Duration::seconds(1)) }).await;
        assert_eq!(seen.len(), 3_000, "no repeats, no gaps");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "strictly increasing (timestamp, id)");
        assert_eq!(seen.iter().map(|(_, id)| id.clone()).collect::<BTreeSet<_>>().len(), 3_000);
        // A cursor built by hand from the middle of a tie continues right after it.
        let (at, id) = seen[1_500].clone();
        let q = AuditFilter { limit: Some(3), after: Some(AuditCursor { timestamp: at, id }), ..AuditFilter::between(T0, T0 + Duration::seconds(1)) };
        let next: Vec<_> = audit::query(db, &q).await.unwrap().items.into_iter().map(|e| (e.timestamp, e.id)).collect();
        assert_eq!(next, seen[1_501..1_504]);
    }
}
