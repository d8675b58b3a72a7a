//! The database guards its own invariants, for writes that bypass the Rust layer (the v1
//! copy, an operator's SQL): non-negative micro-unit amounts, the protocol and sensitivity
//! vocabularies, a positive federation rate limit, and one capability per name and resource.
//!
//! On PostgreSQL the rules are `CHECK` constraints; SQLite cannot add a constraint to an
//! existing table, so there each rule is a pair of `BEFORE INSERT` / `BEFORE UPDATE` triggers
//! that abort with the constraint's name (a rule that yields NULL passes, as a `CHECK` does).
//! Rows that already break a rule make the migration fail naming them; nothing is changed.

use crate::offenders::{describe, refuse};
use crate::rules::Rule;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const RULES: [Rule; 8] = [
    Rule {
        name: "ck_cost_tracking_micros",
        table: "cost_tracking",
        key: "CAST(id AS TEXT)",
        rule: "@estimated_cost_micros >= 0 AND @actual_cost_micros >= 0",
    },
    Rule {
        name: "ck_audit_events_micros",
        table: "audit_events",
        key: "id",
        rule: "@estimated_cost_micros >= 0 AND @actual_cost_micros >= 0",
    },
    Rule {
        name: "ck_principal_budgets_micros",
        table: "principal_budgets",
        key: "principal_id",
        rule: "@daily_budget_micros >= 0 AND @monthly_budget_micros >= 0 \
               AND @daily_spent_micros >= 0 AND @monthly_spent_micros >= 0",
    },
    Rule {
        name: "ck_resources_protocol",
        table: "resources",
        key: "id",
        rule: "@protocol IN ('mcp', 'http', 'grpc')",
    },
    Rule {
        name: "ck_audit_events_resource_protocol",
        table: "audit_events",
        key: "id",
        rule: "@resource_protocol IN ('mcp', 'http', 'grpc')",
    },
    Rule {
        name: "ck_resources_sensitivity",
        table: "resources",
        key: "id",
        rule: "@sensitivity_level IN ('low', 'medium', 'high', 'critical')",
    },
    Rule {
        name: "ck_capabilities_sensitivity",
        table: "capabilities",
        key: "id",
        rule: "@sensitivity_level IN ('low', 'medium', 'high', 'critical')",
    },
    Rule {
        name: "ck_federation_nodes_rate_limit",
        table: "federation_nodes",
        key: "id",
        rule: "@rate_limit_per_hour > 0",
    },
];

/// One capability per `(resource_id, name)`: discovery sync matches capabilities by name.
const UNIQUE_NAME: &str = "uq_capabilities_resource_name";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let mut problems = Vec::new();
        for rule in &RULES {
            problems.extend(describe(db, &format!("{} broken by", rule.name), &rule.offenders()).await?);
        }
        let duplicates = "SELECT id FROM capabilities c WHERE EXISTS (SELECT 1 FROM capabilities d \
            WHERE d.resource_id = c.resource_id AND d.name = c.name AND d.id <> c.id) ORDER BY id";
        problems.extend(describe(db, &format!("{UNIQUE_NAME} broken by capabilities"), duplicates).await?);
        refuse(
            "the database's own rules cannot be added, nothing changed; fix or remove these rows",
            problems,
        )?;
        for rule in &RULES {
            db.execute_unprepared(&rule.create(manager.get_database_backend())).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(UNIQUE_NAME)
                    .table(Alias::new("capabilities"))
                    .col(Alias::new("resource_id"))
                    .col(Alias::new("name"))
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        manager
            .drop_index(
                Index::drop().name(UNIQUE_NAME).table(Alias::new("capabilities")).if_exists().to_owned(),
            )
            .await?;
        for rule in &RULES {
            db.execute_unprepared(&rule.drop(manager.get_database_backend())).await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
