//! The migrated schema: upgrades, up/down/up, entities against DDL, indexes, keys, triggers.

use crate::common;

use common::{is_pg, scalar, strings};
use migration::{MigrationName, Migrator, MigratorTrait};
use sark_db::{Conn, Db};
use sea_orm::sea_query::ColumnType;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Iden, Iterable, PrimaryKeyToColumn};
use std::collections::BTreeSet;

const V2_TABLES: [&str; 6] =
    ["resources", "capabilities", "audit_events", "federation_nodes", "cost_tracking", "principal_budgets"];
const V1_TABLES: [&str; 3] = ["mcp_servers", "mcp_tools", "audit_events"];

/// The tables and views of extensions (Citus's `citus_tables`, its `pg_dist_*` catalog): not
/// sark-db's schema.
const EXTENSION_OWNED: &str =
    "(SELECT objid FROM pg_depend WHERE deptype = 'e' AND classid = 'pg_class'::regclass)";

/// Everything schema-shaped in the database except the migration bookkeeping and extensions:
/// tables and their columns (type, nullability, default), indexes, constraints, triggers,
/// functions.
async fn snapshot(db: &Db) -> BTreeSet<String> {
    let queries: Vec<String> = if is_pg(db) {
        vec![
            format!(
                "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' \
             || coalesce(column_default, '') FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> 'seaql_migrations' \
             AND format('%I.%I', table_schema, table_name)::regclass NOT IN {EXTENSION_OWNED}"
            ),
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'seaql_migrations'"
                .to_owned(),
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace \
             AND conrelid::regclass::text <> 'seaql_migrations'"
                .to_owned(),
            format!(
                "SELECT tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger \
             WHERE NOT tgisinternal AND tgrelid NOT IN {EXTENSION_OWNED}"
            ),
            "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace \
             AND oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e' AND classid = 'pg_proc'::regclass)"
                .to_owned(),
        ]
    } else {
        [
            "SELECT m.name || '.' || p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' \
             || coalesce(p.dflt_value, '') || ' pk' || p.pk \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'seaql%' AND m.name NOT LIKE 'sqlite%'",
            "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') FROM sqlite_master \
             WHERE type IN ('index', 'trigger') AND tbl_name NOT LIKE 'seaql%'",
            "SELECT m.name || ' -> ' || f.\"table\" || '.' || f.\"to\" || ' ' || f.on_delete \
             FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let mut all = BTreeSet::new();
    for sql in &queries {
        all.extend(strings(db, sql).await.iter().map(|line| without_casts(line)));
    }
    all
}

/// `line` without casts, parentheses and spaces: a `CHECK` that Citus printed and re-created
/// (`undistribute_table`) reads `x::text = ANY ((ARRAY['a'::character varying])::text[])`
/// where PostgreSQL's own reads `x::text = ANY (ARRAY[('a'::character varying)::text])`.
fn without_casts(line: &str) -> String {
    ["::text[]", "::text", "::character varying", "(", ")", " "]
        .iter()
        .fold(line.to_owned(), |s, c| s.replace(c, ""))
}

async fn tables(db: &Db) -> BTreeSet<String> {
    let sql = if is_pg(db) {
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    };
    strings(db, sql).await.into_iter().collect()
}

/// Column `name`, type, nullability of `table` as the database reports them.
async fn columns(db: &Db, table: &str) -> Vec<(String, String, bool)> {
    let sql = if is_pg(db) {
        format!(
            "SELECT column_name::text || '|' || data_type || '|' || is_nullable FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{table}'"
        )
    } else {
        format!(
            "SELECT name || '|' || type || '|' || CASE \"notnull\" WHEN 1 THEN 'NO' ELSE 'YES' END \
             FROM pragma_table_info('{table}')"
        )
    };
    strings(db, &sql)
        .await
        .into_iter()
        .map(|row| {
            let parts: Vec<&str> = row.split('|').collect();
            (parts[0].to_owned(), parts[1].to_owned(), parts[2] == "YES")
        })
        .collect()
}

async fn primary_key(db: &Db, table: &str) -> BTreeSet<String> {
    let sql = if is_pg(db) {
        format!(
            "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
             AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '{table}'::regclass AND i.indisprimary"
        )
    } else {
        format!("SELECT name FROM pragma_table_info('{table}') WHERE pk > 0")
    };
    strings(db, &sql).await.into_iter().collect()
}

/// The type name `backend` reports for a column declared as `ty`.
fn db_type(pg: bool, ty: &ColumnType) -> &'static str {
    match (ty, pg) {
        (ColumnType::String(_), true) => "character varying",
        (ColumnType::String(_), false) => "varchar",
        (ColumnType::Text, _) => "text",
        (ColumnType::BigInteger, true) => "bigint",
        (ColumnType::BigInteger | ColumnType::Integer, false) => "integer",
        (ColumnType::Integer, true) => "integer",
        (ColumnType::Boolean, _) => "boolean",
        (ColumnType::JsonBinary, true) => "jsonb",
        (ColumnType::JsonBinary, false) => "jsonb_text",
        (ColumnType::TimestampWithTimeZone, true) => "timestamp with time zone",
        (ColumnType::TimestampWithTimeZone, false) => "timestamp_with_timezone_text",
        (other, _) => panic!("no mapping for {other:?}"),
    }
}

/// Every column `E` declares exists with a matching type and nullability, and `E`'s primary key
/// lies within the table's.
async fn assert_entity_matches<E: EntityTrait + Default>(db: &Db) {
    let table = E::default().table_name().to_owned();
    let actual = columns(db, &table).await;
    for col in E::Column::iter() {
        let def = col.def();
        let name = col.to_string();
        let (_, ty, nullable) = actual
            .iter()
            .find(|(n, ..)| *n == name)
            .unwrap_or_else(|| panic!("{table}.{name} is declared by the entity but missing"));
        assert_eq!(ty.to_lowercase(), db_type(is_pg(db), def.get_column_type()), "type of {table}.{name}");
        assert_eq!(*nullable, def.is_null(), "nullability of {table}.{name}");
    }
    let pk = primary_key(db, &table).await;
    for key in E::PrimaryKey::iter() {
        let name = key.into_column().to_string();
        assert!(pk.contains(&name), "{table}: entity key {name} is not in the table's key {pk:?}");
    }
}

on_all! {
    empty: async fn upgrade_from_empty(db: &Db) {
        sark_db::migrate(db).await.unwrap();
        assert!(Migrator::get_pending_migrations(db.pool()).await.unwrap().is_empty());
        let tables = tables(db).await;
        for table in V2_TABLES.iter().chain(&V1_TABLES) {
            assert!(tables.contains(*table), "{table} missing from {tables:?}");
        }
    }

    empty: async fn the_first_two_migrations_yield_a_v1_database(db: &Db) {
        Migrator::up(db.pool(), Some(2)).await.unwrap();
        let tables = tables(db).await;
        for table in V1_TABLES {
            assert!(tables.contains(table), "{table} missing");
        }
        assert!(!tables.contains("resources"));
    }

    async fn fresh_twice_refresh_and_reset_then_up_rebuild_the_same_schema(db: &Db) {
        let migrated = snapshot(db).await;
        for round in ["first fresh", "second fresh"] {
            Migrator::fresh(db.pool()).await.unwrap_or_else(|e| panic!("{round}: {e}"));
            assert_eq!(snapshot(db).await, migrated, "{round}");
        }
        Migrator::refresh(db.pool()).await.unwrap();
        assert_eq!(snapshot(db).await, migrated, "refresh");
        Migrator::reset(db.pool()).await.unwrap();
        Migrator::up(db.pool(), None).await.unwrap();
        assert_eq!(snapshot(db).await, migrated, "reset then up");
        assert!(Migrator::get_pending_migrations(db.pool()).await.unwrap().is_empty());
    }

    empty: async fn up_down_up_restores_each_schema(db: &Db) {
        let count = Migrator::migrations().len();
        for n in 0..count {
            let before = snapshot(db).await;
            Migrator::up(db.pool(), Some(1)).await.unwrap();
            let after = snapshot(db).await;
            Migrator::down(db.pool(), Some(1)).await.unwrap();
            // Migration 7 (the eighth) makes hypertables, which its down keeps, as it documents.
            let expected = if n == 7 && common::is_timescale(db).await { &after } else { &before };
            assert_eq!(&snapshot(db).await, expected, "down of migration {} differs from before its up", n + 1);
            Migrator::up(db.pool(), Some(1)).await.unwrap();
            assert_eq!(snapshot(db).await, after, "second up of migration {} differs", n + 1);
        }
        Migrator::down(db.pool(), None).await.unwrap();
        assert!(snapshot(db).await.is_empty(), "down to zero left {:?}", snapshot(db).await);
    }

    empty: async fn an_existing_v1_database_is_adopted_with_its_rows(db: &Db) {
        v1_with_rows(db).await;
        sark_db::migrate(db).await.unwrap();
        assert_v1_rows_intact(db).await;
        assert_eq!(strings(db, "SELECT user_id FROM audit_events WHERE correlation_id IS NULL").await, ["u1"]);
        assert_eq!(strings(db, "SELECT table_name FROM sark_adopted_tables ORDER BY 1").await, V1_SORTED);
    }

    empty: async fn adopted_v1_tables_survive_a_full_down_and_refresh_and_stop_fresh(db: &Db) {
        v1_with_rows(db).await;
        sark_db::migrate(db).await.unwrap();
        Migrator::down(db.pool(), None).await.unwrap();
        let left = tables(db).await;
        assert!(V1_TABLES.iter().all(|t| left.contains(*t)), "a full down keeps adopted tables: {left:?}");
        assert!(!left.contains("resources"), "and drops what sark-db created: {left:?}");
        assert_v1_rows_intact(db).await;

        sark_db::migrate(db).await.unwrap();
        Migrator::refresh(db.pool()).await.unwrap();
        assert_v1_rows_intact(db).await;

        let before = snapshot(db).await;
        let err = Migrator::fresh(db.pool()).await.unwrap_err().to_string();
        assert!(err.contains("fresh refused") && err.contains("mcp_tools, mcp_servers, audit_events"), "{err}");
        assert_eq!(snapshot(db).await, before, "a refused fresh drops nothing");
        assert_v1_rows_intact(db).await;
    }

    empty: async fn a_database_migrated_before_adoption_was_recorded_keeps_its_v1_tables(db: &Db) {
        // Migrations 1–12 as they ran before migration 0 existed.
        Before0::up(db.pool(), None).await.unwrap();
        db.execute_unprepared("INSERT INTO audit_events (id, event_type) VALUES ('e1', 'tool_invoked')").await.unwrap();
        sark_db::migrate(db).await.unwrap();
        assert_eq!(strings(db, "SELECT table_name FROM sark_adopted_tables ORDER BY 1").await, V1_SORTED, "origin unknown: kept");
        Migrator::down(db.pool(), None).await.unwrap();
        assert_eq!(strings(db, "SELECT id FROM audit_events").await, ["e1"]);
    }

    empty: async fn a_function_left_by_an_interrupted_fresh_does_not_stop_up(db: &Db) {
        if is_pg(db) {
            // What sea-orm's own fresh left behind: tables gone, the trigger function still there.
            db.execute_unprepared(
                "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
            )
            .await
            .unwrap();
        }
        sark_db::migrate(db).await.unwrap();
        let refused = db.execute_unprepared("INSERT INTO audit_events (id, event_type) VALUES ('e1', 'x'); DELETE FROM audit_events");
        assert!(refused.await.unwrap_err().to_string().contains("append-only"), "the trigger is the real one");
    }

    async fn the_database_refuses_rows_that_break_its_rules(db: &Db) {
        db.execute_unprepared(
            "INSERT INTO resources (id, name, protocol, endpoint) VALUES ('r1', 'one', 'mcp', 'x');
             INSERT INTO capabilities (id, resource_id, name) VALUES ('c1', 'r1', 'search');",
        )
        .await
        .unwrap();
        let before = snapshot_rows(db).await;
        for (sql, rule) in [
            ("INSERT INTO cost_tracking (principal_id, resource_id, capability_id, estimated_cost_micros) VALUES ('p', 'r', 'c', -1)", "ck_cost_tracking_micros"),
            ("INSERT INTO cost_tracking (principal_id, resource_id, capability_id, actual_cost_micros) VALUES ('p', 'r', 'c', -1)", "ck_cost_tracking_micros"),
            ("INSERT INTO audit_events (id, event_type, actual_cost_micros) VALUES ('e', 'x', -5)", "ck_audit_events_micros"),
            ("INSERT INTO audit_events (id, event_type, resource_protocol) VALUES ('e', 'x', 'ftp')", "ck_audit_events_resource_protocol"),
            ("INSERT INTO principal_budgets (principal_id, daily_budget_micros) VALUES ('p', -1)", "ck_principal_budgets_micros"),
            ("INSERT INTO resources (id, name, protocol, endpoint) VALUES ('r2', 'two', 'ftp', 'x')", "ck_resources_protocol"),
            ("INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level) VALUES ('r2', 'two', 'mcp', 'x', 'secret')", "ck_resources_sensitivity"),
            ("UPDATE resources SET protocol = 'MCP'", "ck_resources_protocol"),
            ("UPDATE capabilities SET sensitivity_level = 'none'", "ck_capabilities_sensitivity"),
            ("INSERT INTO federation_nodes (id, node_id, name, endpoint, trust_anchor_cert, rate_limit_per_hour) VALUES ('n', 'n', 'n', 'e', 'c', 0)", "ck_federation_nodes_rate_limit"),
            ("INSERT INTO capabilities (id, resource_id, name) VALUES ('c2', 'r1', 'search')", "capabilities"),
        ] {
            let err = db.execute_unprepared(sql).await.expect_err(sql).to_string();
            assert!(err.contains(rule), "{sql}: {err}");
        }
        assert_eq!(snapshot_rows(db).await, before, "nothing was written");
        db.execute_unprepared("INSERT INTO capabilities (id, resource_id, name) VALUES ('c2', 'r1', 'other')").await.unwrap();
    }

    empty: async fn rows_that_break_a_new_rule_stop_its_migration_by_id(db: &Db) {
        let rules = Migrator::migrations().iter().position(|m| m.name().contains("guard_invariants")).unwrap();
        Migrator::up(db.pool(), Some(rules as u32)).await.unwrap();
        let mut sql = String::from("INSERT INTO resources (id, name, protocol, endpoint) VALUES ('ok', 'ok', 'mcp', 'x');");
        for i in 0..25 {
            sql += &format!("INSERT INTO resources (id, name, protocol, endpoint) VALUES ('r{i:02}', 'n', 'ftp', 'x');");
        }
        sql += "INSERT INTO capabilities (id, resource_id, name) VALUES ('c1', 'ok', 'same'), ('c2', 'ok', 'same'), ('c3', 'ok', 'other');
                INSERT INTO cost_tracking (principal_id, resource_id, capability_id, actual_cost_micros) VALUES ('p', 'r', 'c', -3);";
        db.execute_unprepared(&sql).await.unwrap();
        let before = snapshot(db).await;
        let err = Migrator::up(db.pool(), None).await.unwrap_err().to_string();
        let first_20: Vec<String> = (0..20).map(|i| format!("\"r{i:02}\"")).collect();
        assert!(err.contains(&format!("ck_resources_protocol broken by: {} and 5 more", first_20.join(", "))), "{err}");
        assert!(err.contains("uq_capabilities_resource_name broken by capabilities: \"c1\", \"c2\""), "{err}");
        assert!(err.contains("ck_cost_tracking_micros broken by: \"1\""), "{err}");
        assert_eq!(snapshot(db).await, before, "nothing changed");
        assert_eq!(scalar(db, "SELECT count(*) FROM resources WHERE protocol = 'ftp'").await, 25);
        assert_eq!(Migrator::get_pending_migrations(db.pool()).await.unwrap()[0].name(), Migrator::migrations()[rules].name());
    }

    empty: async fn an_adopted_v1_audit_log_gets_the_key_every_deployment_has(db: &Db) {
        // The v1 table as v1 made it: keyed by id alone.
        db.execute_unprepared(
            "CREATE TABLE audit_events (id VARCHAR(255) PRIMARY KEY, \"timestamp\" TIMESTAMP WITH TIME ZONE NOT NULL \
             DEFAULT CURRENT_TIMESTAMP, event_type VARCHAR(255) NOT NULL, severity VARCHAR(255) NOT NULL DEFAULT 'low', \
             user_id VARCHAR(255), user_email VARCHAR(255), server_id VARCHAR(255), tool_name VARCHAR(255), \
             decision VARCHAR(255), policy_id VARCHAR(255), ip_address VARCHAR(255), user_agent VARCHAR(255), \
             request_id VARCHAR(255), details TEXT NOT NULL DEFAULT '{}');
             INSERT INTO audit_events (id, event_type) VALUES ('e1', 'tool_invoked');",
        )
        .await
        .unwrap();
        sark_db::migrate(db).await.unwrap();
        assert_eq!(strings(db, "SELECT id FROM audit_events").await, ["e1"], "the row stays");
        if is_pg(db) {
            let key = primary_key(db, "audit_events").await;
            assert_eq!(key, BTreeSet::from(["id".to_owned(), "timestamp".to_owned()]));
        }
    }

    async fn entities_match_the_schema(db: &Db) {
        use entity::prelude::*;
        assert_entity_matches::<Resource>(db).await;
        assert_entity_matches::<Capability>(db).await;
        assert_entity_matches::<AuditEvent>(db).await;
        assert_entity_matches::<FederationNode>(db).await;
        assert_entity_matches::<CostRecord>(db).await;
        assert_entity_matches::<PrincipalBudget>(db).await;
        assert_entity_matches::<CostIdempotencyKey>(db).await;
        assert_entity_matches::<McpServer>(db).await;
        assert_entity_matches::<McpTool>(db).await;
    }

    async fn seed_indexes_and_foreign_keys_exist(db: &Db) {
        let sql = if is_pg(db) {
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'index'"
        };
        let indexes: BTreeSet<String> = strings(db, sql).await.into_iter().collect();
        for name in [
            "idx_resources_protocol",
            "idx_resources_sensitivity",
            "idx_capabilities_resource",
            "idx_capabilities_name",
            "idx_audit_correlation",
            "idx_cost_timestamp",
            "idx_cost_principal_timestamp",
            "uq_capabilities_resource_name",
        ] {
            assert!(indexes.contains(name), "index {name} missing");
        }
        assert!(!indexes.contains("idx_cost_principal"), "the redundant prefix index is gone");
        let fk = if is_pg(db) {
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'capabilities'::regclass \
             AND confrelid = 'resources'::regclass AND confdeltype = 'c'"
        } else {
            "SELECT count(*) FROM pragma_foreign_key_list('capabilities') \
             WHERE \"table\" = 'resources' AND on_delete = 'CASCADE'"
        };
        assert_eq!(scalar(db, fk).await, 1);
    }

    async fn deleting_a_resource_deletes_its_capabilities(db: &Db) {
        db.execute_unprepared(
            "INSERT INTO resources (id, name, protocol, endpoint) VALUES ('r1', 'one', 'mcp', 'x'), ('r2', 'two', 'http', 'y');
             INSERT INTO capabilities (id, resource_id, name) VALUES ('c1', 'r1', 'a'), ('c2', 'r1', 'b'), ('c3', 'r2', 'c');",
        )
        .await
        .unwrap();
        db.execute_unprepared("DELETE FROM resources WHERE id = 'r1'").await.unwrap();
        assert_eq!(strings(db, "SELECT id FROM capabilities").await, ["c3"]);
        let orphan = db
            .execute_unprepared("INSERT INTO capabilities (id, resource_id, name) VALUES ('c4', 'nope', 'd')")
            .await;
        assert!(orphan.is_err(), "a capability without its resource was accepted");
    }

    async fn the_names_the_library_recognises_refusals_by_exist(db: &Db) {
        use migration::names::{AUDIT_EVENTS_UNSEALED, UQ_CAPABILITIES_RESOURCE_NAME};
        let (index, trigger) = if is_pg(db) {
            (
                format!("SELECT count(*) FROM pg_class WHERE relname = '{UQ_CAPABILITIES_RESOURCE_NAME}'"),
                format!("SELECT count(*) FROM pg_trigger WHERE tgname = '{AUDIT_EVENTS_UNSEALED}' AND tgrelid = 'audit_events'::regclass"),
            )
        } else {
            (
                format!("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '{UQ_CAPABILITIES_RESOURCE_NAME}'"),
                format!("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = '{AUDIT_EVENTS_UNSEALED}'"),
            )
        };
        assert_eq!((scalar(db, &index).await, scalar(db, &trigger).await), (1, 1));
    }

    async fn the_database_refuses_to_change_audit_events(db: &Db) {
        db.execute_unprepared("INSERT INTO audit_events (id, event_type) VALUES ('e1', 'tool_invoked')")
            .await
            .unwrap();
        let refusals = vec![
            db.execute_unprepared("UPDATE audit_events SET event_type = 'forged'").await.unwrap_err(),
            db.execute_unprepared("DELETE FROM audit_events").await.unwrap_err(),
        ];
        for err in refusals {
            assert!(err.to_string().contains("audit_events is append-only"), "{err}");
        }
        if is_pg(db) {
            let err = db.execute_unprepared("TRUNCATE audit_events").await.unwrap_err();
            assert!(err.to_string().contains("audit_events is append-only"), "{err}");
        }
        assert_eq!(strings(db, "SELECT event_type FROM audit_events").await, ["tool_invoked"]);
    }

    empty: async fn a_failing_migration_leaves_nothing_behind(db: &Db) {
        Migrator::up(db.pool(), Some(2)).await.unwrap();
        let before = snapshot(db).await;
        let err = FailingMigrator::up(db.pool(), None).await.unwrap_err();
        assert!(err.to_string().contains("deliberate failure"), "{err}");
        assert_eq!(snapshot(db).await, before);
        assert_eq!(Migrator::get_applied_migrations(db.pool()).await.unwrap().len(), 2);
    }
}

on_both! {
    empty: async fn the_owner_cannot_empty_any_piece_of_the_audit_log(db: &Db) {
        // Pieces made before migration 20 and after it: partitions or TimescaleDB chunks of two
        // months, then of two more.
        Migrator::up(db.pool(), Some(20)).await.unwrap();
        let insert = |month: u32| format!(
            "INSERT INTO audit_events (id, \"timestamp\", event_type) VALUES ('e{month}', '2025-{month:02}-15T00:00:00.000000Z', 'x');
             INSERT INTO cost_tracking (\"timestamp\", principal_id, resource_id, capability_id, actual_cost_micros) \
             VALUES ('2025-{month:02}-15T00:00:00.000000Z', 'p', 'r', 'c', 1);"
        );
        for month in [1, 2] {
            db.execute_unprepared(&insert(month)).await.unwrap();
        }
        Migrator::up(db.pool(), None).await.unwrap();
        for month in [3, 4] {
            db.execute_unprepared(&insert(month)).await.unwrap();
        }
        if !is_pg(db) {
            // SQLite has no TRUNCATE and no owner: DELETE is its way to empty a table.
            let err = db.execute_unprepared("DELETE FROM audit_events").await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{err}");
            assert_eq!(scalar(db, "SELECT count(*) FROM audit_events").await, 4);
            return;
        }
        // The tables' owner, not a superuser (who bypasses privileges, not triggers).
        let owner = format!("sark_owner_{}", std::process::id());
        let timescale = common::is_timescale(db).await;
        // On TimescaleDB both hypertables lost TRUNCATE; on native partitions the audit log's
        // TRUNCATE trigger is on every partition (cost_tracking has none there: not promised).
        let tables: &[&str] = if timescale { &["audit_events", "cost_tracking"] } else { &["audit_events"] };
        db.execute_unprepared(&format!("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{owner}') THEN CREATE ROLE {owner}; END IF; END $$")).await.unwrap();
        for table in tables {
            let pieces = strings(db, &format!(
                "SELECT '{table}' UNION ALL SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = '{table}'::regclass"
            )).await;
            assert!(pieces.len() >= 5, "{table}: {pieces:?}");
            // A hypertable passes its owner on to its chunks (which refuse the change themselves).
            for piece in if timescale { &pieces[..1] } else { &pieces[..] } {
                db.execute_unprepared(&format!("ALTER TABLE {piece} OWNER TO {owner}")).await.unwrap();
            }
            for piece in &pieces {
                let txn = db.begin_write().await.unwrap();
                txn.execute_unprepared(&format!("SET LOCAL ROLE {owner}")).await.unwrap();
                let err = txn.execute_unprepared(&format!("TRUNCATE {piece}")).await.unwrap_err().to_string();
                txn.rollback().await.unwrap();
                assert!(err.contains("permission denied") || err.contains("append-only"), "TRUNCATE {piece}: {err}");
            }
            assert_eq!(scalar(db, &format!("SELECT count(*) FROM {table}")).await, 4, "{table}");
        }
        for table in tables {
            let pieces = strings(db, &format!(
                "SELECT '{table}' UNION ALL SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = '{table}'::regclass"
            )).await;
            for piece in if timescale { &pieces[..1] } else { &pieces[..] } {
                db.execute_unprepared(&format!("ALTER TABLE {piece} OWNER TO CURRENT_USER")).await.unwrap();
            }
        }
        db.execute_unprepared(&format!("DROP ROLE {owner}")).await.unwrap();
    }
}

/// The v1 tables of an existing v1 deployment, with a row in each.
async fn v1_with_rows(db: &Db) {
    common::v1_database(db).await;
    db.execute_unprepared(
        "INSERT INTO mcp_servers (id, name, transport, command) VALUES ('s1', 'files', 'stdio', 'mcp-files');
         INSERT INTO mcp_tools (id, server_id, name) VALUES ('t1', 's1', 'read');
         INSERT INTO audit_events (id, event_type, user_id) VALUES ('e1', 'tool_invoked', 'u1');",
    )
    .await
    .unwrap();
}

async fn assert_v1_rows_intact(db: &Db) {
    assert_eq!(strings(db, "SELECT name FROM mcp_servers").await, ["files"]);
    assert_eq!(strings(db, "SELECT name FROM mcp_tools").await, ["read"]);
    assert_eq!(strings(db, "SELECT user_id FROM audit_events").await, ["u1"]);
}

const V1_SORTED: [&str; 3] = ["audit_events", "mcp_servers", "mcp_tools"];

/// Every row of the tables a rule guards, as text.
async fn snapshot_rows(db: &Db) -> Vec<String> {
    let mut rows = Vec::new();
    for table in [
        "cost_tracking",
        "audit_events",
        "principal_budgets",
        "resources",
        "capabilities",
        "federation_nodes",
    ] {
        let count = scalar(db, &format!("SELECT count(*) FROM {table}")).await;
        rows.push(format!("{table}: {count}"));
    }
    rows.extend(strings(db, "SELECT id || protocol || sensitivity_level FROM resources ORDER BY id").await);
    rows.extend(strings(db, "SELECT id || name || sensitivity_level FROM capabilities ORDER BY id").await);
    rows
}

/// Migrations 1–12, the list as it was before migration 0 was added.
struct Before0;

#[async_trait::async_trait]
impl MigratorTrait for Before0 {
    fn migrations() -> Vec<Box<dyn migration::MigrationTrait>> {
        let mut migrations = Migrator::migrations();
        migrations.remove(0);
        migrations.truncate(12);
        migrations
    }
}

/// The real migrations with one that fails after the resources migration did its work.
struct FailingMigrator;

#[async_trait::async_trait]
impl MigratorTrait for FailingMigrator {
    fn migrations() -> Vec<Box<dyn migration::MigrationTrait>> {
        let mut migrations = Migrator::migrations();
        migrations.truncate(2);
        migrations.push(Box::new(FailsHalfway));
        migrations
    }
}

struct FailsHalfway;

impl MigrationName for FailsHalfway {
    fn name(&self) -> &str {
        "m20261128_999999_fails_halfway"
    }
}

#[async_trait::async_trait]
impl migration::MigrationTrait for FailsHalfway {
    async fn up(&self, manager: &migration::SchemaManager) -> Result<(), sea_orm::DbErr> {
        let real = &Migrator::migrations()[2];
        real.up(manager).await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO resources (id, name, protocol, endpoint) VALUES ('r', 'n', 'mcp', 'e')",
            )
            .await?;
        Err(sea_orm::DbErr::Migration("deliberate failure".into()))
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[tokio::test]
#[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
async fn postgres_unique_indexes_on_time_series_include_timestamp() {
    let t = common::TestDb::new(common::Backend::Postgres, common::Schema::Migrated).await;
    let offenders = strings(
        &t.db,
        "SELECT c.relname::text || ': ' || pg_get_indexdef(i.indexrelid) FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indrelid \
         WHERE c.relname IN ('cost_tracking', 'audit_events') AND i.indisunique \
         AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid \
             AND a.attnum = ANY(i.indkey) AND a.attname = 'timestamp')",
    )
    .await;
    assert!(offenders.is_empty(), "unique indexes without timestamp: {offenders:?}");
    let unique = scalar(
        &t.db,
        "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
         WHERE c.relname IN ('cost_tracking', 'audit_events') AND i.indisunique",
    )
    .await;
    assert_eq!(unique, 2, "each time-series table has its (id, timestamp) key");
}

/// On Citus, a principal's budget row, costs and keys share shards (a charge commits on one
/// worker), the audit log and its seal entries share a group of their own, the small tables are
/// on every node, and every unique key holds its table's distribution column.
#[tokio::test]
#[cfg_attr(sark_citus_off, ignore = "SARK_TEST_CITUS unset: no Citus cluster, not run")]
async fn citus_spreads_budgets_by_principal_and_the_audit_log_by_event() {
    let t = common::TestDb::new(common::Backend::Citus, common::Schema::Migrated).await;
    let layout = strings(
        &t.db,
        "SELECT table_name::text || ' ' || citus_table_type || ' ' || distribution_column || ' ' || shard_count \
         FROM citus_tables WHERE table_name NOT IN (SELECT inhrelid::regclass FROM pg_inherits) ORDER BY 1",
    )
    .await;
    let expected = [
        "audit_events distributed id 8",
        "audit_seal_entries distributed event_id 8",
        "audit_seal_removals reference <none> 1",
        "audit_seals reference <none> 1",
        "capabilities reference <none> 1",
        "cost_idempotency_keys distributed principal_id 32",
        "cost_tracking distributed principal_id 32",
        "federation_nodes reference <none> 1",
        "mcp_servers reference <none> 1",
        "mcp_tools reference <none> 1",
        "principal_budgets distributed principal_id 32",
        "resources reference <none> 1",
        "retention_log reference <none> 1",
        "sark_adopted_tables reference <none> 1",
        "v1_copied_rows reference <none> 1",
    ];
    assert_eq!(layout, expected);
    let groups = |tables: &str| {
        format!("SELECT count(DISTINCT colocation_id) FROM citus_tables WHERE table_name::text IN ({tables})")
    };
    let principal = "'principal_budgets', 'cost_tracking', 'cost_idempotency_keys'";
    let audit = "'audit_events', 'audit_seal_entries'";
    assert_eq!(scalar(&t.db, &groups(principal)).await, 1, "one group for a principal's rows");
    assert_eq!(scalar(&t.db, &groups(audit)).await, 1, "one group for the audit log");
    assert_eq!(scalar(&t.db, &groups(&format!("{principal}, {audit}"))).await, 2, "two groups");
    let keys_without_column = strings(
        &t.db,
        "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
         JOIN pg_dist_partition p ON p.logicalrelid = c.oid AND p.partmethod = 'h' \
         WHERE i.indisunique AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
             AND a.attnum = ANY(i.indkey) AND a.attname = column_to_column_name(p.logicalrelid, p.partkey))",
    )
    .await;
    assert!(keys_without_column.is_empty(), "{keys_without_column:?}");
}
