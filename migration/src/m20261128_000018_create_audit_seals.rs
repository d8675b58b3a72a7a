//! Audit seals: `audit_seals` (one row per sealed time range of the audit log: its event count,
//! its SHA-256 digest chained to the previous seal's) and `audit_seal_entries` (the hash of
//! every sealed event, so that verification can name what changed). Both are append-only, and
//! `audit_events` refuses an event stamped inside a sealed range.

use crate::append_only;
use crate::columns::timestamp_now_canonical;
use crate::tables::{AuditSealEntries as N, AuditSeals as S};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `audit_events` refuses an event stamped inside a sealed range.
const PG_UNSEALED: &str = r#"
CREATE OR REPLACE FUNCTION audit_events_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."timestamp" < (SELECT max(range_end) FROM audit_seals) THEN
        RAISE EXCEPTION 'audit_events: % lies in a sealed range', NEW."timestamp"
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_events_unsealed BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_unsealed();
"#;

const PG_DROP_RULES: &str = r#"
DROP TRIGGER IF EXISTS audit_events_unsealed ON audit_events;
DROP FUNCTION IF EXISTS audit_events_unsealed();
"#;

const SQLITE_UNSEALED: &str = r#"
CREATE TRIGGER audit_events_unsealed BEFORE INSERT ON audit_events
WHEN NEW."timestamp" < (SELECT max(range_end) FROM audit_seals)
BEGIN SELECT RAISE(ABORT, 'audit_events: the event lies in a sealed range'); END;
"#;

const SQLITE_DROP_RULES: &str = "DROP TRIGGER IF EXISTS audit_events_unsealed;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let text = |name: S| ColumnDef::new(name).string().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(
                        ColumnDef::new(S::Seq)
                            .big_integer()
                            .not_null()
                            .primary_key()
                            .check(Expr::col(S::Seq).gt(0)),
                    )
                    .col(ColumnDef::new(S::RangeStart).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(S::RangeEnd).timestamp_with_time_zone().not_null())
                    .col(
                        ColumnDef::new(S::EventCount)
                            .big_integer()
                            .not_null()
                            .check(Expr::col(S::EventCount).gte(0)),
                    )
                    .col(text(S::Digest))
                    .col(text(S::PreviousDigest))
                    .col(text(S::Algorithm))
                    .col(timestamp_now_canonical(backend, S::SealedAt))
                    .check(Expr::col(S::RangeEnd).gt(Expr::col(S::RangeStart)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .col(ColumnDef::new(N::SealSeq).big_integer().not_null())
                    .col(ColumnDef::new(N::Timestamp).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(N::EventId).string().not_null())
                    .col(ColumnDef::new(N::Hash).string().not_null())
                    .primary_key(Index::create().col(N::SealSeq).col(N::Timestamp).col(N::EventId))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for table in ["audit_seals", "audit_seal_entries"] {
            db.execute_unprepared(&append_only::rule(backend, table)).await?;
        }
        let unsealed = if backend == DbBackend::Postgres { PG_UNSEALED } else { SQLITE_UNSEALED };
        db.execute_unprepared(unsealed).await.map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let rules = match manager.get_database_backend() {
            DbBackend::Postgres => PG_DROP_RULES,
            _ => SQLITE_DROP_RULES,
        };
        manager.get_connection().execute_unprepared(rules).await?;
        manager.drop_table(Table::drop().table(N::Table).if_exists().to_owned()).await?;
        manager.drop_table(Table::drop().table(S::Table).if_exists().to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
