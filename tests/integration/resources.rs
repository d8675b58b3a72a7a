//! Resources and capabilities: CRUD, listing with filters and keyset pagination, discovery sync.

use crate::common;

use common::scalar;
use sark_db::Db;
use sark_db::entity::{Protocol, SensitivityLevel};
use sark_db::registry::capabilities::{self, CapabilityPatch, NewCapability};
use sark_db::registry::discovery::{self, SyncReport};
use sark_db::registry::resources::{self, NewResource, ResourceFilter, ResourcePatch};
use sark_db::{Conflict, Entity, Error, Page};
use serde_json::json;
use std::collections::BTreeSet;

fn mcp(name: &str) -> NewResource {
    NewResource::new(name, Protocol::Mcp, "npx @acme/server")
}

fn named(id: &str, name: &str) -> NewResource {
    NewResource { id: Some(id.into()), ..mcp(name) }
}

/// Walks every page of `filter` and returns the ids in the order seen.
async fn walk(db: &Db, mut filter: ResourceFilter) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let Page { items, next } = resources::list(db, &filter).await.unwrap();
        assert!(items.len() as u64 <= filter.limit.unwrap_or(100));
        ids.extend(items.into_iter().map(|r| r.id));
        match next {
            Some(after) => filter.after = Some(after),
            None => return ids,
        }
    }
}

on_all! {
    async fn a_resource_has_one_capability_per_name(db: &Db) {
        resources::create(db, &named("r-1", "one")).await.unwrap();
        resources::create(db, &named("r-2", "two")).await.unwrap();
        let search = capabilities::create(db, "r-1", &NewCapability::new("search")).await.unwrap();
        let index = capabilities::create(db, "r-1", &NewCapability::new("index")).await.unwrap();
        let taken = |r: sark_db::Result<_>| {
            matches!(r, Err(Error::Conflict(Conflict::NameTaken { entity: Entity::Capability, parent, name }))
                if parent == "r-1" && name == "search")
        };
        assert!(taken(capabilities::create(db, "r-1", &NewCapability::new("search")).await.map(drop)));
        let rename = CapabilityPatch { name: Some("search".into()), ..Default::default() };
        assert!(taken(capabilities::update(db, &index.id, &rename).await.map(drop)));
        assert_eq!(scalar(db, "SELECT count(*) FROM capabilities").await, 2, "nothing was written");
        assert_eq!(capabilities::get(db, &index.id).await.unwrap().name, "index");
        let elsewhere = capabilities::create(db, "r-2", &NewCapability::new("search")).await.unwrap();
        assert_ne!(elsewhere.id, search.id, "another resource may use the name");
    }

    async fn a_resource_round_trips_and_updates_partially(db: &Db) {
        let new = NewResource {
            sensitivity_level: SensitivityLevel::High,
            metadata: json!({"transport": "stdio", "nested": {"list": [1, 2.5, "x"]}}),
            ..named("r-1", "Files")
        };
        let created = resources::create(db, &new).await.unwrap();
        assert_eq!(resources::get(db, "r-1").await.unwrap(), created);
        assert_eq!((created.name.as_str(), created.protocol, created.sensitivity_level), ("Files", Protocol::Mcp, SensitivityLevel::High));
        assert_eq!(created.metadata, new.metadata);
        assert_eq!(created.created_at, created.updated_at);

        let patch = ResourcePatch { endpoint: Some("https://files.example.org".into()), ..Default::default() };
        let updated = resources::update(db, "r-1", &patch).await.unwrap();
        assert_eq!(updated.endpoint, "https://files.example.org");
        assert_eq!((updated.name.as_str(), &updated.metadata, updated.created_at), ("Files", &new.metadata, created.created_at));
        assert!(updated.updated_at >= created.updated_at);
        assert_eq!(resources::get(db, "r-1").await.unwrap(), updated);

        let generated = resources::create(db, &mcp("no id")).await.unwrap();
        let uuid = uuid::Uuid::parse_str(&generated.id).expect("a generated id is a UUID");
        assert_eq!(uuid.get_version_num(), 7);
    }

    async fn deleting_a_resource_takes_its_capabilities_and_says_how_many(db: &Db) {
        resources::create(db, &named("r-1", "one")).await.unwrap();
        resources::create(db, &named("r-2", "two")).await.unwrap();
        for name in ["read", "write", "list"] {
            capabilities::create(db, "r-1", &NewCapability::new(name)).await.unwrap();
        }
        capabilities::create(db, "r-2", &NewCapability::new("read")).await.unwrap();
        let removed = resources::delete(db, "r-1").await.unwrap();
        assert_eq!(removed.resource.name, "one");
        let names: Vec<_> = removed.capabilities.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["list", "read", "write"], "the removed capabilities, by name");
        assert!(matches!(resources::get(db, "r-1").await, Err(Error::NotFound { entity: Entity::Resource, .. })));
        assert_eq!(scalar(db, "SELECT count(*) FROM capabilities").await, 1);
        assert!(matches!(resources::delete(db, "r-1").await, Err(Error::NotFound { entity: Entity::Resource, .. })));
        assert_eq!(resources::delete(db, "r-2").await.unwrap().capabilities.len(), 1);
    }

    async fn a_resource_comes_with_its_capabilities_by_name(db: &Db) {
        resources::create(db, &named("r-1", "one")).await.unwrap();
        resources::create(db, &named("empty", "none")).await.unwrap();
        for name in ["write", "admin", "read"] {
            capabilities::create(db, "r-1", &NewCapability::new(name)).await.unwrap();
        }
        let found = resources::get_with_capabilities(db, "r-1").await.unwrap();
        assert_eq!(found.resource, resources::get(db, "r-1").await.unwrap());
        let names: Vec<_> = found.capabilities.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["admin", "read", "write"]);
        assert!(resources::get_with_capabilities(db, "empty").await.unwrap().capabilities.is_empty());
        assert!(matches!(resources::get_with_capabilities(db, "nope").await, Err(Error::NotFound { .. })));
    }

    async fn filters_select_by_protocol_sensitivity_and_literal_name_prefix(db: &Db) {
        let rows = [
            ("a", "100% files", Protocol::Mcp, SensitivityLevel::Low),
            ("b", "100x files", Protocol::Http, SensitivityLevel::Low),
            ("c", "Ünïcode 🚀 api", Protocol::Grpc, SensitivityLevel::Critical),
            ("d", "ünïcode lower", Protocol::Http, SensitivityLevel::High),
            ("e", "a_b", Protocol::Mcp, SensitivityLevel::High),
            ("f", "axb", Protocol::Mcp, SensitivityLevel::High),
        ];
        for (id, name, protocol, level) in rows {
            let new = NewResource { sensitivity_level: level, ..NewResource::new(name, protocol, "x") };
            resources::create(db, &NewResource { id: Some(id.into()), ..new }).await.unwrap();
        }
        let ids = async |filter: ResourceFilter| walk(db, filter).await;
        assert_eq!(ids(ResourceFilter { protocol: Some(Protocol::Http), ..Default::default() }).await, ["b", "d"]);
        assert_eq!(ids(ResourceFilter { sensitivity_level: Some(SensitivityLevel::High), ..Default::default() }).await, ["d", "e", "f"]);
        let prefix = |p: &str| ResourceFilter { name_prefix: Some(p.into()), ..Default::default() };
        assert_eq!(ids(prefix("100%")).await, ["a"], "% is a plain character");
        assert_eq!(ids(prefix("a_")).await, ["e"], "_ is a plain character");
        assert_eq!(ids(prefix("Ünï")).await, ["c"], "prefixes are case-sensitive, in characters");
        assert_eq!(ids(prefix("Ünïcode 🚀")).await, ["c"]);
        assert_eq!(
            ids(ResourceFilter { protocol: Some(Protocol::Mcp), sensitivity_level: Some(SensitivityLevel::High), name_prefix: Some("a".into()), ..Default::default() }).await,
            ["e", "f"]
        );
        assert!(ids(prefix("zzz")).await.is_empty());
    }

    async fn pages_walk_thousands_of_resources_without_gaps_or_repeats(db: &Db) {
        let mut expected = BTreeSet::new();
        for i in 0..2_500 {
            let protocol = [Protocol::Mcp, Protocol::Http, Protocol::Grpc][i % 3];
            let created = resources::create(db, &NewResource::new(format!("svc {i}"), protocol, "x")).await.unwrap();
            expected.insert(created.id);
        }
        let seen = walk(db, ResourceFilter { limit: Some(97), ..Default::default() }).await;
        assert_eq!(seen.len(), expected.len(), "no repeats");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "strictly in id order");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);
        let grpc = walk(db, ResourceFilter { protocol: Some(Protocol::Grpc), limit: Some(1_000), ..Default::default() }).await;
        assert_eq!(grpc.len(), 833);
        let page = resources::list(db, &ResourceFilter { limit: Some(1_000), after: grpc.last().cloned(), protocol: Some(Protocol::Grpc), ..Default::default() }).await.unwrap();
        assert_eq!((page.items.len(), page.next), (0, None));
    }

    async fn capabilities_are_listed_found_updated_and_deleted(db: &Db) {
        resources::create(db, &named("r-1", "one")).await.unwrap();
        resources::create(db, &named("r-2", "two")).await.unwrap();
        let new = NewCapability {
            id: Some("c-1".into()),
            description: Some("reads a file".into()),
            input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
            sensitivity_level: SensitivityLevel::High,
            ..NewCapability::new("read")
        };
        let created = capabilities::create(db, "r-1", &new).await.unwrap();
        assert_eq!(capabilities::get(db, "c-1").await.unwrap(), created);
        assert_eq!((created.resource_id.as_str(), &created.input_schema, &created.output_schema), ("r-1", &new.input_schema, &json!({})));
        capabilities::create(db, "r-1", &NewCapability::new("list")).await.unwrap();
        capabilities::create(db, "r-2", &NewCapability { id: Some("c-2".into()), ..NewCapability::new("read") }).await.unwrap();

        let names: Vec<_> = capabilities::list_by_resource(db, "r-1").await.unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["list", "read"]);
        let reads: Vec<_> = capabilities::find_by_name(db, "read").await.unwrap().into_iter().map(|c| (c.resource_id, c.id)).collect();
        assert_eq!(reads, [("r-1".to_owned(), "c-1".to_owned()), ("r-2".to_owned(), "c-2".to_owned())]);

        let patch = CapabilityPatch { description: Some(None), metadata: Some(json!({"owner": "ops"})), ..Default::default() };
        let updated = capabilities::update(db, "c-1", &patch).await.unwrap();
        assert_eq!((updated.description, updated.metadata, updated.name), (None, json!({"owner": "ops"}), "read".to_owned()));
        assert_eq!(updated.input_schema, new.input_schema, "fields not in the patch stay");
        assert_eq!(capabilities::update(db, "c-1", &CapabilityPatch::default()).await.unwrap().id, "c-1");
        assert!(matches!(capabilities::update(db, "gone", &patch).await, Err(Error::NotFound { entity: Entity::Capability, .. })));

        assert_eq!(capabilities::delete(db, "c-1").await.unwrap().id, "c-1", "returns the removed row");
        assert!(matches!(capabilities::get(db, "c-1").await, Err(Error::NotFound { entity: Entity::Capability, .. })));
        assert!(matches!(capabilities::delete(db, "c-1").await, Err(Error::NotFound { .. })));
        assert_eq!(scalar(db, "SELECT count(*) FROM capabilities").await, 2);
    }

    async fn discovery_sync_inserts_updates_and_deletes_by_name(db: &Db) {
        resources::create(db, &named("r-1", "one")).await.unwrap();
        let first = [NewCapability::new("read"), NewCapability::new("write"), NewCapability::new("list")];
        let report = discovery::sync(db, "r-1", &first).await.unwrap();
        assert_eq!(report, SyncReport { inserted: vec!["list".into(), "read".into(), "write".into()], ..Default::default() });
        let before = capabilities::list_by_resource(db, "r-1").await.unwrap();

        let second = [
            NewCapability::new("read"),
            NewCapability { description: Some("now documented".into()), ..NewCapability::new("write") },
            NewCapability::new("delete"),
        ];
        let report = discovery::sync(db, "r-1", &second).await.unwrap();
        assert_eq!(report, SyncReport {
            inserted: vec!["delete".into()],
            updated: vec!["write".into()],
            deleted: vec!["list".into()],
            unchanged: vec!["read".into()],
        });
        let after = capabilities::list_by_resource(db, "r-1").await.unwrap();
        let names: Vec<_> = after.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["delete", "read", "write"]);
        let id_of = |rows: &[sark_db::entity::capability::Model], name: &str| rows.iter().find(|c| c.name == name).map(|c| c.id.clone());
        assert_eq!(id_of(&after, "write"), id_of(&before, "write"), "an updated capability keeps its id");
        assert_eq!(after.iter().find(|c| c.name == "write").unwrap().description.as_deref(), Some("now documented"));

        assert_eq!(discovery::sync(db, "r-1", &second).await.unwrap().unchanged.len(), 3, "a repeat changes nothing");
        let report = discovery::sync(db, "r-1", &[]).await.unwrap();
        assert_eq!(report.deleted, ["delete", "read", "write"]);
        assert_eq!(scalar(db, "SELECT count(*) FROM capabilities").await, 0);
    }

    async fn a_failing_sync_changes_nothing(db: &Db) {
        resources::create(db, &named("r-1", "one")).await.unwrap();
        resources::create(db, &named("r-2", "two")).await.unwrap();
        capabilities::create(db, "r-2", &NewCapability { id: Some("taken".into()), ..NewCapability::new("x") }).await.unwrap();
        discovery::sync(db, "r-1", &[NewCapability::new("read"), NewCapability::new("old")]).await.unwrap();
        let before = capabilities::list_by_resource(db, "r-1").await.unwrap();
        // "old" would be deleted and "read" updated before the clashing insert fails.
        let clash = [
            NewCapability { description: Some("changed".into()), ..NewCapability::new("read") },
            NewCapability { id: Some("taken".into()), ..NewCapability::new("new") },
        ];
        assert!(matches!(discovery::sync(db, "r-1", &clash).await, Err(Error::Conflict(Conflict::Exists { entity: Entity::Capability, id })) if id == "taken"));
        // Two discovered capabilities with one id: refused before anything is written.
        let twice = [
            NewCapability { id: Some("same".into()), ..NewCapability::new("a") },
            NewCapability { id: Some("same".into()), ..NewCapability::new("b") },
        ];
        assert!(matches!(discovery::sync(db, "r-1", &twice).await, Err(Error::Validation { field: "id", .. })));
        assert_eq!(capabilities::list_by_resource(db, "r-1").await.unwrap(), before);
    }

    async fn concurrent_syncs_of_one_resource_leave_one_whole_set(db: &Db) {
        resources::create(db, &named("r-1", "one")).await.unwrap();
        let sets: Vec<Vec<String>> = (0..12).map(|t| (0..20).map(|i| format!("tool-{}", (t * 7 + i) % 40)).collect()).collect();
        let handles: Vec<_> = sets
            .iter()
            .cloned()
            .map(|names| {
                let db = db.clone();
                tokio::spawn(async move {
                    let found: Vec<_> = names.iter().map(NewCapability::new).collect();
                    discovery::sync(&db, "r-1", &found).await.unwrap()
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        let mut names: Vec<_> = capabilities::list_by_resource(db, "r-1").await.unwrap().into_iter().map(|c| c.name).collect();
        names.sort();
        assert!(
            sets.iter().any(|set| { let mut set = set.clone(); set.sort(); set == names }),
            "the final set is one sync's set, without duplicates: {names:?}"
        );
    }
}
