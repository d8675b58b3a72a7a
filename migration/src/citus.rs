//! Citus: whether a database is a coordinator, and what sark-db's own DDL needs there.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// Whether `db` is PostgreSQL with the `citus` extension installed (a Citus coordinator).
pub async fn installed<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    let sql = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus";
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("no row from: {sql}")))?;
    row.try_get("", "citus")
}

/// On a Citus coordinator, lets the rest of the caller's transaction create, enable and disable
/// triggers on distributed tables (`citus.enable_unsafe_triggers`): sark-db's triggers read
/// only their own row and reference tables, which every node holds. Elsewhere it does nothing.
pub async fn allow_triggers<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if installed(db).await? {
        db.execute_unprepared("SET LOCAL citus.enable_unsafe_triggers TO on").await?;
    }
    Ok(())
}

/// Drops every table of the current schema that no extension owns (distributed ones with their
/// shards): what `fresh` clears on a coordinator, where sea-orm's own would also try to drop the
/// row types of Citus's views.
pub(crate) async fn drop_tables<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let sql = "SELECT quote_ident(c.relname) AS name FROM pg_class c \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')";
    for row in db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql)).await? {
        let name: String = row.try_get("", "name")?;
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {name} CASCADE")).await?;
    }
    Ok(())
}
