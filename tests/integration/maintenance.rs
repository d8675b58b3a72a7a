//! Time partitions (migration 16), `maintenance::run` and governed retention.
//!
//! The oracles: a conversion changes no row and no answer; a row stamped in a month that ends
//! at or before the cut-off is gone after retention and every other row stays; each removal is
//! in `retention_log` with its count; `retention_log` refuses change like the audit log.

use crate::common;

use common::{CLOCK, is_pg, scalar, strings};
use rust_decimal::dec;
use sark_db::Db;
use sark_db::audit::{self, AuditFilter, NewAuditEvent};
use sark_db::entity::{audit_event, cost_record, retention_entry};
use sark_db::ledger::budgets;
use sark_db::ledger::costs::{self, NewCost};
use sark_db::ledger::summaries::{self, CostFilter, GroupBy};
use sark_db::maintenance::{self, Policy};
use sark_db::{Clock, Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use std::collections::{BTreeMap, BTreeSet};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// Migrations before the partitioning one (0 to 15).
const BEFORE_PARTITIONS: u32 = 16;

/// Instants spread over months, including the first and last microsecond of one.
const STAMPS: [OffsetDateTime; 6] = [
    datetime!(2024-02-29 12:00 UTC),
    datetime!(2025-12-31 23:59:59.999999 UTC),
    datetime!(2026-01-01 00:00 UTC),
    datetime!(2026-06-15 08:30 UTC),
    datetime!(2026-10-31 23:59:59.999999 UTC),
    datetime!(2026-11-01 00:00 UTC),
];

/// Costs and audit events at every stamp, for three principals and two requests.
async fn fill(db: &Db) {
    let mut costs_ = Vec::new();
    let mut events = Vec::new();
    for (i, at) in STAMPS.iter().enumerate() {
        for p in ["ann", "bob", "cy"] {
            costs_.push(
                NewCost::new(p, "search-api", "query")
                    .actual(dec!(0.25) * rust_decimal::Decimal::from(i as i64 + 1))
                    .at(*at),
            );
        }
        events.push(NewAuditEvent {
            timestamp: *at,
            correlation_id: Some(format!("req-{}", i % 2)),
            ..NewAuditEvent::new(if i % 3 == 0 { "policy_denied" } else { "tool_invoked" })
        });
    }
    costs::record_many(&db.with_clock(CLOCK), &costs_).await.unwrap();
    audit::append_many(&db.with_clock(CLOCK), &events).await.unwrap();
}

/// Every row and every answer a service reads from the two tables.
#[derive(Debug, PartialEq)]
struct Snapshot {
    costs: Vec<cost_record::Model>,
    events: Vec<audit_event::Model>,
    per_day: Vec<summaries::Total>,
    per_principal: Vec<summaries::Total>,
    drift: Vec<budgets::Discrepancy>,
    denied: Vec<audit_event::Model>,
    trace: Vec<audit_event::Model>,
}

async fn snapshot(db: &Db) -> Snapshot {
    let range = CostFilter { from: Some(STAMPS[1]), to: Some(STAMPS[4]), ..Default::default() };
    let denied = AuditFilter {
        event_type: Some("policy_denied".into()),
        ..AuditFilter::between(STAMPS[0], STAMPS[5])
    };
    Snapshot {
        costs: cost_record::Entity::find().order_by_asc(cost_record::Column::Id).all(db).await.unwrap(),
        events: audit_event::Entity::find().order_by_asc(audit_event::Column::Id).all(db).await.unwrap(),
        per_day: summaries::grouped(db, &CostFilter::default(), GroupBy::Day).await.unwrap(),
        per_principal: summaries::grouped(db, &range, GroupBy::Principal).await.unwrap(),
        drift: budgets::reconcile(db, STAMPS[0], STAMPS[5] + Duration::days(31)).await.unwrap(),
        denied: audit::query(db, &denied).await.unwrap().items,
        trace: audit::trace(db, "req-1").await.unwrap(),
    }
}

/// The names of `table`'s indexes, constraints and triggers (its own, not its partitions').
async fn structure(db: &Db, table: &str) -> Vec<String> {
    let sql = if is_pg(db) {
        format!(
            "SELECT indexname FROM pg_indexes WHERE tablename = '{table}' \
             UNION SELECT conname FROM pg_constraint WHERE conrelid = '{table}'::regclass \
             UNION SELECT tgname FROM pg_trigger WHERE tgrelid = '{table}'::regclass AND NOT tgisinternal ORDER BY 1"
        )
    } else {
        format!("SELECT name FROM sqlite_master WHERE tbl_name = '{table}' AND name <> '{table}' ORDER BY 1")
    };
    strings(db, &sql).await
}

/// Whether `db` partitions by month natively (PostgreSQL without TimescaleDB, migration 16).
async fn native(db: &Db) -> bool {
    is_pg(db) && !common::is_timescale(db).await
}

/// Runs `sql` and says whether the database refused it.
async fn refused(db: &Db, sql: &str) -> bool {
    db.execute_unprepared(sql).await.is_err()
}

/// The partitions of `table` (PostgreSQL), by name.
async fn partitions_of(db: &Db, table: &str) -> BTreeSet<String> {
    let sql = format!(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = '{table}'::regclass"
    );
    strings(db, &sql).await.into_iter().collect()
}

on_all! {
    empty: async fn converting_tables_with_rows_keeps_every_row_answer_key_and_rule(db: &Db) {
        Migrator::up(db.pool(), Some(BEFORE_PARTITIONS)).await.unwrap();
        fill(db).await;
        let before = snapshot(db).await;
        let shapes = [structure(db, "audit_events").await, structure(db, "cost_tracking").await];
        Migrator::up(db.pool(), Some(1)).await.unwrap(); // migration 16 alone

        assert_eq!(snapshot(db).await, before);
        assert_eq!([structure(db, "audit_events").await, structure(db, "cost_tracking").await], shapes);
        if native(db).await {
            for table in ["audit_events", "cost_tracking"] {
                let kind = scalar(db, &format!("SELECT count(*) FROM pg_class WHERE relname = '{table}' AND relkind = 'p'")).await;
                assert_eq!(kind, 1, "{table} is partitioned");
                let parts = partitions_of(db, table).await;
                for month in ["2024_02", "2025_12", "2026_01", "2026_06", "2026_10", "2026_11"] {
                    assert!(parts.contains(&format!("{table}_p{month}")), "{table}: {parts:?}");
                }
                assert!(parts.contains(&format!("{table}_default")));
                assert_eq!(scalar(db, &format!("SELECT count(*) FROM {table}_default")).await, 0);
            }
            // The append-only rule holds on a partition too.
            assert!(refused(db, "DELETE FROM audit_events_p2026_06").await);
            assert!(refused(db, "UPDATE audit_events_p2026_06 SET severity = 'x'").await);
            assert!(refused(db, "TRUNCATE audit_events_p2026_06").await);
            assert!(refused(db, "TRUNCATE audit_events").await);
        }
        assert!(refused(db, "DELETE FROM audit_events").await);
        assert!(refused(db, "UPDATE audit_events SET severity = 'x'").await);
        assert_eq!(scalar(db, "SELECT count(*) FROM audit_events").await, STAMPS.len() as i64);

        // Numbering goes on after the conversion.
        let last = before.costs.iter().map(|c| c.id).max().unwrap();
        costs::record(db, &NewCost::new("ann", "search-api", "query").actual(dec!(1))).await.unwrap();
        assert!(scalar(db, "SELECT max(id) FROM cost_tracking").await > last);

        // And back: migration 16's down restores plain tables with every row.
        Migrator::down(db.pool(), Some(1)).await.unwrap();
        if native(db).await {
            let plain = "SELECT count(*) FROM pg_class WHERE relname IN ('audit_events', 'cost_tracking') AND relkind = 'r'";
            assert_eq!(scalar(db, plain).await, 2);
        }
        let after_down = snapshot(db).await;
        assert_eq!(after_down.events, before.events);
        assert_eq!(after_down.costs.len(), before.costs.len() + 1);
        assert_eq!([structure(db, "audit_events").await, structure(db, "cost_tracking").await], shapes);
    }

    async fn rows_outside_the_premade_partitions_land_and_maintenance_moves_them(db: &Db) {
        let far_past = datetime!(2019-03-10 10:00 UTC);
        let now = OffsetDateTime::now_utc();
        // The premade partitions end where the fourth month after the current one starts.
        let mut edge = now.replace_day(1).unwrap().replace_time(time::Time::MIDNIGHT);
        for _ in 0..4 {
            edge = if edge.month() == time::Month::December {
                edge.replace_year(edge.year() + 1).unwrap().replace_month(time::Month::January).unwrap()
            } else {
                edge.replace_month(edge.month().next()).unwrap()
            };
        }
        let last_premade = edge - Duration::microseconds(1);
        // Five months ahead: well past the premade months (a clock that far ahead lets it in).
        let ahead = now + Duration::days(155);
        let future = Clock::fixed(ahead);
        for at in [far_past, last_premade, edge, ahead] {
            audit::append(&db.with_clock(future), &NewAuditEvent { timestamp: at, ..NewAuditEvent::new("late") }).await.unwrap();
            costs::record(&db.with_clock(future), &NewCost::new("ann", "r", "c").actual(dec!(1)).at(at)).await.unwrap();
        }
        let partition = |table: &str, t: OffsetDateTime| format!("{table}_p{:04}_{:02}", t.year(), u8::from(t.month()));
        let native = native(db).await;
        if native {
            for table in ["audit_events", "cost_tracking"] {
                // All but the last microsecond of the premade months land in the default partition.
                assert_eq!(scalar(db, &format!("SELECT count(*) FROM {table}_default")).await, 3, "{table}");
                assert_eq!(scalar(db, &format!("SELECT count(*) FROM {}", partition(table, last_premade))).await, 1);
            }
        }
        let report = maintenance::run(db, &Policy::default()).await.unwrap();
        assert_eq!(report.moved, if native { 6 } else { 0 });
        assert!(report.removed.is_empty());
        for table in ["audit_events", "cost_tracking"] {
            assert_eq!(scalar(db, &format!("SELECT count(*) FROM {table}")).await, 4, "{table}: no row lost");
            if native {
                assert_eq!(scalar(db, &format!("SELECT count(*) FROM {table}_default")).await, 0);
                // Four different months: the edge is at most about 123 days ahead, `ahead` 155.
                for at in [far_past, last_premade, edge, ahead] {
                    let month = partition(table, at);
                    assert_eq!(scalar(db, &format!("SELECT count(*) FROM {month}")).await, 1, "{month}");
                }
            }
        }
        // Moved rows are found as before.
        assert_eq!(audit::query(db, &AuditFilter::between(far_past, far_past + Duration::days(1))).await.unwrap().items.len(), 1);
        let again = maintenance::run(db, &Policy::default()).await.unwrap();
        assert_eq!((again.moved, again.created.len()), (0, 0), "a second run has nothing to do");
    }

    async fn retention_removes_exactly_the_months_entirely_before_the_cutoff_and_logs_them(db: &Db) {
        let now = OffsetDateTime::now_utc();
        let keep = Duration::days(365);
        let cutoff = now - keep;
        let stamps = [now - Duration::days(700), now - Duration::days(500), cutoff - Duration::days(1), cutoff + Duration::days(1), now - Duration::days(3)];
        for (i, at) in stamps.iter().enumerate() {
            audit::append(db, &NewAuditEvent { timestamp: *at, ..NewAuditEvent::new(format!("e{i}")) }).await.unwrap();
            costs::record(db, &NewCost::new("ann", "r", "c").actual(dec!(1)).at(*at)).await.unwrap();
        }
        maintenance::run(db, &Policy::default()).await.unwrap(); // partitions for every month
        let policy = Policy { keep_audit_events: Some(keep), keep_costs: Some(keep), ..Policy::default() };
        let report = maintenance::run(db, &policy).await.unwrap();

        // The oracle: a month goes when it ends at or before the cut-off.
        let month_start = |t: OffsetDateTime| t.replace_day(1).unwrap().replace_time(time::Time::MIDNIGHT);
        let month_end = |t: OffsetDateTime| {
            let start = month_start(t);
            if start.month() == time::Month::December {
                start.replace_year(start.year() + 1).unwrap().replace_month(time::Month::January).unwrap()
            } else {
                start.replace_month(start.month().next()).unwrap()
            }
        };
        let gone: BTreeMap<OffsetDateTime, i64> = stamps.iter().filter(|t| month_end(**t) <= cutoff).fold(BTreeMap::new(), |mut m, t| {
            *m.entry(month_start(*t)).or_default() += 1;
            m
        });
        assert!(!gone.is_empty() && gone.len() < stamps.len());
        let timescale = common::is_timescale(db).await;
        for table in ["audit_events", "cost_tracking"] {
            let logged: BTreeMap<OffsetDateTime, i64> =
                report.removed.iter().filter(|r| r.table_name == table).map(|r| (r.range_start, r.row_count)).collect();
            let left = scalar(db, &format!("SELECT count(*) FROM {table}")).await;
            if timescale {
                // TimescaleDB removes whole chunks (7 days each) that end at or before the
                // cut-off: every row a week older than it goes, every row after it stays.
                let surely_gone = stamps.iter().filter(|t| **t < cutoff - Duration::days(7)).count() as i64;
                let kept = stamps.iter().filter(|t| **t >= cutoff).count() as i64;
                let removed: i64 = logged.values().sum();
                assert!(removed >= surely_gone && removed <= stamps.len() as i64 - kept, "{table}: {logged:?}");
                assert_eq!(left, stamps.len() as i64 - removed, "{table}");
            } else {
                assert_eq!(logged, gone, "{table}");
                assert_eq!(left, stamps.len() as i64 - gone.values().sum::<i64>(), "{table}");
            }
            for r in report.removed.iter().filter(|r| r.table_name == table) {
                if timescale {
                    assert!(r.range_end <= cutoff, "{r:?}");
                } else {
                    assert_eq!(r.range_end, month_end(r.range_start));
                }
                assert_eq!(r.removed_by, if is_pg(db) { "postgres" } else { "sqlite" });
            }
        }
        let stored = retention_entry::Entity::find().all(db).await.unwrap();
        assert_eq!(stored.len(), report.removed.len());
        // The log refuses change like the audit log.
        assert!(refused(db, "DELETE FROM retention_log").await);
        assert!(refused(db, "UPDATE retention_log SET row_count = 0").await);
        if is_pg(db) {
            assert!(refused(db, "TRUNCATE retention_log").await);
        }
        let twice = maintenance::run(db, &policy).await.unwrap();
        assert!(twice.removed.is_empty(), "nothing left to remove: {twice:?}");
        assert_eq!(scalar(db, "SELECT count(*) FROM retention_log").await, stored.len() as i64);
    }

    async fn concurrent_maintenance_runs_neither_fail_nor_repeat_work(db: &Db) {
        let old = OffsetDateTime::now_utc() - Duration::days(800);
        for i in 0..20 {
            audit::append(db, &NewAuditEvent { timestamp: old + Duration::days(i * 3), ..NewAuditEvent::new("old") }).await.unwrap();
        }
        let native = native(db).await;
        let before = if native { partitions_of(db, "audit_events").await } else { BTreeSet::new() };
        let policy = Policy { ahead_months: 9, keep_audit_events: Some(Duration::days(365)), ..Policy::default() };
        let runs: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                let policy = policy.clone();
                tokio::spawn(async move { maintenance::run(&db, &policy).await })
            })
            .collect();
        let mut created = Vec::new();
        let mut removed = Vec::new();
        let mut moved = 0;
        for run in runs {
            let report = run.await.unwrap().unwrap();
            created.extend(report.created);
            removed.extend(report.removed.into_iter().map(|r| (r.table_name, r.range_start)));
            moved += report.moved;
        }
        let unique_created: BTreeSet<_> = created.iter().cloned().collect();
        assert_eq!(unique_created.len(), created.len(), "a partition created twice: {created:?}");
        let unique_removed: BTreeSet<_> = removed.iter().cloned().collect();
        assert_eq!(unique_removed.len(), removed.len(), "a month removed twice: {removed:?}");
        assert_eq!(scalar(db, "SELECT count(*) FROM audit_events").await, 0, "all 20 events were older than a year");
        assert_eq!(scalar(db, "SELECT CAST(COALESCE(sum(row_count), 0) AS BIGINT) FROM retention_log").await, 20);
        if native {
            assert_eq!(moved, 20, "the old events sat in the default partition");
            let after = partitions_of(db, "audit_events").await;
            let made: BTreeSet<_> = after.difference(&before).cloned().collect();
            assert!(unique_created.iter().all(|c| made.contains(c) || c.starts_with("cost_tracking")), "{unique_created:?} vs {made:?}");
            assert!(made.len() >= 6, "{made:?}");
        }
    }
}

on_all! {
    async fn a_policy_out_of_bounds_is_refused_before_anything_changes(db: &Db) {
        audit::append(db, &NewAuditEvent { timestamp: datetime!(2001-01-01 00:00 UTC), ..NewAuditEvent::new("old") }).await.unwrap();
        for (policy, field) in [
            (Policy { keep_audit_events: Some(Duration::days(-1)), ..Policy::default() }, "policy"),
            (Policy { keep_costs: Some(Duration::seconds(-1)), ..Policy::default() }, "policy"),
            (Policy { compress_after: Some(Duration::days(-7)), ..Policy::default() }, "policy"),
            (Policy { ahead_months: maintenance::MAX_AHEAD_MONTHS + 1, ..Policy::default() }, "ahead_months"),
        ] {
            let refused = maintenance::run(db, &policy).await;
            assert!(matches!(refused, Err(sark_db::Error::Validation { field: f, .. }) if f == field), "{refused:?}");
        }
        // A period longer than the calendar keeps everything instead of failing.
        let forever = Policy { keep_audit_events: Some(Duration::MAX), ..Policy::default() };
        assert!(maintenance::run(db, &forever).await.unwrap().removed.is_empty());
        assert_eq!(scalar(db, "SELECT count(*) FROM audit_events").await, 1);
        assert_eq!(scalar(db, "SELECT count(*) FROM retention_log").await, 0);
        // Compression is TimescaleDB's (where its license offers it): elsewhere it is ignored,
        // not an error.
        let compress = Policy { compress_after: Some(Duration::days(7)), ..Policy::default() };
        let compressing = maintenance::run(db, &compress).await.unwrap().compressing;
        if !common::is_timescale(db).await {
            assert!(compressing.is_empty(), "{compressing:?}");
        }
    }
}
