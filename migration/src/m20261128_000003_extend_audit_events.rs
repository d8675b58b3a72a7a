//! `audit_events` v2: federation, protocol and cost columns, the correlation index, and
//! append-only enforcement by the database itself.

use crate::columns::micros_null;
use crate::tables::AuditEvents;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns v2 adds, in order.
const NEW_COLUMNS: [AuditEvents; 8] = [
    AuditEvents::PrincipalOrg,
    AuditEvents::ResourceProtocol,
    AuditEvents::CapabilityId,
    AuditEvents::CorrelationId,
    AuditEvents::SourceNode,
    AuditEvents::TargetNode,
    AuditEvents::EstimatedCostMicros,
    AuditEvents::ActualCostMicros,
];

/// The definition of one of [`NEW_COLUMNS`]: costs are micro-units, the rest nullable strings.
fn column_def(col: AuditEvents) -> ColumnDef {
    match col {
        AuditEvents::EstimatedCostMicros | AuditEvents::ActualCostMicros => micros_null(col),
        _ => ColumnDef::new(col).string().null().to_owned(),
    }
}

const CORRELATION_INDEX: &str = "idx_audit_correlation";

/// `OR REPLACE`: a function left behind by an interrupted `fresh` (which drops tables, not
/// functions) must not stop this migration from running again.
const PG_APPEND_ONLY: &str = r#"
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
"#;

const PG_DROP_APPEND_ONLY: &str = r#"
DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events;
DROP TRIGGER IF EXISTS audit_events_no_update_delete ON audit_events;
DROP FUNCTION IF EXISTS audit_events_append_only();
"#;

/// SQLite's refusal of UPDATE (migration 15 lifts it while it rewrites timestamps).
pub(crate) const SQLITE_NO_UPDATE: &str = r#"
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed'); END;
"#;

const SQLITE_NO_DELETE: &str = r#"
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed'); END;
"#;

const SQLITE_DROP_APPEND_ONLY: &str = r#"
DROP TRIGGER IF EXISTS audit_events_no_delete;
DROP TRIGGER IF EXISTS audit_events_no_update;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in NEW_COLUMNS {
            manager
                .alter_table(Table::alter().table(AuditEvents::Table).add_column(column_def(col)).to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(CORRELATION_INDEX)
                    .table(AuditEvents::Table)
                    .col(AuditEvents::CorrelationId)
                    .to_owned(),
            )
            .await?;
        let triggers = match manager.get_database_backend() {
            DbBackend::Postgres => PG_APPEND_ONLY.to_owned(),
            _ => [SQLITE_NO_UPDATE, SQLITE_NO_DELETE].concat(),
        };
        manager.get_connection().execute_unprepared(&triggers).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let triggers = match manager.get_database_backend() {
            DbBackend::Postgres => PG_DROP_APPEND_ONLY,
            _ => SQLITE_DROP_APPEND_ONLY,
        };
        manager.get_connection().execute_unprepared(triggers).await?;
        manager
            .drop_index(Index::drop().name(CORRELATION_INDEX).table(AuditEvents::Table).to_owned())
            .await?;
        for col in NEW_COLUMNS.into_iter().rev() {
            manager.alter_table(Table::alter().table(AuditEvents::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
