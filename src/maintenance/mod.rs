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

mod native;
mod sqlite;
mod timescale;

use crate::Conn;
use crate::db::is_postgres;
use crate::ledger::window::Window;
use crate::trace::{self, operation, traced};
use crate::{Error, Result, id};
use entity::retention_entry;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, Statement};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// The time-series tables maintenance keeps in shape.
const TABLES: [&str; 2] = ["audit_events", "cost_tracking"];

/// The functions a PostgreSQL run calls to name tables (see the file); created for the run's
/// transaction only.
const FUNCTIONS: &str = include_str!("functions.pg.sql");

/// How a PostgreSQL table is stored: `hypertable`, `partitioned` or `plain`.
const TABLE_KIND: &str = "SELECT pg_temp.sark_table_kind($1::regclass) AS kind";

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
        let now = clock.now();
        // A period reaching past the calendar's start keeps everything.
        let cutoff = |table| policy.keep(table).and_then(|keep| now.checked_sub(keep));
        if !is_postgres(tx) {
            report.removed =
                sqlite::remove_months_before(tx, cutoff("audit_events"), cutoff("cost_tracking")).await?;
            txn.commit().await?;
            return Ok(report);
        }
        tx.execute_raw(Statement::from_sql_and_values(
            tx.get_database_backend(),
            "SELECT pg_advisory_xact_lock($1)",
            [LOCK_KEY.into()],
        ))
        .await?;
        tx.execute_unprepared(FUNCTIONS).await?;
        for table in TABLES {
            let kind = tx
                .query_one_raw(Statement::from_sql_and_values(
                    tx.get_database_backend(),
                    TABLE_KIND,
                    [table.into()],
                ))
                .await?
                .map(|row| row.try_get::<String>("", "kind"))
                .transpose()?;
            match kind.as_deref() {
                Some("hypertable") => {
                    if let Some(cutoff) = cutoff(table) {
                        report.removed.extend(timescale::drop_chunks(tx, table, cutoff).await?);
                    }
                    if let Some(after) = policy.compress_after
                        && timescale::compress(tx, table, after).await?
                    {
                        report.compressing.push(table.to_owned());
                    }
                }
                Some("partitioned") => {
                    report.moved += native::move_default_rows(tx, table).await?;
                    report.created.extend(native::create_ahead(tx, table, now, policy.ahead_months).await?);
                    if let Some(cutoff) = cutoff(table) {
                        report.removed.extend(native::drop_months_before(tx, table, cutoff).await?);
                    }
                }
                _ => {}
            }
        }
        txn.commit().await?;
        trace::rows(report.removed.iter().map(|r| r.row_count).sum::<i64>());
        Ok(report)
    })
    .await
}

/// Writes one removal to `retention_log` and returns it as stored.
async fn log_removal<C: ConnectionTrait>(
    db: &C,
    table: &str,
    removed: &str,
    range: (OffsetDateTime, OffsetDateTime),
    row_count: i64,
) -> Result<retention_entry::Model> {
    Ok(retention_entry::ActiveModel {
        id: Set(id::or_new(None)),
        table_name: Set(table.to_owned()),
        removed: Set(removed.to_owned()),
        range_start: Set(range.0),
        range_end: Set(range.1),
        row_count: Set(row_count),
        removed_at: Set(crate::timestamp::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// The UTC month that holds `at`, as `[start, end)`; a month without an end (December 9999)
/// is refused.
fn month_around(at: OffsetDateTime) -> Result<(OffsetDateTime, OffsetDateTime)> {
    let end = Window::Monthly
        .end(at)
        .ok_or_else(|| Error::validation("month", "the calendar's last month has no end"))?;
    Ok((Window::Monthly.start(at), end))
}
