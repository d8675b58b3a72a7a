//! Two guards of the audit log where it meets retention and TimescaleDB.
//!
//! - `audit_seal_removals`: the `retention_log` entries each seal chains (canonical form
//!   version 2), with the hash of each, so that a removal record forged into a sealed period,
//!   altered or deleted breaks the chain and verification can name it. Append-only. On a Citus
//!   coordinator it is a reference table, like `audit_seals`.
//! - On TimescaleDB, `TRUNCATE` of `audit_events` and `cost_tracking` and of every chunk of them
//!   is revoked from every role that holds it, the owner included. The append-only
//!   `BEFORE TRUNCATE` trigger is statement-level, and TimescaleDB copies only row triggers to
//!   chunks; privileges, however, TimescaleDB copies from the hypertable to every chunk it
//!   creates, and propagates a `REVOKE` on the hypertable to the chunks that exist. So a
//!   privilege holds for chunks made later, where a trigger would have to be added wherever
//!   chunks are made. The owner may grant itself the privilege back: that is an act of its
//!   own, which seals show (the events go missing without a removal record).
//!
//! `down` gives the owner its `TRUNCATE` back, and drops `audit_seal_removals` only while it is
//! empty: once a seal chains removals, dropping them would break every later seal, so the table
//! stays (as `down` keeps adopted v1 tables) and `up` takes it over again.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `audit_seal_removals` and its columns.
#[derive(DeriveIden)]
enum AuditSealRemovals {
    Table,
    SealSeq,
    RemovalId,
    Hash,
}

/// The append-only rule of the table (`sark_append_only()` is migration 17's).
const PG_APPEND_ONLY: &str = r#"
CREATE TRIGGER audit_seal_removals_no_update_delete BEFORE UPDATE OR DELETE ON audit_seal_removals
    FOR EACH ROW EXECUTE FUNCTION sark_append_only();
CREATE TRIGGER audit_seal_removals_no_truncate BEFORE TRUNCATE ON audit_seal_removals
    FOR EACH STATEMENT EXECUTE FUNCTION sark_append_only();
"#;

const SQLITE_APPEND_ONLY: &str = r#"
CREATE TRIGGER audit_seal_removals_no_update BEFORE UPDATE ON audit_seal_removals
BEGIN SELECT RAISE(ABORT, 'audit_seal_removals is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER audit_seal_removals_no_delete BEFORE DELETE ON audit_seal_removals
BEGIN SELECT RAISE(ABORT, 'audit_seal_removals is append-only: DELETE is not allowed'); END;
"#;

/// On TimescaleDB, revokes `TRUNCATE` on the two hypertables and each of their chunks from
/// every role holding it (`PUBLIC` and the owner included).
const PG_REVOKE_TRUNCATE: &str = r#"
DO $$
DECLARE
    rel regclass;
    holder record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
    END IF;
    FOR rel IN
        SELECT format('%I.%I', hypertable_schema, hypertable_name)::regclass
        FROM timescaledb_information.hypertables
        WHERE hypertable_schema = current_schema() AND hypertable_name IN ('audit_events', 'cost_tracking')
        UNION ALL
        SELECT format('%I.%I', chunk_schema, chunk_name)::regclass
        FROM timescaledb_information.chunks
        WHERE hypertable_schema = current_schema() AND hypertable_name IN ('audit_events', 'cost_tracking')
    LOOP
        FOR holder IN
            SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS name
            FROM pg_class c, aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) a
            WHERE c.oid = rel AND a.privilege_type = 'TRUNCATE'
        LOOP
            EXECUTE format('REVOKE TRUNCATE ON %s FROM %s', rel, holder.name);
        END LOOP;
    END LOOP;
END
$$;
"#;

/// `down`: the owner of each hypertable (and so of its chunks) gets `TRUNCATE` back.
const PG_GRANT_TRUNCATE: &str = r#"
DO $$
DECLARE
    rel record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
    END IF;
    FOR rel IN
        SELECT format('%I.%I', h.hypertable_schema, h.hypertable_name) AS name, quote_ident(h.owner) AS owner
        FROM timescaledb_information.hypertables h
        WHERE h.hypertable_schema = current_schema() AND h.hypertable_name IN ('audit_events', 'cost_tracking')
    LOOP
        EXECUTE format('GRANT TRUNCATE ON %s TO %s', rel.name, rel.owner);
    END LOOP;
END
$$;
"#;

/// Whether the `citus` extension is installed (this migration's own copy of the question).
const CITUS_INSTALLED: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS installed";

/// Whether `audit_seal_removals` is a Citus table already.
const REMOVALS_DISTRIBUTED: &str = "SELECT EXISTS (SELECT 1 FROM pg_dist_partition \
    WHERE logicalrelid = 'audit_seal_removals'::regclass) AS installed";

const CITUS_REFERENCE: &str = "SET LOCAL citus.enable_unsafe_triggers TO on; \
    SELECT create_reference_table('audit_seal_removals')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        if !manager.has_table("audit_seal_removals").await? {
            create_table(manager).await?;
            let rule = if backend == DbBackend::Postgres { PG_APPEND_ONLY } else { SQLITE_APPEND_ONLY };
            db.execute_unprepared(rule).await?;
        }
        if backend != DbBackend::Postgres {
            return Ok(());
        }
        if query_bool(manager, CITUS_INSTALLED).await? && !query_bool(manager, REMOVALS_DISTRIBUTED).await? {
            db.execute_unprepared(CITUS_REFERENCE).await?;
        }
        db.execute_unprepared(PG_REVOKE_TRUNCATE).await.map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(PG_GRANT_TRUNCATE).await?;
        }
        let chained = db
            .query_one_raw(Statement::from_string(
                manager.get_database_backend(),
                "SELECT EXISTS (SELECT 1 FROM audit_seal_removals) AS chained",
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "chained"))
            .transpose()?
            .unwrap_or(false);
        if chained {
            tracing::warn!("audit_seal_removals stays: seals chain the removals it lists");
            return Ok(());
        }
        manager.drop_table(Table::drop().table(AuditSealRemovals::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// `audit_seal_removals`: which seal chains which removal, and the removal's hash then. A
/// removal is chained once.
async fn create_table(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use AuditSealRemovals as R;
    manager
        .create_table(
            Table::create()
                .table(R::Table)
                .col(ColumnDef::new(R::SealSeq).big_integer().not_null())
                .col(ColumnDef::new(R::RemovalId).string().not_null().unique_key())
                .col(ColumnDef::new(R::Hash).string().not_null())
                .primary_key(Index::create().col(R::SealSeq).col(R::RemovalId))
                .to_owned(),
        )
        .await
}

/// The one boolean of `sql`'s one row.
async fn query_bool(manager: &SchemaManager<'_>, sql: &str) -> Result<bool, DbErr> {
    let row = manager
        .get_connection()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("no row from: {sql}")))?;
    row.try_get_by_index(0)
}
