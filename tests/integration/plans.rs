//! Query plans of the library's own statements, captured as it runs them, on tables of
//! realistic size (tens of thousands of rows, statistics gathered), with the planner free to
//! choose any scan: each lookup must be served by the index made for it.

use crate::common;

use common::CLOCK;
use rust_decimal::dec;
use sark_db::audit::{self, AuditFilter, NewAuditEvent};
use sark_db::ledger::costs::{self, NewCost};
use sark_db::ledger::summaries::{self, CostFilter};
use sark_db::{Conn, Db};
use sea_orm::{ConnectionTrait, Statement};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-09-01 00:00 UTC);
const PRINCIPALS: i64 = 400;
const COSTS_PER_PRINCIPAL: i64 = 100;
const EVENTS: i64 = 40_000;

/// 40,000 costs of 400 principals over 100 days and 40,000 audit events over 40 days, then
/// fresh planner statistics.
async fn fill(db: &Db) {
    let costs: Vec<_> = (0..PRINCIPALS * COSTS_PER_PRINCIPAL)
        .map(|i| {
            NewCost::new(format!("p-{}", i % PRINCIPALS), format!("r-{}", i % 37), "c")
                .actual(dec!(0.0025))
                .at(T0 + Duration::minutes(i * 3 + i % 7))
        })
        .collect();
    costs::record_many(&db.with_clock(CLOCK), &costs).await.unwrap();
    let events: Vec<_> = (0..EVENTS)
        .map(|i| NewAuditEvent {
            timestamp: T0 + Duration::seconds(i * 86),
            correlation_id: Some(format!("corr-{}", i % 5_000)),
            ..NewAuditEvent::new("tool_invoked")
        })
        .collect();
    audit::append_many(&db.with_clock(CLOCK), &events).await.unwrap();
    db.execute_unprepared("ANALYZE").await.unwrap();
}

/// The plan of `statement` with its own bound values, one line per step.
async fn plan(db: &Db, statement: &Statement) -> String {
    let (prefix, column) = if common::is_pg(db) { ("EXPLAIN ", 0) } else { ("EXPLAIN QUERY PLAN ", 3) };
    let explain = Statement {
        sql: format!("{prefix}{}", statement.sql),
        values: statement.values.clone(),
        db_backend: statement.db_backend,
    };
    let rows = db.query_all_raw(explain).await.unwrap_or_else(|e| panic!("{}: {e}", statement.sql));
    let lines: Vec<String> = rows.iter().map(|r| r.try_get_by_index::<String>(column).unwrap()).collect();
    lines.join("\n")
}

/// Every statement `call` runs is planned with `index`; returns the plans. On TimescaleDB a
/// time-range lookup may use instead the time index every hypertable has (`<table>_timestamp_idx`,
/// made by `create_hypertable` in migration 7), which serves the same search.
async fn served_by(db: &Db, index: &str, call: impl AsyncFnOnce(&Db)) -> Vec<String> {
    let timescale = common::is_timescale(db).await;
    let mut plans = Vec::new();
    for statement in crate::statements(db, call).await {
        let plan = plan(db, &statement).await;
        let by_time_index = timescale
            && ["audit_events_timestamp_idx", "cost_tracking_timestamp_idx"].iter().any(|i| plan.contains(i));
        assert!(
            plan.contains(index) || by_time_index,
            "{}\nis not served by {index}:\n{plan}",
            statement.sql
        );
        plans.push(plan);
    }
    plans
}

/// Whether `plan` searches its index by the time range itself, not only filters by it.
fn searches_by_time(plan: &str) -> bool {
    plan.lines().any(|l| (l.contains("SEARCH") || l.contains("Index Cond")) && l.contains("timestamp"))
}

on_both! {
    async fn the_library_s_lookups_use_their_indexes(db: &Db) {
        fill(db).await;
        let month = CostFilter {
            principal_id: Some("p-7".into()),
            from: Some(datetime!(2026-10-01 00:00 UTC)),
            to: Some(datetime!(2026-11-01 00:00 UTC)),
            ..CostFilter::default()
        };
        let plans = served_by(db, "idx_cost_principal_timestamp", async |db| {
            summaries::total(db, &month).await.unwrap();
        })
        .await;
        assert!(plans.iter().all(|p| searches_by_time(p)), "{plans:#?}");
        // What `idx_cost_principal` (dropped by migration 14) used to serve.
        let all_time = CostFilter { principal_id: Some("p-7".into()), ..CostFilter::default() };
        served_by(db, "idx_cost_principal_timestamp", async |db| {
            summaries::total(db, &all_time).await.unwrap();
        })
        .await;
        let day = AuditFilter { limit: Some(101), ..AuditFilter::between(T0 + Duration::days(3), T0 + Duration::days(4)) };
        let plans = served_by(db, "idx_audit_timestamp_id", async |db| {
            assert_eq!(audit::query(db, &day).await.unwrap().items.len(), 101);
        })
        .await;
        assert!(plans.iter().all(|p| searches_by_time(p)), "{plans:#?}");
        served_by(db, "idx_audit_correlation", async |db| {
            assert_eq!(audit::trace(db, "corr-42").await.unwrap().len(), 8);
        })
        .await;
    }
}

/// `[from, to)`.
type Range = (OffsetDateTime, OffsetDateTime);

/// The TimescaleDB chunks a plan reads (`_hyper_<n>_<m>_chunk`).
fn chunks_read(plan: &str) -> std::collections::BTreeSet<String> {
    plan.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(|word| {
            let rest = word.strip_prefix("_hyper_")?;
            let end = rest.find("_chunk")?;
            Some(format!("_hyper_{}_chunk", &rest[..end]))
        })
        .collect()
}

/// The chunks of `table` whose time range meets `[from, to)`.
async fn chunks_meeting(
    db: &Db,
    table: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> std::collections::BTreeSet<String> {
    let sql = "SELECT chunk_name FROM timescaledb_information.chunks \
               WHERE hypertable_name = $1 AND range_start < $3 AND range_end > $2";
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [table.into(), from.into(), to.into()],
        ))
        .await
        .unwrap();
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect()
}

/// The partitions a plan reads (`<table>_pYYYY_MM` or `<table>_default`), by suffix.
fn partitions_read(plan: &str) -> std::collections::BTreeSet<String> {
    plan.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(|word| word.strip_prefix("cost_tracking_").or_else(|| word.strip_prefix("audit_events_")))
        .filter(|rest| rest.starts_with('p') && rest.len() == 8 || *rest == "default")
        .map(str::to_owned)
        .collect()
}

on_both! {
    async fn a_query_for_a_time_range_reads_only_the_partitions_of_that_range(db: &Db) {
        fill(db).await;
        // The rows of September and October landed in the default partitions; move them.
        sark_db::maintenance::run(db, &Default::default()).await.unwrap();
        db.execute_unprepared("ANALYZE").await.unwrap();
        let october = CostFilter {
            from: Some(datetime!(2026-10-01 00:00 UTC)),
            to: Some(datetime!(2026-11-01 00:00 UTC)),
            ..CostFilter::default()
        };
        let day = AuditFilter::between(T0 + Duration::days(3), T0 + Duration::days(4));
        let december = (datetime!(2026-12-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC));
        let cases: [(&str, &str, Range, Vec<Statement>); 3] = [
            ("p2026_10", "cost_tracking", (october.from.unwrap(), october.to.unwrap()), crate::statements(db, async |db| drop(summaries::grouped(db, &october, summaries::GroupBy::Principal).await.unwrap())).await),
            ("p2026_09", "audit_events", (day.from, day.to), crate::statements(db, async |db| drop(audit::query(db, &day).await.unwrap())).await),
            // The budget counters count December's newest day and the month: the ledger sums read December.
            ("p2026_12", "cost_tracking", december, crate::statements(db, async |db| {
                drop(sark_db::ledger::budgets::reconcile(db, datetime!(2026-12-01 00:00 UTC), datetime!(2026-12-02 00:00 UTC)).await.unwrap())
            }).await),
        ];
        let timescale = common::is_timescale(db).await;
        for (month, table, (from, to), statements) in cases {
            let reading: Vec<_> = statements.iter().filter(|s| s.sql.contains("cost_tracking") || s.sql.contains("audit_events")).collect();
            assert!(!reading.is_empty(), "no statement read the ledger or the log: {statements:#?}");
            for statement in reading {
                let plan = plan(db, statement).await;
                if timescale {
                    // Chunks, not months: a statement reads only chunks its range meets
                    // (reconcile's newest day lies inside December, which holds no chunk yet).
                    let read = chunks_read(&plan);
                    let meeting = chunks_meeting(db, table, from, to).await;
                    let reads_some = meeting.is_empty() || !read.is_empty();
                    assert!(reads_some && read.is_subset(&meeting), "{}\n{plan}\nmeeting: {meeting:?}", statement.sql);
                } else if common::is_pg(db) {
                    let read = partitions_read(&plan);
                    assert_eq!(read.into_iter().collect::<Vec<_>>(), [month], "{}\n{plan}", statement.sql);
                } else {
                    assert!(searches_by_time(&plan), "{}\n{plan}", statement.sql);
                }
            }
        }
    }
}

/// Every statement of `src/ledger/sql`, whole, with values of its own: `(file, text, values)`.
/// A `.pg.sql` file runs on PostgreSQL only.
fn ledger_statements() -> Vec<(&'static str, &'static str, Vec<sea_orm::Value>)> {
    use sea_orm::Value;
    use sea_orm::sea_query::ArrayType;
    let (day, month, now) = (T0, T0, T0 + Duration::hours(1));
    let spend: Vec<Value> =
        vec!["p-1".into(), 2_500i64.into(), day.into(), month.into(), now.into(), true.into(), true.into()];
    let cost: Vec<Value> = vec![
        now.into(),
        "r-1".into(),
        "c".into(),
        Value::BigInt(None),
        2_500i64.into(),
        serde_json::json!({}).into(),
    ];
    let array = |ty, values: Vec<Value>| Value::Array(ty, Some(Box::new(values)));
    let rows: Vec<Value> = vec![
        array(ArrayType::TimeDateTimeWithTimeZone, vec![now.into()]),
        array(ArrayType::String, vec!["p-1".into()]),
        array(ArrayType::String, vec!["r-1".into()]),
        array(ArrayType::String, vec!["c".into()]),
        array(ArrayType::BigInt, vec![(-1i64).into()]),
        array(ArrayType::BigInt, vec![2_500i64.into()]),
        array(ArrayType::Json, vec![serde_json::json!({}).into()]),
    ];
    let principals: Vec<Value> = vec![
        array(ArrayType::String, vec!["p-1".into()]),
        array(ArrayType::BigInt, vec![2_500i64.into()]),
        array(ArrayType::BigInt, vec![2_500i64.into()]),
        array(ArrayType::TimeDateTimeWithTimeZone, vec![day.into()]),
        array(ArrayType::TimeDateTimeWithTimeZone, vec![month.into()]),
        array(ArrayType::Bool, vec![true.into()]),
        now.into(),
    ];
    // A governed call's event, as the JSON array of statements of events, with its principal.
    let event = serde_json::json!([{ "id": "e-1", "timestamp": "2026-11-28T12:00:00Z", "event_type": "tool_invoked" }]);
    let events: Vec<Value> = vec![event.into(), array(ArrayType::String, vec!["p-1".into()])];
    let key: Vec<Value> = vec!["k-1".into(), "{}".into(), now.into()];
    vec![
        ("spend.sql", include_str!("../../src/ledger/sql/spend.sql"), spend.clone()),
        (
            "charge.pg.sql",
            include_str!("../../src/ledger/sql/charge.pg.sql"),
            [spend.clone(), cost.clone()].concat(),
        ),
        (
            "charge_keyed.pg.sql",
            include_str!("../../src/ledger/sql/charge_keyed.pg.sql"),
            [spend, cost, key].concat(),
        ),
        (
            "charge_many.pg.sql",
            include_str!("../../src/ledger/sql/charge_many.pg.sql"),
            [rows.clone(), principals, events].concat(),
        ),
        ("insert_costs.pg.sql", include_str!("../../src/ledger/sql/insert_costs.pg.sql"), rows),
        (
            "create_budgets.pg.sql",
            include_str!("../../src/ledger/sql/create_budgets.pg.sql"),
            vec![array(ArrayType::String, vec!["p-1".into()]), now.into()],
        ),
        (
            "add_to_budgets.pg.sql",
            include_str!("../../src/ledger/sql/add_to_budgets.pg.sql"),
            vec![
                array(ArrayType::String, vec!["p-1".into()]),
                array(ArrayType::TimeDateTimeWithTimeZone, vec![day.into()]),
                array(ArrayType::BigInt, vec![2_500i64.into()]),
                array(ArrayType::TimeDateTimeWithTimeZone, vec![month.into()]),
                array(ArrayType::BigInt, vec![2_500i64.into()]),
                now.into(),
            ],
        ),
    ]
}

on_both! {
    async fn every_whole_statement_plans_with_its_own_values(db: &Db) {
        let statements = ledger_statements();
        let mut files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/ledger/sql"))
            .unwrap()
            .map(|f| f.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let mut covered: Vec<&str> = statements.iter().map(|(file, ..)| *file).collect();
        covered.sort();
        assert_eq!(files, covered, "every statement file is planned here");
        // SQLite: its EXPLAIN (the program) — an upsert of VALUES has no query plan rows.
        for (file, sql, values) in statements {
            if file.ends_with(".pg.sql") && !common::is_pg(db) {
                continue;
            }
            let stmt = Statement::from_sql_and_values(db.get_database_backend(), format!("EXPLAIN {sql}"), values);
            let plan = db.query_all_raw(stmt).await.unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!plan.is_empty(), "{file}: no plan");
        }
    }
}

/// The whole statement files of grouped audit appends, maintenance, privileges and the v1 copy,
/// by directory: the files that create functions or views for a session (run here), and the
/// statements (planned here, with their values).
fn other_statement_files() -> Vec<(&'static str, &'static str, Vec<sea_orm::Value>)> {
    let cutoff = sea_orm::Value::from(T0);
    vec![
        (
            "audit/sql/insert_events.pg.sql",
            include_str!("../../src/audit/sql/insert_events.pg.sql"),
            event_arrays(),
        ),
        (
            "audit/sql/analyze_unanalyzed.pg.sql",
            include_str!("../../src/audit/sql/analyze_unanalyzed.pg.sql"),
            vec![],
        ),
        (
            "audit/sql/insert_new_events.pg.sql",
            include_str!("../../src/audit/sql/insert_new_events.pg.sql"),
            vec![serde_json::json!([{ "id": "e-2", "timestamp": "2026-09-01T00:00:00.000000Z", "event_type": "x", "severity": "low", "details": {} }]).into()],
        ),
        (
            "audit/sql/insert_seal_entries.pg.sql",
            include_str!("../../src/audit/sql/insert_seal_entries.pg.sql"),
            vec![
                1i64.into(),
                sea_orm::Value::Array(sea_orm::sea_query::ArrayType::TimeDateTimeWithTimeZone, Some(Box::new(vec![T0.into()]))),
                sea_orm::Value::Array(sea_orm::sea_query::ArrayType::String, Some(Box::new(vec!["e-1".into()]))),
                sea_orm::Value::Array(sea_orm::sea_query::ArrayType::String, Some(Box::new(vec!["00".into()]))),
            ],
        ),
        ("maintenance/functions.pg.sql", include_str!("../../src/maintenance/functions.pg.sql"), vec![]),
        (
            "maintenance/months_before.sqlite.sql",
            include_str!("../../src/maintenance/months_before.sqlite.sql"),
            vec![cutoff.clone(), sea_orm::Value::TimeDateTimeWithTimeZone(None)],
        ),
        (
            "privileges/grant_application.pg.sql",
            include_str!("../../src/privileges/grant_application.pg.sql"),
            vec![],
        ),
        (
            "v1/sql/server_stamps.sqlite.sql",
            include_str!("../../src/v1/sql/server_stamps.sqlite.sql"),
            vec![],
        ),
        ("v1/sql/refusals.sql", include_str!("../../src/v1/sql/refusals.sql"), vec![]),
        ("v1/sql/refusals.pg.sql", include_str!("../../src/v1/sql/refusals.pg.sql"), vec![]),
        ("v1/sql/refusals.sqlite.sql", include_str!("../../src/v1/sql/refusals.sqlite.sql"), vec![]),
        ("v1/sql/list_pending.sql", include_str!("../../src/v1/sql/list_pending.sql"), vec![]),
        ("v1/sql/insert_resources.pg.sql", include_str!("../../src/v1/sql/insert_resources.pg.sql"), vec![]),
        (
            "v1/sql/insert_resources.sqlite.sql",
            include_str!("../../src/v1/sql/insert_resources.sqlite.sql"),
            vec![],
        ),
        (
            "v1/sql/insert_capabilities.pg.sql",
            include_str!("../../src/v1/sql/insert_capabilities.pg.sql"),
            vec![],
        ),
        (
            "v1/sql/insert_capabilities.sqlite.sql",
            include_str!("../../src/v1/sql/insert_capabilities.sqlite.sql"),
            vec![],
        ),
        ("v1/sql/mark_copied.sql", include_str!("../../src/v1/sql/mark_copied.sql"), vec![]),
    ]
}

/// The parameters of `insert_events.pg.sql`: one event, one array a column (the NULL columns'
/// arrays empty).
fn event_arrays() -> Vec<sea_orm::Value> {
    use sea_orm::sea_query::ArrayType;
    let array = |ty, values: Vec<sea_orm::Value>| sea_orm::Value::Array(ty, Some(Box::new(values)));
    let text = |s: &[&str]| array(ArrayType::String, s.iter().map(|&s| s.into()).collect());
    let mut values = vec![
        text(&["e-1"]),
        array(ArrayType::TimeDateTimeWithTimeZone, vec![T0.into()]),
        text(&["x"]),
        text(&["low"]),
    ];
    values.extend((5..=13).map(|_| text(&[])));
    values.push(array(ArrayType::Json, vec![serde_json::json!({}).into()]));
    values.extend((15..=20).map(|_| text(&[])));
    values.extend((21..=22).map(|_| array(ArrayType::BigInt, vec![])));
    values
}

on_both! {
    async fn every_other_statement_file_runs_or_plans_on_its_backend(db: &Db) {
        let files = other_statement_files();
        let mut found = Vec::new();
        for dir in ["audit/sql", "maintenance", "privileges", "v1/sql"] {
            for f in std::fs::read_dir(format!("{}/src/{dir}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
                let name = f.unwrap().file_name().into_string().unwrap();
                if name.ends_with(".sql") {
                    found.push(format!("{dir}/{name}"));
                }
            }
        }
        found.sort();
        let mut listed: Vec<String> = files.iter().map(|(file, ..)| (*file).to_owned()).collect();
        listed.sort();
        assert_eq!(found, listed, "every statement file is listed here");
        let other = if common::is_pg(db) { ".sqlite.sql" } else { ".pg.sql" };
        // In one transaction, which the definitions' temporary functions and views live in.
        let tx = db.begin_write().await.unwrap();
        for (file, sql, values) in files.into_iter().filter(|(file, ..)| !file.ends_with(other)) {
            if sql.contains("CREATE OR REPLACE FUNCTION pg_temp.") || sql.contains("CREATE TEMP VIEW") || sql.contains("\nDO $$") {
                tx.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{file}: {e}"));
                continue;
            }
            let stmt = Statement::from_sql_and_values(tx.get_database_backend(), format!("EXPLAIN {sql}"), values);
            let plan = tx.query_all_raw(stmt).await.unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!plan.is_empty(), "{file}: no plan");
        }
        tx.rollback().await.unwrap();
    }
}

/// A year of hourly seals, as rows (their digests are not a chain: nothing here verifies them).
async fn hourly_seals(db: &Db, hours: i64) {
    use entity::audit_seal;
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let start = datetime!(2020-01-01 00:00 UTC);
    for chunk in (1..=hours).collect::<Vec<_>>().chunks(1_000) {
        let seals = chunk.iter().map(|&seq| audit_seal::ActiveModel {
            seq: Set(seq),
            range_start: Set(start + Duration::hours(seq - 1)),
            range_end: Set(start + Duration::hours(seq)),
            event_count: Set(0),
            digest: Set("d".into()),
            previous_digest: Set("p".into()),
            algorithm: Set("sha256".into()),
            sealed_at: Set(start + Duration::hours(seq)),
        });
        audit_seal::Entity::insert_many(seals).exec_without_returning(db).await.unwrap();
    }
}

on_both! {
    /// Every insert into the log asks for the end of the sealed ranges (the trigger of migrations
    /// 18 and 22): that lookup reads an index, not every seal, so appends do not slow as seals
    /// accumulate.
    async fn an_append_s_check_against_the_seals_reads_an_index(db: &Db) {
        hourly_seals(db, 8_760).await;
        let definition = if common::is_pg(db) {
            "SELECT p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid \
             WHERE t.tgrelid = 'audit_events'::regclass AND t.tgname = 'audit_events_unsealed'"
        } else {
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_events_unsealed'"
        };
        let definition = common::strings(db, definition).await.concat();
        let lookup = "SELECT max(range_end) FROM audit_seals";
        assert!(definition.contains(lookup), "the trigger's lookup changed:\n{definition}");
        if common::is_pg(db) {
            db.execute_unprepared("ANALYZE audit_seals").await.unwrap();
        }
        let plan = plan(db, &Statement::from_string(db.get_database_backend(), lookup)).await;
        assert!(plan.contains("idx_audit_seals_range_end"), "{plan}");
        // And the log takes events after the last seal, refuses them inside it.
        audit::append(&db.with_clock(CLOCK), &NewAuditEvent::new("tool_invoked")).await.unwrap();
        let sealed = NewAuditEvent { timestamp: datetime!(2020-06-01 00:00 UTC), ..NewAuditEvent::new("tool_invoked") };
        assert!(matches!(audit::append(db, &sealed).await, Err(sark_db::Error::Conflict(sark_db::Conflict::Sealed { .. }))));
    }
}

on_both! {
    /// A seal and a verification read the log a page at a time in `(timestamp, id)` order. On a
    /// log loaded in bulk and never analyzed, each page must still be read from the index, in
    /// order, not by reading and sorting every event left in the range; and so must those of a
    /// later seal as large, whose events and entries the statistics left by the first know
    /// nothing of.
    async fn a_seal_of_a_log_never_analyzed_reads_each_page_by_its_index(db: &Db) {
        let first = T0 + Duration::days(41);
        let pages = seal_and_verify(db, T0, first).await;
        assert_pages_read_by_index(db, &pages).await;
        let pages = seal_and_verify(db, first, first + Duration::days(41)).await;
        assert_pages_read_by_index(db, &pages).await;
    }
}

/// Appends [`EVENTS`] events in bulk from `start` on, seals them up to `until` and verifies
/// the range; returns the page queries both ran.
async fn seal_and_verify(db: &Db, start: OffsetDateTime, until: OffsetDateTime) -> Vec<Statement> {
    let events: Vec<_> = (0..EVENTS)
        .map(|i| NewAuditEvent {
            timestamp: start + Duration::seconds(i * 86),
            ..NewAuditEvent::new("tool_invoked")
        })
        .collect();
    audit::append_many(&db.with_clock(CLOCK), &events).await.unwrap();
    let mut read = crate::statements(db, async |db| {
        assert_eq!(audit::seal(db, until).await.unwrap().event_count, EVENTS);
    })
    .await;
    read.extend(
        crate::statements(db, async |db| {
            assert!(audit::verify(db, start, until).await.unwrap().is_clean());
        })
        .await,
    );
    let pages: Vec<_> =
        read.into_iter().filter(|s| s.sql.contains(" LIMIT ") && s.sql.contains("ORDER BY")).collect();
    assert!(pages.len() >= 2 * (EVENTS as usize).div_ceil(5_000), "{} pages", pages.len());
    pages
}

/// Each of `pages` goes through no more than a page of rows and a little (PostgreSQL: run
/// under `EXPLAIN ANALYZE`) and sorts nothing (SQLite).
async fn assert_pages_read_by_index(db: &Db, pages: &[Statement]) {
    for page in pages {
        if common::is_pg(db) {
            let analyzed = Statement { sql: format!("ANALYZE {}", page.sql), ..page.clone() };
            let plan = plan(db, &analyzed).await;
            let most = plan
                .split("(actual ")
                .skip(1)
                .filter_map(|step| step.split("rows=").nth(1)?.split(' ').next()?.parse::<u64>().ok())
                .max();
            assert!(most.is_some_and(|rows| rows <= 5_001), "{}\nreads {most:?} rows:\n{plan}", page.sql);
        } else {
            let plan = plan(db, page).await;
            assert!(!plan.contains("TEMP B-TREE"), "{}\nsorts:\n{plan}", page.sql);
        }
    }
}
