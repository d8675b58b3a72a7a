//! Migrations of the sark-db schema, applied in order by [`Migrator`].
//!
//! Every migration runs in a transaction on every backend and has a working `down`.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseExecutor;

mod adopted;
mod append_only;
mod canonical;
pub mod citus;
mod columns;
mod m20261128_000000_record_adopted_v1_tables;
mod m20261128_000001_create_v1_baseline;
mod m20261128_000002_create_resources_and_capabilities;
mod m20261128_000003_extend_audit_events;
mod m20261128_000004_create_federation_nodes;
mod m20261128_000005_create_cost_tracking;
mod m20261128_000006_create_principal_budgets;
mod m20261128_000007_enable_timescaledb;
mod m20261128_000008_create_cost_idempotency_keys;
mod m20261128_000009_create_audit_time_index;
mod m20261128_000010_copy_v1_registry;
mod m20261128_000011_scope_idempotency_keys;
mod m20261128_000012_widen_adopted_audit_key;
mod m20261128_000013_guard_invariants;
mod m20261128_000014_drop_redundant_cost_index;
mod m20261128_000015_canonical_sqlite_timestamps;
mod m20261128_000016_partition_time_series;
mod m20261128_000017_create_retention_log;
mod m20261128_000018_create_audit_seals;
mod m20261129_000019_distribute_on_citus;
mod m20261206_000020_chain_removals_into_seals;
mod m20261206_000021_index_seal_ends;
mod m20261207_000022_check_sealed_range_per_statement;
pub mod names;
mod offenders;
pub mod partitions;
mod rules;
mod sortable;
mod tables;
pub mod v1_copy;

/// The ordered list of sark-db migrations.
pub struct Migrator;

/// The same migrations with sea-orm's own `fresh`, which [`Migrator::fresh`] calls once it has
/// cleared what that one leaves behind.
struct Plain;

#[async_trait::async_trait]
impl MigratorTrait for Plain {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        Migrator::migrations()
    }
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    /// Drops every table and, on PostgreSQL, the append-only trigger functions, which
    /// sea-orm's own `fresh` leaves behind (it drops tables and types only); then applies every
    /// migration. Refuses, dropping nothing, while a v1 table exists that sark-db adopted
    /// rather than created (listed in `sark_adopted_tables`): `refresh` keeps those tables.
    async fn fresh<'c, C>(db: C) -> Result<(), DbErr>
    where
        C: IntoSchemaManagerConnection<'c>,
    {
        let db = db.into_database_executor();
        let adopted = adopted::adopted_tables(&SchemaManager::new(reborrow(&db))).await?;
        if !adopted.is_empty() {
            return Err(DbErr::Migration(format!(
                "fresh refused, nothing dropped: {} held v1 data before sark-db adopted it; \
                 `refresh` and `down` keep adopted tables, or drop them yourself first",
                adopted.join(", ")
            )));
        }
        if db.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            db.execute_unprepared(
                "DROP FUNCTION IF EXISTS audit_events_append_only() CASCADE; \
                 DROP FUNCTION IF EXISTS sark_append_only() CASCADE; \
                 DROP FUNCTION IF EXISTS audit_events_unsealed() CASCADE; \
                 DROP FUNCTION IF EXISTS audit_events_unsealed_statement() CASCADE",
            )
            .await?;
        }
        if citus::installed(&db).await? {
            citus::drop_tables(&db).await?;
            return Self::up(db, None).await;
        }
        Plain::fresh(db).await
    }

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            // Added after migration 12, but first: it must run before migration 1 on a new
            // database to tell adopted v1 tables from created ones (see `adopted`).
            Box::new(m20261128_000000_record_adopted_v1_tables::Migration),
            Box::new(m20261128_000001_create_v1_baseline::Migration),
            Box::new(m20261128_000002_create_resources_and_capabilities::Migration),
            Box::new(m20261128_000003_extend_audit_events::Migration),
            Box::new(m20261128_000004_create_federation_nodes::Migration),
            Box::new(m20261128_000005_create_cost_tracking::Migration),
            Box::new(m20261128_000006_create_principal_budgets::Migration),
            Box::new(m20261128_000007_enable_timescaledb::Migration),
            Box::new(m20261128_000008_create_cost_idempotency_keys::Migration),
            Box::new(m20261128_000009_create_audit_time_index::Migration),
            Box::new(m20261128_000010_copy_v1_registry::Migration),
            Box::new(m20261128_000011_scope_idempotency_keys::Migration),
            Box::new(m20261128_000012_widen_adopted_audit_key::Migration),
            Box::new(m20261128_000013_guard_invariants::Migration),
            Box::new(m20261128_000014_drop_redundant_cost_index::Migration),
            Box::new(m20261128_000015_canonical_sqlite_timestamps::Migration),
            Box::new(m20261128_000016_partition_time_series::Migration),
            Box::new(m20261128_000017_create_retention_log::Migration),
            Box::new(m20261128_000018_create_audit_seals::Migration),
            Box::new(m20261129_000019_distribute_on_citus::Migration),
            Box::new(m20261206_000020_chain_removals_into_seals::Migration),
            Box::new(m20261206_000021_index_seal_ends::Migration),
            Box::new(m20261207_000022_check_sealed_range_per_statement::Migration),
        ]
    }
}

/// `db` lent out as an executor of its own, so that it can serve twice.
fn reborrow<'a>(db: &'a DatabaseExecutor<'_>) -> DatabaseExecutor<'a> {
    match db {
        DatabaseExecutor::Connection(conn) => DatabaseExecutor::Connection(conn),
        DatabaseExecutor::Transaction(txn) => DatabaseExecutor::Transaction(txn),
        DatabaseExecutor::OwnedTransaction(txn) => DatabaseExecutor::Transaction(txn),
    }
}
