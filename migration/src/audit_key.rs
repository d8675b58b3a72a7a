//! The primary key of `audit_events` on PostgreSQL: whether an adopted v1 table still lacks
//! `timestamp` in it, and the statement that widens it. Migrations 7 and 12 run them; frozen
//! with them (see the crate's README).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

/// Whether the primary key of `audit_events` lacks `timestamp` (an adopted v1 table).
pub(crate) const AUDIT_KEY_LACKS_TIMESTAMP: &str = "SELECT NOT EXISTS ( \
    SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
    WHERE i.indrelid = 'audit_events'::regclass AND i.indisprimary AND a.attname = 'timestamp') AS lacks";

/// Widens the key of an adopted v1 `audit_events` to `(id, timestamp)`.
pub(crate) const WIDEN_AUDIT_KEY: &str = r#"
DO $$
DECLARE pk text;
BEGIN
    SELECT conname INTO pk FROM pg_constraint WHERE conrelid = 'audit_events'::regclass AND contype = 'p';
    IF pk IS NOT NULL THEN
        EXECUTE format('ALTER TABLE audit_events DROP CONSTRAINT %I', pk);
    END IF;
    ALTER TABLE audit_events ADD PRIMARY KEY (id, "timestamp");
END
$$;
"#;

/// The one boolean of `sql`'s one row.
pub(crate) async fn query_bool(manager: &SchemaManager<'_>, sql: &str) -> Result<bool, DbErr> {
    let db = manager.get_connection();
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("no row from: {sql}")))?;
    row.try_get_by_index(0)
}
