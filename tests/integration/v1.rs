//! The v1 → v2 copy (migration 10) and its verification, on a generated v1 fixture.

use crate::common;

use common::{Backend, Schema, TestDb, scalar};
use migration::MigratorTrait;
use sark_db::entity::{Protocol, SensitivityLevel};
use sark_db::entity::{mcp_server, mcp_tool};
use sark_db::registry::capabilities;
use sark_db::registry::resources::{self, NewResource};
use sark_db::{Conn, Db};
use sark_db::{Migrator, v1};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::{Value as Json, json};
use time::Duration;
use time::macros::datetime;

/// Servers with every edge case the copy must handle, `tools_per_server` tools each.
fn fixture(
    servers: usize,
    tools_per_server: usize,
) -> (Vec<mcp_server::ActiveModel>, Vec<mcp_tool::ActiveModel>) {
    let t0 = datetime!(2025-06-01 08:00 UTC);
    let nested = json!({"levels": {"a": [1, 2.5, {"b": [true, null, "ünï"]}], "c": {"d": {"e": "deep"}}}, "list": (0..50).collect::<Vec<_>>()});
    let names =
        ["plain server", "服务器 🚀 émoji", "O'Brien \"quoted\"; DROP TABLE resources; --", "%_\\ LIKE $1 ?"];
    let sensitivities = [None, Some("low"), Some("HIGH"), Some("Medium"), Some(" critical "), Some("high")];
    let metadatas = [
        None,
        Some(json!({})),
        Some(json!({"team": "search", "nested": nested})),
        Some(json!({"transport": "from metadata", "command": ["collides"], "keep": 1})),
        Some(json!({"v1_metadata": "reserved key"})),
        Some(json!([1, 2, 3])),
        Some(json!("just a string")),
        Some(json!({"quote": "it's \"fine\"", "emoji": "🎉"})),
    ];
    let mut server_rows = Vec::new();
    let mut tool_rows = Vec::new();
    for i in 0..servers {
        let id = match i % 50 {
            7 => format!("srv-'\";--{i}"),
            9 => format!("srv-🚀-{i}"),
            _ => format!("srv-{i:06}"),
        };
        let (transport, command, endpoint) = match i % 4 {
            0 => ("stdio", Some(format!("npx @acme/server-{i}")), None),
            1 => ("http", None, Some(format!("https://api{i}.example.org/mcp"))),
            2 => ("sse", None, Some(format!("http://localhost:{}/sse", 3000 + i % 1000))),
            _ => (
                "stdio",
                Some(format!("/usr/bin/tool{i} --flag")),
                Some("http://ignored.example.org".to_owned()),
            ),
        };
        server_rows.push(mcp_server::ActiveModel {
            id: Set(id.clone()),
            name: Set(format!("{} {i}", names[i % names.len()])),
            description: Set((i % 2 == 0).then(|| format!("server {i}: 'quotes', \"doubles\", 🎉"))),
            transport: Set(transport.to_owned()),
            command: Set(command),
            args: Set((i % 4 != 0).then(|| json!(["--port", i, "ünï", {"k": null}]))),
            env: Set((i % 5 != 0).then(|| json!({"TOKEN": "x'y\"z", "N": i}))),
            endpoint: Set(endpoint),
            sensitivity_level: Set(sensitivities[i % sensitivities.len()].map(str::to_owned)),
            metadata: Set(metadatas[i % metadatas.len()].clone()),
            created_at: Set(t0 + Duration::seconds(i as i64) + Duration::microseconds((i % 7) as i64)),
            updated_at: Set(t0 + Duration::days(1) + Duration::seconds(i as i64)),
        });
        for j in 0..tools_per_server {
            let k = i * tools_per_server + j;
            tool_rows.push(mcp_tool::ActiveModel {
                id: Set(format!("{id}/tool-{j}")),
                server_id: Set(id.clone()),
                name: Set(format!("{} {j}", ["read_file", "запрос", "x'; --", "🔧 fix"][k % 4])),
                description: Set((!k.is_multiple_of(3)).then(|| format!("tool {k} does \"things\""))),
                input_schema: Set((!k.is_multiple_of(4))
                    .then(|| json!({"type": "object", "properties": {"path": {"type": "string"}}, "n": k}))),
                sensitivity_level: Set(sensitivities[k % sensitivities.len()].map(str::to_owned)),
                requires_approval: Set(k.is_multiple_of(2)),
                metadata: Set([
                    None,
                    Some(json!({"owner": "ops"})),
                    Some(json!({"requires_approval": "meta"})),
                    Some(json!([k])),
                ][k % 4]
                    .clone()),
            });
        }
    }
    (server_rows, tool_rows)
}

/// A v1 deployment holding the fixture.
async fn v1_with(db: &Db, fixture: (Vec<mcp_server::ActiveModel>, Vec<mcp_tool::ActiveModel>)) {
    common::v1_database(db).await;
    let (servers, tools) = fixture;
    for chunk in servers.chunks(1_000) {
        mcp_server::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await.unwrap();
    }
    for chunk in tools.chunks(1_000) {
        mcp_tool::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await.unwrap();
    }
}

/// How many migrations come before the copy (migration 10).
const BEFORE_COPY: u32 = 10;

/// All of v2's registry as JSON, in id order.
async fn v2(db: &Db) -> (Vec<Json>, Vec<Json>) {
    let resources = sark_db::entity::resource::Entity::find().all(db).await.unwrap();
    let capabilities = sark_db::entity::capability::Entity::find().all(db).await.unwrap();
    let mut r: Vec<Json> = resources.iter().map(|m| serde_json::to_value(m).unwrap()).collect();
    let mut c: Vec<Json> = capabilities.iter().map(|m| serde_json::to_value(m).unwrap()).collect();
    r.sort_by_key(|v| v["id"].to_string());
    c.sort_by_key(|v| v["id"].to_string());
    (r, c)
}

on_all! {
    empty: async fn the_copy_carries_every_row_and_verifies_clean(db: &Db) {
        v1_with(db, fixture(1_000, 10)).await;
        Migrator::up(db.pool(), None).await.unwrap();
        let report = v1::verify(db).await.unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!((report.counts.servers, report.counts.resources, report.counts.tools, report.counts.capabilities), (1_000, 1_000, 10_000, 10_000));

        let r = resources::get(db, "srv-000001").await.unwrap();
        assert_eq!((r.endpoint.as_str(), r.protocol), ("https://api1.example.org/mcp", Protocol::Mcp));
        let r = resources::get(db, "srv-000003").await.unwrap();
        assert_eq!(r.endpoint, "/usr/bin/tool3 --flag", "command wins over endpoint");
        assert_eq!(r.metadata["endpoint"], "http://ignored.example.org", "the v1 endpoint survives in metadata");
        assert_eq!(r.metadata["transport"], "stdio", "the column wins the plain key");
        assert_eq!(r.metadata["v1_metadata"], json!({"transport": "from metadata", "command": ["collides"], "keep": 1}), "colliding metadata kept whole");
        assert_eq!(r.sensitivity_level, SensitivityLevel::Medium, "'Medium' maps to medium");
        let r = resources::get(db, "srv-000002").await.unwrap();
        assert_eq!(r.sensitivity_level, SensitivityLevel::High, "'HIGH' maps to high");
        assert_eq!((r.metadata["team"].as_str(), r.metadata["args"][1].as_i64()), (Some("search"), Some(2)));
        let r = resources::get(db, "srv-000005").await.unwrap();
        assert_eq!(r.metadata["v1_metadata"], json!([1, 2, 3]), "non-object metadata is kept under a key");
        assert_eq!(r.metadata["env"], Json::Null, "an absent column is null");
        let c = capabilities::get(db, "srv-000000/tool-2").await.unwrap();
        assert_eq!(c.metadata, json!({"requires_approval": true, "v1_metadata": {"requires_approval": "meta"}}));
        assert_eq!((c.input_schema["n"].as_i64(), c.output_schema.clone()), (Some(2), json!({})));
        let c = capabilities::get(db, "srv-000000/tool-0").await.unwrap();
        assert_eq!((c.input_schema, c.metadata), (json!({}), json!({"requires_approval": true})));
    }

    empty: async fn verification_finds_a_corrupted_and_a_deleted_row(db: &Db) {
        v1_with(db, fixture(40, 3)).await;
        Migrator::up(db.pool(), None).await.unwrap();
        db.execute_unprepared("UPDATE resources SET name = 'tampered' WHERE id = 'srv-000004'").await.unwrap();
        db.execute_unprepared("DELETE FROM capabilities WHERE id = 'srv-000010/tool-1'").await.unwrap();
        db.execute_unprepared("DELETE FROM mcp_tools WHERE id = 'srv-000011/tool-2'").await.unwrap();
        let report = v1::verify(db).await.unwrap();
        assert_eq!(report.problems(), 3, "{report}");
        let d = &report.differences[0];
        assert_eq!((d.table, d.id.as_str(), d.field.as_str(), &d.found), ("resources", "srv-000004", "name", &json!("tampered")));
        assert_eq!(d.expected, json!("plain server 4"));
        assert_eq!((report.missing_in_v2[0].table, report.missing_in_v2[0].id.as_str()), ("capabilities", "srv-000010/tool-1"));
        assert_eq!((report.missing_in_v1[0].table, report.missing_in_v1[0].id.as_str()), ("mcp_tools", "srv-000011/tool-2"));
        let text = report.to_string();
        assert!(text.contains("srv-000004") && text.contains("result: 3 differences"), "{text}");
    }

    empty: async fn an_unmappable_row_fails_the_copy_by_id_and_leaves_v2_empty(db: &Db) {
        let (mut servers, mut tools) = fixture(30, 2);
        servers[5].command = Set(None);
        servers[5].endpoint = Set(None);
        tools[7].sensitivity_level = Set(Some("extreme".into()));
        v1_with(db, (servers, tools)).await;
        let err = Migrator::up(db.pool(), None).await.unwrap_err().to_string();
        assert!(err.contains("\"srv-000005\"") && err.contains("neither command nor endpoint"), "{err}");
        assert!(err.contains("\"srv-000003/tool-1\"") && err.contains("unknown sensitivity_level"), "{err}");
        assert_eq!(scalar(db, "SELECT count(*) FROM resources").await, 0);
        assert_eq!(scalar(db, "SELECT count(*) FROM capabilities").await, 0);
        let pending = Migrator::get_pending_migrations(db.pool()).await.unwrap();
        assert_eq!(pending[0].name(), "m20261128_000010_copy_v1_registry", "the copy and what follows it are pending");
        assert_eq!(pending.len(), Migrator::migrations().len() - BEFORE_COPY as usize);
        assert_eq!(scalar(db, "SELECT count(*) FROM mcp_servers").await, 30, "v1 stays");
    }

    empty: async fn the_copy_is_idempotent_and_down_removes_only_copied_rows(db: &Db) {
        v1_with(db, fixture(60, 4)).await;
        Migrator::up(db.pool(), Some(BEFORE_COPY)).await.unwrap();
        // Rows created natively in v2 before the copy, one of them with the id of a v1 server
        // that has no tools (the tools of a server that is not copied stop the copy).
        db.execute_unprepared("DELETE FROM mcp_tools WHERE server_id = 'srv-000001'").await.unwrap();
        let native = NewResource { id: Some("srv-000001".into()), ..NewResource::new("native twin", Protocol::Http, "https://n") };
        resources::create(db, &native).await.unwrap();
        resources::create(db, &NewResource { id: Some("native".into()), ..native.clone() }).await.unwrap();
        capabilities::create(db, "native", &capabilities::NewCapability::new("own")).await.unwrap();
        Migrator::up(db.pool(), None).await.unwrap();
        let first = v2(db).await;
        assert_eq!((first.0.len(), first.1.len()), (61, 237));
        assert_eq!(resources::get(db, "srv-000001").await.unwrap().name, "native twin", "an existing row is not overwritten");

        assert_eq!(v1::copy(db).await.unwrap(), v1::Copied::default(), "a second copy copies nothing");
        assert_eq!(v2(db).await, first);

        // Down through the copy (migration 10) and the migrations after it.
        Migrator::down(db.pool(), Some(Migrator::migrations().len() as u32 - BEFORE_COPY)).await.unwrap();
        let left = v2(db).await;
        let ids: Vec<_> = left.0.iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, ["native", "srv-000001"]);
        assert_eq!(left.1.len(), 1, "only the native capability");

        Migrator::up(db.pool(), None).await.unwrap();
        assert_eq!(v2(db).await, first, "down then up gives the same result");
    }
}

on_all! {
    empty: async fn tools_of_a_server_that_was_not_copied_stop_the_copy_by_id(db: &Db) {
        v1_with(db, fixture(10, 3)).await;
        Migrator::up(db.pool(), Some(BEFORE_COPY)).await.unwrap();
        let native = NewResource { id: Some("srv-000001".into()), ..NewResource::new("native twin", Protocol::Http, "https://n") };
        resources::create(db, &native).await.unwrap();
        let err = Migrator::up(db.pool(), None).await.unwrap_err().to_string();
        assert!(err.contains("server was not copied"), "{err}");
        assert!(err.contains("\"srv-000001/tool-0\", \"srv-000001/tool-1\", \"srv-000001/tool-2\""), "{err}");
        assert_eq!(scalar(db, "SELECT count(*) FROM capabilities").await, 0, "nothing attached to the native resource");
        assert_eq!(scalar(db, "SELECT count(*) FROM resources").await, 1);
    }

    empty: async fn a_copied_row_deleted_in_v2_is_not_brought_back(db: &Db) {
        v1_with(db, fixture(10, 2)).await;
        Migrator::up(db.pool(), None).await.unwrap();
        resources::delete(db, "srv-000004").await.unwrap();
        capabilities::delete(db, "srv-000002/tool-1").await.unwrap();
        let before = v2(db).await;
        assert_eq!(v1::copy(db).await.unwrap(), v1::Copied::default());
        assert_eq!(v2(db).await, before, "deleted rows stay deleted");

        // New in v1 since: a server with a tool is copied; a tool of the deleted server is refused.
        db.execute_unprepared(
            "INSERT INTO mcp_servers (id, name, transport, command) VALUES ('late', 'late', 'stdio', 'x');
             INSERT INTO mcp_tools (id, server_id, name) VALUES ('late/t', 'late', 't'), ('srv-000004/new', 'srv-000004', 'new');",
        )
        .await
        .unwrap();
        let err = v1::copy(db).await.unwrap_err().to_string();
        assert!(err.contains("server's copy was deleted in v2: \"srv-000004/new\""), "{err}");
        assert_eq!(v2(db).await, before, "a refused copy leaves nothing");
        db.execute_unprepared("DELETE FROM mcp_tools WHERE id = 'srv-000004/new'").await.unwrap();
        assert_eq!(v1::copy(db).await.unwrap(), v1::Copied { resources: 1, capabilities: 1 });
        assert_eq!(capabilities::get(db, "late/t").await.unwrap().resource_id, "late");
    }

    empty: async fn dirty_v1_rows_stop_the_copy_by_id(db: &Db) {
        v1_with(db, fixture(6, 1)).await;
        // A v1 deployment whose mcp_tools has no foreign key can hold orphan tools.
        let json = if common::is_pg(db) { "JSONB" } else { "TEXT" };
        db.execute_unprepared(&format!(
            "DROP TABLE mcp_tools;
             CREATE TABLE mcp_tools (id VARCHAR(255) PRIMARY KEY, server_id VARCHAR(255) NOT NULL, \
             name VARCHAR(1000) NOT NULL, description TEXT, input_schema {json}, sensitivity_level VARCHAR(255), \
             requires_approval BOOLEAN NOT NULL DEFAULT FALSE, metadata {json});
             INSERT INTO mcp_tools (id, server_id, name) VALUES ('orphan', 'no-such-server', 'x'), ('long', 'srv-000000', '{}');
             UPDATE mcp_servers SET name = '{}' WHERE id = 'srv-000001';",
            "n".repeat(256),
            "s".repeat(256)
        ))
        .await
        .unwrap();
        if !common::is_pg(db) {
            db.execute_unprepared(
                "UPDATE mcp_servers SET env = '{not json' WHERE id = 'srv-000002';
                 UPDATE mcp_servers SET created_at = 'soon' WHERE id = 'srv-000003';",
            )
            .await
            .unwrap();
        }
        let err = Migrator::up(db.pool(), None).await.unwrap_err().to_string();
        assert!(err.contains("mcp_tools whose server does not exist: \"orphan\""), "{err}");
        assert!(err.contains("mcp_tools with a name over 255 characters: \"long\""), "{err}");
        assert!(err.contains("mcp_servers with a name over 255 characters: \"srv-000001\""), "{err}");
        if !common::is_pg(db) {
            assert!(err.contains("mcp_servers whose env is not valid JSON: \"srv-000002\""), "{err}");
            assert!(err.contains("mcp_servers whose created_at is not a readable timestamp: \"srv-000003\""), "{err}");
        }
        assert_eq!(scalar(db, "SELECT count(*) FROM resources").await, 0);
    }

    async fn copy_on_a_pool_is_one_transaction(db: &Db) {
        // The v1 tables exist (empty) in every migrated database. A trigger fails the
        // capability insert, after the copy has written the resources.
        // On Citus, `capabilities` is a reference table: the trigger needs
        // `citus.enable_unsafe_triggers`, and each DDL statement its own call.
        let boom: &[&str] = if common::is_pg(db) {
            &[
                "SET LOCAL citus.enable_unsafe_triggers TO on",
                "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$",
                "CREATE TRIGGER boom BEFORE INSERT ON capabilities FOR EACH ROW EXECUTE FUNCTION boom()",
            ]
        } else {
            &["CREATE TRIGGER boom BEFORE INSERT ON capabilities BEGIN SELECT RAISE(ABORT, 'boom'); END;"]
        };
        let txn = db.begin_write().await.unwrap();
        for sql in boom {
            txn.execute_unprepared(sql).await.unwrap();
        }
        txn.commit().await.unwrap();
        db.execute_unprepared(
            "INSERT INTO mcp_servers (id, name, transport, command) VALUES ('a', 'a', 'stdio', 'x');
             INSERT INTO mcp_tools (id, server_id, name) VALUES ('a/t', 'a', 't');",
        )
        .await
        .unwrap();
        let err = v1::copy(db).await.unwrap_err().to_string();
        assert!(err.contains("boom"), "{err}");
        assert_eq!(scalar(db, "SELECT count(*) FROM resources").await, 0, "the resource written first is gone");
        assert_eq!(scalar(db, "SELECT count(*) FROM v1_copied_rows").await, 0, "nothing listed");
        let txn = db.begin_write().await.unwrap();
        txn.execute_unprepared("SET LOCAL citus.enable_unsafe_triggers TO on").await.ok();
        txn.execute_unprepared("DROP TRIGGER boom ON capabilities").await.ok();
        txn.commit().await.ok();
        db.execute_unprepared("DROP TRIGGER IF EXISTS boom").await.ok();
        assert_eq!(v1::copy(db).await.unwrap(), v1::Copied { resources: 1, capabilities: 1 });
    }

    empty: async fn the_library_copy_maps_v1_rows_as_migration_10_does(db: &Db) {
        v1_with(db, fixture(60, 4)).await;
        // A v1 timestamp with a fraction and an offset, and one without either.
        db.execute_unprepared(
            "INSERT INTO mcp_servers (id, name, transport, command, created_at, updated_at) \
             VALUES ('zoned', 'zoned', 'stdio', 'x', '2025-06-01T10:00:00.25+02:00', '2025-06-01 08:00:00')",
        )
        .await
        .unwrap();
        Migrator::up(db.pool(), None).await.unwrap();
        let by_migration = v2(db).await;
        assert_eq!((by_migration.0.len(), by_migration.1.len()), (61, 240));
        let zoned = resources::get(db, "zoned").await.unwrap();
        assert_eq!((zoned.created_at, zoned.updated_at), (datetime!(2025-06-01 08:00:00.25 UTC), datetime!(2025-06-01 08:00 UTC)));

        // The same v1 rows, copied again by the library after v2 forgot them.
        db.execute_unprepared("DELETE FROM capabilities; DELETE FROM resources; DELETE FROM v1_copied_rows").await.unwrap();
        assert_eq!(v1::copy(db).await.unwrap(), v1::Copied { resources: 61, capabilities: 240 });
        assert_eq!(v2(db).await, by_migration);
        assert!(v1::verify(db).await.unwrap().is_clean());
    }

    empty: async fn tools_sharing_a_name_under_one_server_stop_the_copy_by_id(db: &Db) {
        v1_with(db, fixture(3, 2)).await;
        db.execute_unprepared("UPDATE mcp_tools SET name = 'same' WHERE server_id = 'srv-000002'").await.unwrap();
        let err = Migrator::up(db.pool(), None).await.unwrap_err().to_string();
        assert!(err.contains("mcp_tools whose name another tool of their server has: \"srv-000002/tool-0\", \"srv-000002/tool-1\""), "{err}");
    }
}

/// The copy gives the same rows, as JSON, on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
async fn both_backends_copy_identically() {
    let mut results = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let t = TestDb::new(backend, Schema::Empty).await;
        v1_with(&t.db, fixture(200, 5)).await;
        Migrator::up(t.db.pool(), None).await.unwrap();
        results.push(v2(&t.db).await);
    }
    assert_eq!(results[0].0.len(), 200);
    assert_eq!(results[0], results[1]);
}

/// Times the copy on PostgreSQL for 10,000 servers and 100,000 tools:
/// `cargo test --release --test integration -- --ignored --nocapture v1::copy_timing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn copy_timing() {
    let t = TestDb::new(Backend::Postgres, Schema::Empty).await;
    v1_with(&t.db, fixture(10_000, 10)).await;
    Migrator::up(t.db.pool(), Some(BEFORE_COPY)).await.unwrap();
    let started = std::time::Instant::now();
    Migrator::up(t.db.pool(), None).await.unwrap();
    let copy = started.elapsed();
    let started = std::time::Instant::now();
    let report = v1::verify(&t.db).await.unwrap();
    println!(
        "copy of 10,000 servers and 100,000 tools: {copy:?}; verify: {:?}; clean: {}",
        started.elapsed(),
        report.is_clean()
    );
}
