//! TimescaleDB hypertables (migration 7).

use super::{Result, log_removal};
use entity::retention_entry;
use sea_orm::{ConnectionTrait, Statement};
use time::{Duration, OffsetDateTime};

/// The chunks of hypertable `$1` that end at or before `$2`, oldest first.
const CHUNKS_BEFORE: &str = "SELECT format('%I.%I', chunk_schema, chunk_name) AS name, range_start, range_end \
     FROM timescaledb_information.chunks WHERE hypertable_name = $1 AND range_end <= $2 ORDER BY range_start";

/// The number of rows of relation `$1`.
const ROW_COUNT: &str = "SELECT pg_temp.sark_row_count($1::regclass) AS n";

/// Drops the chunks of hypertable `$1` that end at or before `$2`.
const DROP_CHUNKS: &str = "SELECT drop_chunks($1::regclass, older_than => $2::timestamptz)";

/// The license of the TimescaleDB build (`timescale` offers compression, `apache` does not).
const LICENSE: &str = "SELECT COALESCE(current_setting('timescaledb.license', true), '') AS license";

/// Whether hypertable `$1` has compression on.
const COMPRESSION_ENABLED: &str = "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables \
     WHERE hypertable_name = $1 AND compression_enabled) AS enabled";

/// Turns compression on for hypertable `$1`.
const ENABLE_COMPRESSION: &str = "SELECT pg_temp.sark_enable_compression($1::regclass)";

/// Compresses the chunks of hypertable `$1` older than `$2` seconds, from now on.
const ADD_COMPRESSION_POLICY: &str = "SELECT add_compression_policy($1::regclass, \
     compress_after => $2::bigint * interval '1 second', if_not_exists => true)";

/// Drops the chunks of `table` that end at or before `cutoff` (`drop_chunks`), logging each
/// with its row count.
pub(super) async fn drop_chunks<C: ConnectionTrait>(
    db: &C,
    table: &str,
    cutoff: OffsetDateTime,
) -> Result<Vec<retention_entry::Model>> {
    let backend = db.get_database_backend();
    let chunks = db
        .query_all_raw(Statement::from_sql_and_values(backend, CHUNKS_BEFORE, [table.into(), cutoff.into()]))
        .await?;
    let mut removed = Vec::new();
    for chunk in chunks {
        let name: String = chunk.try_get("", "name")?;
        let rows = db
            .query_one_raw(Statement::from_sql_and_values(backend, ROW_COUNT, [name.clone().into()]))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        let range = (chunk.try_get("", "range_start")?, chunk.try_get("", "range_end")?);
        removed.push(log_removal(db, table, &name, range, rows).await?);
    }
    if !removed.is_empty() {
        db.execute_raw(Statement::from_sql_and_values(backend, DROP_CHUNKS, [table.into(), cutoff.into()]))
            .await?;
    }
    Ok(removed)
}

/// Gives `table` a compression policy for chunks older than `after`, when the extension's
/// license offers compression (the community license; the Apache build does not): returns
/// whether it has one now. Compression is never required: without it, nothing happens.
pub(super) async fn compress<C: ConnectionTrait>(db: &C, table: &str, after: Duration) -> Result<bool> {
    let backend = db.get_database_backend();
    let license = db
        .query_one_raw(Statement::from_string(backend, LICENSE))
        .await?
        .map(|r| r.try_get::<String>("", "license"))
        .transpose()?;
    if license.as_deref() != Some("timescale") {
        tracing::info!(table, "TimescaleDB here does not offer compression: chunks stay uncompressed");
        return Ok(false);
    }
    let enabled = db
        .query_one_raw(Statement::from_sql_and_values(backend, COMPRESSION_ENABLED, [table.into()]))
        .await?
        .map(|row| row.try_get::<bool>("", "enabled"))
        .transpose()?
        .unwrap_or(false);
    if !enabled {
        db.execute_raw(Statement::from_sql_and_values(backend, ENABLE_COMPRESSION, [table.into()])).await?;
    }
    let values = [table.into(), after.whole_seconds().into()];
    db.execute_raw(Statement::from_sql_and_values(backend, ADD_COMPRESSION_POLICY, values)).await?;
    Ok(true)
}
