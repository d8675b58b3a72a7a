//! Keeping the time-series tables (`audit_events`, `cost_tracking`) in shape, in one call that
//! every service instance may make at start and periodically.
//!
//! On PostgreSQL with month partitions (migration 16), [`run`] makes partitions ahead, moves
//! rows that landed in a default partition into partitions of their own months, and applies
//! retention by dropping whole partitions that lie entirely before the cut-off. With TimescaleDB
//! it applies retention with `drop_chunks`. On SQLite it deletes whole months of rows before the
//! cut-off, lifting the append-only trigger inside the same transaction. Every removal is written
//! to the append-only `retention_log`. Concurrent runs take turns on an advisory lock (SQLite's
//! write lock), so none fails and no work is done twice.

use crate::db::is_postgres;
use crate::trace::{self, operation, traced};
use crate::{Conn, Server};
use crate::{Error, Result, id};
use entity::retention_entry;
use migration::partitions::{self, Month, TABLES};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, Statement};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};

/// What [`run`] does. `Policy::default()` makes partitions 3 months ahead and keeps everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Months of partitions kept ready after the current one (PostgreSQL; at most
    /// [`MAX_AHEAD_MONTHS`]).
    pub ahead_months: u32,
    /// How long audit events are kept; `None`: forever.
    pub keep_audit_events: Option<Duration>,
    /// How long costs are kept; `None`: forever. A cost removed no longer counts towards its
    /// window's ledger sum.
    pub keep_costs: Option<Duration>,
    /// TimescaleDB only, and only where its community license offers compression: compress
    /// chunks older than this (a compression policy). Ignored elsewhere; `None`: no compression.
    pub compress_after: Option<Duration>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { ahead_months: 3, keep_audit_events: None, keep_costs: None, compress_after: None }
    }
}

impl Policy {
    /// How long `table` keeps its rows.
    fn keep(&self, table: &str) -> Option<Duration> {
        match table {
            "audit_events" => self.keep_audit_events,
            _ => self.keep_costs,
        }
    }
}

/// What one [`run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Partitions it created, by name.
    pub created: Vec<String>,
    /// Rows it moved out of default partitions into their months' partitions.
    pub moved: u64,
    /// What retention removed, as written to `retention_log`.
    pub removed: Vec<retention_entry::Model>,
    /// Hypertables that have a compression policy now (TimescaleDB's community license only).
    pub compressing: Vec<String>,
}

/// Most months of partitions [`Policy::ahead_months`] may ask for (ten years).
pub const MAX_AHEAD_MONTHS: u32 = 120;

/// The advisory lock maintenance runs under ("SARK" in ASCII); sealing takes it too.
pub(crate) const LOCK_KEY: i64 = 0x5341_524B;

/// Makes partitions ahead, moves rows out of default partitions and applies retention, as
/// `policy` says, in one transaction.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// # let db = sark_db::connect("sqlite::memory:").await?;
/// # sark_db::migrate(&db).await?;
/// use sark_db::maintenance::{self, Policy};
///
/// let policy = Policy { keep_audit_events: Some(time::Duration::days(400)), ..Policy::default() };
/// let report = maintenance::run(&db, &policy).await?;
/// assert!(report.removed.is_empty()); // nothing that old yet
/// # Ok(())
/// # }
/// ```
pub async fn run<C: Conn>(db: &C, policy: &Policy) -> Result<Report> {
    let clock = db.clock();
    traced(operation!(INFO, "maintenance::run"), async {
        if [policy.keep_audit_events, policy.keep_costs, policy.compress_after]
            .iter()
            .any(|d| d.is_some_and(|d| d.is_negative()))
        {
            return Err(Error::validation("policy", "a period (retention or compression) is negative"));
        }
        if policy.ahead_months > MAX_AHEAD_MONTHS {
            return Err(Error::validation("ahead_months", format!("is more than {MAX_AHEAD_MONTHS}")));
        }
        let txn = db.begin_write().await?;
        let tx = &txn;
        let mut report = Report::default();
        let postgres = is_postgres(tx);
        if postgres {
            tx.execute_raw(Statement::from_sql_and_values(
                tx.get_database_backend(),
                "SELECT pg_advisory_xact_lock($1)",
                [LOCK_KEY.into()],
            ))
            .await?;
        }
        let now = clock.now();
        for table in TABLES {
            // A period reaching past the calendar's start keeps everything.
            let cutoff = policy.keep(table).and_then(|keep| now.checked_sub(keep));
            if !postgres {
                if let Some(cutoff) = cutoff {
                    report.removed.extend(sqlite::remove_months_before(tx, table, cutoff).await?);
                }
            } else if partitions::is_hypertable(tx, table).await? {
                if let Some(cutoff) = cutoff {
                    report.removed.extend(timescale::drop_chunks(tx, table, cutoff).await?);
                }
                if let Some(after) = policy.compress_after
                    && timescale::compress(tx, table, after).await?
                {
                    report.compressing.push(table.to_owned());
                }
            } else if partitions::is_partitioned(tx, table).await? {
                report.moved += native::move_default_rows(tx, table).await?;
                report.created.extend(native::create_ahead(tx, table, now, policy.ahead_months).await?);
                if let Some(cutoff) = cutoff {
                    report.removed.extend(native::drop_partitions_before(tx, table, cutoff).await?);
                }
            }
        }
        txn.commit().await?;
        trace::rows(report.removed.iter().map(|r| r.row_count).sum::<i64>());
        Ok(report)
    })
    .await
}

/// The month `t` falls in.
fn month_of(t: OffsetDateTime) -> Month {
    let t = t.to_offset(time::UtcOffset::UTC);
    Month { year: t.year(), month: u8::from(t.month()).into() }
}

/// The first instant of `month`.
fn start_of(month: Month) -> Result<OffsetDateTime> {
    let m =
        time::Month::try_from(month.month as u8).map_err(|e| Error::validation("month", e.to_string()))?;
    let day =
        Date::from_calendar_date(month.year, m, 1).map_err(|e| Error::validation("month", e.to_string()))?;
    Ok(day.midnight().assume_utc())
}

/// Writes one removal to `retention_log` and returns it as stored.
async fn log_removal<C: ConnectionTrait>(
    db: &C,
    table: &str,
    removed: &str,
    month: Month,
    row_count: i64,
) -> Result<retention_entry::Model> {
    Ok(retention_entry::ActiveModel {
        id: Set(id::or_new(None)),
        table_name: Set(table.to_owned()),
        removed: Set(removed.to_owned()),
        range_start: Set(start_of(month)?),
        range_end: Set(start_of(month.next())?),
        row_count: Set(row_count),
        removed_at: Set(crate::timestamp::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Runs `sql` and returns the `i64` column `column` of its one row.
async fn count<C: ConnectionTrait>(db: &C, sql: String) -> Result<i64> {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}

/// Native PostgreSQL partitions (migration 16).
mod native {
    use super::*;

    /// Moves the rows of `table`'s default partition into partitions of their months: the
    /// default is detached, the months it held get partitions, its rows are inserted through
    /// the parent, and an empty default takes its place. Returns how many rows moved.
    pub(super) async fn move_default_rows<C: Conn>(db: &C, table: &str) -> Result<u64> {
        let default = partitions::default_partition(table);
        let moved = count(db, format!("SELECT count(*) AS n FROM {default}")).await?;
        if moved == 0 {
            return Ok(0);
        }
        if db.server() == Server::Citus {
            // Lets this transaction disable and enable triggers on a distributed table: sark-db's
            // triggers read only their own row and reference tables, which every node holds.
            db.execute_unprepared("SET LOCAL citus.enable_unsafe_triggers TO on").await?;
        }
        let moving = format!("{default}_moving");
        // One statement per call: Citus sends a distributed table's DDL to the workers as its text.
        db.execute_unprepared(&format!("ALTER TABLE {table} DETACH PARTITION {default}")).await?;
        db.execute_unprepared(&format!("ALTER TABLE {default} RENAME TO {moving}")).await?;
        let months = format!(
            "SELECT DISTINCT EXTRACT(YEAR FROM \"timestamp\" AT TIME ZONE 'UTC')::int AS y, \
                    EXTRACT(MONTH FROM \"timestamp\" AT TIME ZONE 'UTC')::int AS m FROM {moving}"
        );
        for row in db.query_all_raw(Statement::from_string(db.get_database_backend(), months)).await? {
            let month = Month { year: row.try_get("", "y")?, month: row.try_get::<i32>("", "m")? as u32 };
            partitions::create_month(db, table, month).await?;
        }
        // The rows are not new: a seal over their range (which refuses new events) must let them
        // back in. The detach above holds the parent's lock until commit.
        for sql in [
            format!("ALTER TABLE {table} DISABLE TRIGGER USER"),
            format!("INSERT INTO {table} SELECT * FROM {moving}"),
            format!("ALTER TABLE {table} ENABLE TRIGGER USER"),
            format!("DROP TABLE {moving}"),
        ] {
            db.execute_unprepared(&sql).await?;
        }
        // Only now: the new default's indexes take the names the old one's had. Writers wait
        // meanwhile, as the detach locked the parent until commit.
        partitions::create_default(db, table).await?;
        Ok(moved as u64)
    }

    /// Creates the partitions of `table` from the month of `now` to `ahead` months after it;
    /// returns the names of those it created.
    pub(super) async fn create_ahead<C: ConnectionTrait>(
        db: &C,
        table: &str,
        now: OffsetDateTime,
        ahead: u32,
    ) -> Result<Vec<String>> {
        let mut created = Vec::new();
        let mut month = month_of(now);
        for _ in 0..=ahead {
            if partitions::create_month(db, table, month).await? {
                created.push(month.partition_of(table));
            }
            month = month.next();
        }
        Ok(created)
    }

    /// Drops the month partitions of `table` that end at or before `cutoff`, logging each.
    pub(super) async fn drop_partitions_before<C: ConnectionTrait>(
        db: &C,
        table: &str,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<retention_entry::Model>> {
        let sql = "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                   WHERE i.inhparent = $1::regclass ORDER BY c.relname";
        let partitions = Statement::from_sql_and_values(db.get_database_backend(), sql, [table.into()]);
        let mut removed = Vec::new();
        for row in db.query_all_raw(partitions).await? {
            let name: String = row.try_get("", "name")?;
            let Some(month) = month_in_name(table, &name) else { continue };
            if start_of(month.next())? > cutoff {
                continue;
            }
            let rows = count(db, format!("SELECT count(*) AS n FROM {name}")).await?;
            db.execute_unprepared(&format!("DROP TABLE {name}")).await?;
            removed.push(log_removal(db, table, &name, month, rows).await?);
        }
        Ok(removed)
    }

    /// The month of a partition named `<table>_pYYYY_MM`.
    fn month_in_name(table: &str, name: &str) -> Option<Month> {
        let (year, month) = name.strip_prefix(table)?.strip_prefix("_p")?.split_once('_')?;
        let month = Month { year: year.parse().ok()?, month: month.parse().ok()? };
        (month.partition_of(table) == name).then_some(month)
    }
}

/// TimescaleDB hypertables (migration 7).
mod timescale {
    use super::*;

    /// Drops the chunks of `table` that end at or before `cutoff` (`drop_chunks`), logging each
    /// with its row count.
    pub(super) async fn drop_chunks<C: ConnectionTrait>(
        db: &C,
        table: &str,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<retention_entry::Model>> {
        let backend = db.get_database_backend();
        let chunks = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT chunk_schema || '.' || chunk_name AS name, range_start, range_end \
                 FROM timescaledb_information.chunks \
                 WHERE hypertable_name = $1 AND range_end <= $2 ORDER BY range_start",
                [table.into(), cutoff.into()],
            ))
            .await?;
        let mut removed = Vec::new();
        for chunk in chunks {
            let name: String = chunk.try_get("", "name")?;
            let rows = count(db, format!("SELECT count(*) AS n FROM {name}")).await?;
            let entry = retention_entry::ActiveModel {
                id: Set(id::or_new(None)),
                table_name: Set(table.to_owned()),
                removed: Set(name),
                range_start: Set(chunk.try_get("", "range_start")?),
                range_end: Set(chunk.try_get("", "range_end")?),
                row_count: Set(rows),
                removed_at: Set(crate::timestamp::now()),
                ..Default::default()
            };
            removed.push(entry.insert(db).await?);
        }
        if !removed.is_empty() {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "SELECT drop_chunks($1::regclass, older_than => $2::timestamptz)",
                [table.into(), cutoff.into()],
            ))
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
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT COALESCE(current_setting('timescaledb.license', true), '') AS license",
            ))
            .await?
            .map(|r| r.try_get::<String>("", "license"))
            .transpose()?;
        if license.as_deref() != Some("timescale") {
            tracing::info!(table, "TimescaleDB here does not offer compression: chunks stay uncompressed");
            return Ok(false);
        }
        let enabled = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables \
                 WHERE hypertable_name = $1 AND compression_enabled) AS enabled",
                [table.into()],
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "enabled"))
            .transpose()?
            .unwrap_or(false);
        if !enabled {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} SET (timescaledb.compress, timescaledb.compress_orderby = '\"timestamp\" DESC')"
            ))
            .await?;
        }
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT add_compression_policy($1::regclass, compress_after => $2::bigint * interval '1 second', \
             if_not_exists => true)",
            [table.into(), after.whole_seconds().into()],
        ))
        .await?;
        Ok(true)
    }
}

/// SQLite: plain tables.
mod sqlite {
    use super::*;

    /// Deletes the rows of `table` in months that end at or before `cutoff`, one log entry per
    /// month, with the table's `BEFORE DELETE` triggers (the append-only rule) lifted and put
    /// back inside the caller's transaction.
    pub(super) async fn remove_months_before<C: ConnectionTrait>(
        db: &C,
        table: &str,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<retention_entry::Model>> {
        let backend = db.get_database_backend();
        let before = start_of(month_of(cutoff))?;
        let months = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT CAST(substr(\"timestamp\", 1, 4) AS INTEGER) AS y, \
                            CAST(substr(\"timestamp\", 6, 2) AS INTEGER) AS m, count(*) AS n \
                     FROM {table} WHERE \"timestamp\" < $1 GROUP BY y, m ORDER BY y, m"
                ),
                [before.into()],
            ))
            .await?;
        if months.is_empty() {
            return Ok(Vec::new());
        }
        let triggers = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1 \
                 AND upper(sql) LIKE '%BEFORE DELETE%'",
                [table.into()],
            ))
            .await?;
        for trigger in &triggers {
            db.execute_unprepared(&format!("DROP TRIGGER {}", trigger.try_get::<String>("", "name")?))
                .await?;
        }
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM {table} WHERE \"timestamp\" < $1"),
            [before.into()],
        ))
        .await?;
        for trigger in &triggers {
            db.execute_unprepared(&trigger.try_get::<String>("", "sql")?).await?;
        }
        let mut removed = Vec::new();
        for row in months {
            let month = Month { year: row.try_get("", "y")?, month: row.try_get::<i32>("", "m")? as u32 };
            removed.push(log_removal(db, table, "rows", month, row.try_get("", "n")?).await?);
        }
        Ok(removed)
    }
}
