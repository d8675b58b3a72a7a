//! Migrations of the sark-db schema, applied in order by [`Migrator`].
//!
//! Every migration runs in a transaction on every backend and has a working `down`.

pub use sea_orm_migration::prelude::*;

mod columns;
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
pub mod sortable;
mod tables;
pub mod v1_copy;

/// The ordered list of sark-db migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
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
        ]
    }
}
