//! On a Citus coordinator (the `citus` extension installed in the database), spreads the
//! tables over the cluster; on plain PostgreSQL, TimescaleDB and SQLite it does nothing and
//! says so in the log.
//!
//! - `principal_budgets`, `cost_tracking` and `cost_idempotency_keys` are distributed by
//!   `principal_id` and co-located: a charge (budget change, ledger row, key) touches one shard
//!   and commits on one worker. `cost_tracking`'s key becomes `(id, timestamp, principal_id)`,
//!   as Citus needs every unique key to hold the distribution column.
//! - `audit_events` is distributed by `id`, and `audit_seal_entries` by `event_id`, co-located
//!   with it in a group of their own of [`AUDIT_SHARDS`] shards: writes spread evenly whatever
//!   the correlation ids, `get` is one shard, a sealed event's entry lies on its shard, and
//!   `trace` asks every shard through the correlation index (`correlation_id` may be NULL,
//!   which a distribution column may not be), which is why the shards are few.
//! - The registry, the federation nodes, the v1 tables, the seals and the bookkeeping tables
//!   are small and joined with one another: they are reference tables, copied to every node.
//!
//! The append-only and sealed-range triggers stay: they read nothing but their row and the
//! `audit_seals` reference table, which every node holds, so Citus may run them on the shards
//! (`citus.enable_unsafe_triggers`, set for this transaction only). While the existing events
//! are copied into the shards the sealed-range trigger is off: those events are not new, and
//! once `audit_seals` is on every node it would refuse each sealed one.

use crate::m20261128_000016_partition_time_series::AHEAD_MONTHS;
use crate::{citus, partitions};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Copied to every node; a table that another references comes before it.
const REFERENCE_TABLES: [&str; 9] = [
    "resources",
    "capabilities",
    "federation_nodes",
    "mcp_servers",
    "mcp_tools",
    "v1_copied_rows",
    "sark_adopted_tables",
    "retention_log",
    "audit_seals",
];

/// Shards of the audit log. `trace` reads every shard: with 200,000 events on two workers and
/// 8 concurrent callers it took 314 ms with Citus's default of 32 shards, 19.7 ms with 8 and
/// 8.6 ms with 4 (one server: 0.29 ms); 8 leaves room for 8 workers without splitting.
const AUDIT_SHARDS: u32 = 8;

/// Where a distributed table's shards go.
#[derive(Clone, Copy)]
enum Shards {
    /// With those of this table, or of Citus's default group (`"default"`).
    With(&'static str),
    /// In a group of their own, this many.
    Own(u32),
}

/// Distributed tables, their distribution column and where their shards go.
const DISTRIBUTED_TABLES: [(&str, &str, Shards); 5] = [
    ("principal_budgets", "principal_id", Shards::With("default")),
    ("cost_tracking", "principal_id", Shards::With("principal_budgets")),
    ("cost_idempotency_keys", "principal_id", Shards::With("principal_budgets")),
    ("audit_events", "id", Shards::Own(AUDIT_SHARDS)),
    ("audit_seal_entries", "event_id", Shards::With("audit_events")),
];

/// DDL and data of one transaction over one connection per node, as Citus needs when a
/// transaction changes several co-located or referencing tables.
const SEQUENTIAL: &str = "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'";

/// Replaces the primary key of `table` by `columns`, whatever its name.
fn rekey(table: &str, columns: &str) -> String {
    format!(
        r#"DO $$
DECLARE pk text;
BEGIN
    SELECT conname INTO pk FROM pg_constraint WHERE conrelid = '{table}'::regclass AND contype = 'p';
    EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I', pk);
    ALTER TABLE {table} ADD PRIMARY KEY ({columns});
END
$$;"#
    )
}

/// The statements that distribute the tables, in order.
fn distribute() -> String {
    let mut sql = vec![
        "SET LOCAL citus.enable_unsafe_triggers TO on".to_owned(),
        SEQUENTIAL.to_owned(),
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_unsealed".to_owned(),
        rekey("cost_tracking", r#"id, "timestamp", principal_id"#),
    ];
    sql.extend(REFERENCE_TABLES.map(|table| format!("SELECT create_reference_table('{table}')")));
    sql.extend(DISTRIBUTED_TABLES.map(|(table, column, shards)| {
        let shards = match shards {
            Shards::With(table) => format!("colocate_with => '{table}'"),
            Shards::Own(count) => format!("colocate_with => 'none', shard_count => {count}"),
        };
        format!("SELECT create_distributed_table('{table}', '{column}', {shards})")
    }));
    sql.join(";\n")
}

/// Brings every table back to the coordinator. `cost_tracking` is rebuilt there (through a
/// plain table, so that its month partitions can take their old names), as Citus cannot
/// undistribute a table with an identity column.
async fn undistribute<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    citus::allow_triggers(db).await?;
    db.execute_unprepared(SEQUENTIAL).await?;
    let partitioned = partitions::is_partitioned(db, "cost_tracking").await?;
    partitions::unpartition(db, "cost_tracking").await?;
    db.execute_unprepared(&rekey("cost_tracking", r#"id, "timestamp""#)).await?;
    if partitioned {
        partitions::partition(db, "cost_tracking", AHEAD_MONTHS).await?;
    }
    let tables = DISTRIBUTED_TABLES.iter().rev().map(|(table, ..)| *table);
    for table in tables.chain(REFERENCE_TABLES.iter().rev().copied()) {
        db.execute_unprepared(&format!(
            "SELECT undistribute_table('{table}', cascade_via_foreign_keys => true) \
             WHERE EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = '{table}'::regclass)"
        ))
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !citus::installed(manager.get_connection()).await? {
            tracing::info!("Citus is not installed here: every table stays on this server");
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(&distribute()).await?;
        // A statement of its own: Citus sends a distributed table's DDL to the workers as text.
        db.execute_unprepared("ALTER TABLE audit_events ENABLE TRIGGER audit_events_unsealed").await?;
        tracing::info!("the tables are distributed over the Citus cluster");
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if citus::installed(db).await? {
            undistribute(db).await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
