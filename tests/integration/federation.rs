//! Federation nodes: registration, trust anchors, enable/disable, rate limits.

use crate::common;

use common::certs;
use common::scalar;
use sark_db::Entity;
use sark_db::Error;
use sark_db::federation::trust_anchor;
use sark_db::federation::{self, NewNode};
use sea_orm::ConnectionTrait;
use sha2::{Digest, Sha256};
use time::macros::datetime;

fn node(node_id: &str) -> NewNode {
    NewNode::new(
        node_id,
        format!("Node {node_id}"),
        format!("https://{node_id}.example.org/federation"),
        certs::certificate(node_id).0,
    )
}

on_all! {
    async fn a_node_registers_and_exposes_its_trust_anchor(db: &Db) {
        let not_before = datetime!(2026-01-01 0:00 UTC);
        let not_after = datetime!(2036-01-01 0:00 UTC);
        let (pem, der) = certs::certificate_valid("partner.example.org", not_before, not_after);
        let new = NewNode { rate_limit_per_hour: 500, ..NewNode::new("partner", "Partner Org", "https://partner.example.org:8443/sark", pem.clone()) };
        let created = federation::register(db, &new).await.unwrap();
        assert_eq!(federation::get(db, "partner").await.unwrap(), created);
        assert_eq!((created.trust_anchor_cert.as_str(), created.rate_limit_per_hour, created.enabled), (pem.as_str(), 500, true));
        assert_eq!(created.trusted_since, created.created_at);
        let anchor = trust_anchor::inspect(&created.trust_anchor_cert).unwrap();
        assert_eq!(anchor.fingerprint_sha256, hex::encode(Sha256::digest(&der)));
        assert_eq!(anchor.fingerprint_sha256.len(), 64);
        assert_eq!((anchor.not_before, anchor.not_after), (not_before, not_after));
        assert_eq!(anchor.subject, "CN=partner.example.org");
    }

    async fn loopback_http_is_accepted_for_local_nodes(db: &Db) {
        for (i, endpoint) in ["http://localhost:9000", "http://127.0.0.1:8080/x", "http://127.8.9.1", "http://[::1]:7000", "https://10.0.0.7"].iter().enumerate() {
            let new = NewNode { endpoint: endpoint.to_string(), ..node(&format!("n{i}")) };
            assert_eq!(federation::register(db, &new).await.unwrap().endpoint, *endpoint);
        }
    }

    async fn disabled_nodes_stay_but_are_not_listed(db: &Db) {
        for id in ["c", "a", "b"] {
            federation::register(db, &node(id)).await.unwrap();
        }
        federation::register(db, &NewNode { enabled: false, ..node("d") }).await.unwrap();
        let enabled = async || federation::list_enabled(db).await.unwrap().into_iter().map(|n| n.node_id).collect::<Vec<_>>();
        assert_eq!(enabled().await, ["a", "b", "c"]);
        let disabled = federation::set_enabled(db, "b", false).await.unwrap();
        assert!(!disabled.enabled);
        assert_eq!(enabled().await, ["a", "c"]);
        assert_eq!(scalar(db, "SELECT count(*) FROM federation_nodes").await, 4);
        assert!(federation::set_enabled(db, "d", true).await.unwrap().enabled);
        assert_eq!(enabled().await, ["a", "c", "d"]);
        assert!(matches!(federation::set_enabled(db, "zz", true).await, Err(Error::NotFound { entity: Entity::FederationNode, .. })));
    }

    async fn nodes_are_listed_with_days_left_and_the_expiring_enabled_ones_found(db: &Db) {
        use time::{Duration, OffsetDateTime};
        let now = OffsetDateTime::now_utc();
        // (node, days its anchor is valid from now, enabled); the expired one is written past
        // registration, which refuses an expired anchor.
        let nodes = [("a", 400, true), ("b", 20, true), ("c", 20, false), ("d", 45, true), ("e", -3, true)];
        for (id, days, enabled) in nodes {
            let (pem, _) = certs::certificate_valid(id, now - Duration::days(500), now + Duration::days(days.max(1)) - Duration::hours(1));
            federation::register(db, &NewNode { enabled, ..NewNode::new(id, id, format!("https://{id}.example"), pem) }).await.unwrap();
            if days < 0 {
                let (old, _) = certs::certificate_valid(id, now - Duration::days(500), now + Duration::days(days) - Duration::hours(1));
                let update = sea_orm::Statement::from_sql_and_values(db.get_database_backend(),
                    "UPDATE federation_nodes SET trust_anchor_cert = $1 WHERE node_id = $2", [old.into(), id.into()]);
                db.execute_raw(update).await.unwrap();
            }
        }
        let listed = federation::trust(db, now).await.unwrap();
        // Each anchor ends an hour before a whole number of days from now: one day fewer left.
        let days: Vec<(&str, i64)> = listed.iter().map(|n| (n.node.node_id.as_str(), n.days_left)).collect();
        assert_eq!(days, [("a", 399), ("b", 19), ("c", 19), ("d", 44), ("e", -4)]);
        assert_eq!(federation::list(db).await.unwrap().len(), 5, "disabled nodes are listed too");
        // The oracle: enabled, and the anchor's end at or before now + within.
        for within_days in [0, 19, 20, 44, 45, 400] {
            let within = Duration::days(within_days);
            let expected: Vec<&str> = nodes
                .iter()
                .filter(|(_, days, enabled)| *enabled && now + Duration::days(*days) - Duration::hours(1) <= now + within)
                .map(|(id, ..)| *id)
                .collect();
            let found: Vec<String> = federation::expiring(db, within, now).await.unwrap().into_iter().map(|n| n.node.node_id).collect();
            assert_eq!(found, expected, "within {within_days} days");
        }
        assert!(matches!(federation::expiring(db, Duration::days(-1), now).await, Err(Error::Validation { field: "within", .. })));
    }

    async fn rotating_the_trust_anchor_restarts_trusted_since(db: &Db) {
        let first = federation::register(db, &node("partner")).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let (pem, der) = certs::certificate("partner-2027");
        let rotated = federation::rotate_trust_anchor(db, "partner", &pem).await.unwrap();
        assert_eq!(rotated.trust_anchor_cert, pem);
        assert!(rotated.trusted_since > first.trusted_since);
        assert_eq!(rotated.updated_at, rotated.trusted_since);
        assert_eq!((rotated.created_at, rotated.id.as_str()), (first.created_at, first.id.as_str()));
        let anchor = trust_anchor::inspect(&federation::get(db, "partner").await.unwrap().trust_anchor_cert).unwrap();
        assert_eq!(anchor.fingerprint_sha256, hex::encode(Sha256::digest(&der)));
        assert!(matches!(federation::rotate_trust_anchor(db, "ghost", &pem).await, Err(Error::NotFound { .. })));
    }

    async fn rate_limits_change_and_nodes_are_deleted(db: &Db) {
        federation::register(db, &node("partner")).await.unwrap();
        assert_eq!(federation::get(db, "partner").await.unwrap().rate_limit_per_hour, federation::DEFAULT_RATE_LIMIT_PER_HOUR);
        assert_eq!(federation::set_rate_limit(db, "partner", 1).await.unwrap().rate_limit_per_hour, 1);
        assert_eq!(federation::get(db, "partner").await.unwrap().rate_limit_per_hour, 1);
        assert_eq!(federation::delete(db, "partner").await.unwrap().node_id, "partner", "returns the removed node");
        assert!(matches!(federation::get(db, "partner").await, Err(Error::NotFound { entity: Entity::FederationNode, .. })));
        assert!(matches!(federation::delete(db, "partner").await, Err(Error::NotFound { .. })));
        federation::register(db, &node("partner")).await.unwrap();
    }
}
