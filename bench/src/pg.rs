//! The PostgreSQL workloads: sark-db, sqlx running the library's statements, and pgbench
//! running them with the parameters written in.

use crate::check::{self, Expect};
use crate::table::Row;
use crate::{
    AMOUNT, Args, Charger, Res, attempts, charge, ms, percentile, pings_like_sark, plan, principal, run_plan,
};
use rust_decimal::Decimal;
use sark_db::Db;
use sark_db::PoolOptions;
use sark_db::Window;
use sark_db::audit::{self, NewAuditEvent};
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::{self, NewCost};
use sark_db::ledger::statements::{PG_CHARGE, PG_KEYED_CHARGE};
use sark_db::ledger::summaries::{self, CostFilter};
use sark_db::ledger::{Governed, GovernedCall, GroupCommit, Ledger};
use sea_orm::ConnectionTrait;
use sea_orm::sqlx::postgres::{PgArguments, PgPoolOptions};
use sea_orm::sqlx::query::Query;
use sea_orm::sqlx::types::Json;
use sea_orm::sqlx::{self, PgPool, Postgres, Row as _};
use serde_json::json;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The audit event pgbench appends for a call.
const APPEND_EVENT: &str = "INSERT INTO audit_events (id, \"timestamp\", event_type, correlation_id) \
    VALUES (gen_random_uuid()::text, now(), 'tool_invoked', 'req-' || :client_id);\n";

/// The server's own ceiling for one lane of grouped appends: 32 events (a group of the 32
/// tasks) by one `INSERT`, one commit, one client.
const APPEND_GROUP: &str = "INSERT INTO audit_events (id, \"timestamp\", event_type, correlation_id) \
    SELECT gen_random_uuid()::text, now(), 'tool_invoked', 'req-' || g FROM generate_series(1, 32) g;\n";

/// The statement the summary baseline runs: the sum and count of one principal's costs in a
/// period.
const SUMMARY: &str = "SELECT CAST(COALESCE(SUM(COALESCE(actual_cost_micros, estimated_cost_micros)), 0) AS BIGINT), COUNT(*) \
     FROM cost_tracking WHERE principal_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3";

/// The benchmark database and its connections.
struct Pg {
    args: Args,
    url: String,
    sark: Db,
    raw: PgPool,
    ledger: Ledger,
}

/// Creates the database, runs the workloads `args` selects and drops the database.
pub async fn run(args: &Args) -> Res<Vec<Row>> {
    let name = format!("sark_bench_{}", std::process::id());
    let admin = sark_db::connect(&args.pg).await?;
    let url = match &args.database {
        Some(url) => url.clone(),
        None => {
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
            // The admin URL with the benchmark's database in place of its own, parameters kept.
            let (server, rest) = args.pg.rsplit_once('/').unwrap_or((args.pg.as_str(), ""));
            let parameters = rest.split_once('?').map_or(String::new(), |(_, p)| format!("?{p}"));
            format!("{server}/{name}{parameters}")
        }
    };
    // The Ledger's lanes share the pool: while tasks wait on the Ledger, they hold no connection.
    let pool = PoolOptions { max_connections: Some(args.tasks as u32), ..PoolOptions::default() };
    let sark = sark_db::connect_with(&url, &pool).await?;
    sark_db::migrate(&sark).await?;
    if args.plain {
        use sark_db::MigratorTrait;
        // Migrations 0–15 stay: 16 made the partitions, and every one after it goes with it.
        let after_15 = sark_db::Migrator::migrations().len() as u32 - 16;
        sark_db::Migrator::down(sark.pool(), Some(after_15)).await?;
    }
    let raw = pings_like_sark(PgPoolOptions::new()).max_connections(args.tasks as u32).connect(&url).await?;
    // The Ledger on a pool of its own, a connection per lane and one to spare, as the guide
    // advises on PostgreSQL.
    let own = PoolOptions { max_connections: Some(args.lanes as u32 + 1), ..PoolOptions::default() };
    let ledger = Ledger::new(
        sark_db::connect_with(&url, &own).await?,
        GroupCommit { lanes: args.lanes, ..GroupCommit::default() },
    );
    let bench = Pg { args: args.clone(), url, sark, raw, ledger };
    let result = match args.seal {
        Some(n) => bench.seal(n).await.map(|()| Vec::new()),
        None => bench.workloads().await,
    };
    drop(bench.ledger);
    bench.sark.close().await?;
    bench.raw.close().await;
    if args.database.is_none() {
        admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await?;
    }
    result
}

impl Pg {
    async fn workloads(&self) -> Res<Vec<Row>> {
        let mut rows = Vec::new();
        let a = &self.args;
        if a.runs("sequential") {
            rows.extend(self.sequential().await?);
        }
        if a.runs("hot") {
            rows.extend(self.concurrent("hot principal", 1).await?);
        }
        if a.runs("spread") {
            rows.extend(self.concurrent("spread", a.principals).await?);
        }
        if a.runs("keyed") {
            rows.push(self.keyed().await?);
        }
        if a.runs("tight") {
            rows.extend(self.tight().await?);
        }
        if a.runs("mixed") {
            rows.push(self.mixed().await?);
        }
        if a.runs("bulk") {
            rows.push(self.bulk().await?);
        }
        if a.runs("summary") {
            rows.extend(self.summary().await?);
        }
        if a.runs("audit") {
            rows.push(self.audit().await?);
        }
        if a.runs("appends") {
            rows.push(self.appends().await?);
        }
        if a.runs("governed") {
            rows.push(self.governed().await?);
        }
        if a.runs("kills") {
            rows.extend(self.kills().await?);
        }
        Ok(rows)
    }

    /// Empties the ledger and gives `n` principals a daily limit of `daily` micro-units.
    async fn reset(&self, n: usize, daily: i64) -> Res<()> {
        self.sark
            .execute_unprepared(
                "TRUNCATE cost_tracking, principal_budgets, cost_idempotency_keys RESTART IDENTITY",
            )
            .await?;
        let limits = Limits {
            daily: Some(Decimal::new(daily, 6)),
            monthly: Some(Decimal::new(daily, 6) * Decimal::from(31)),
            currency: "USD".into(),
        };
        for p in 0..n {
            budgets::set_limits(&self.sark, &principal(p), &limits).await?;
        }
        self.sark
            .execute_unprepared("VACUUM ANALYZE cost_tracking, principal_budgets, cost_idempotency_keys")
            .await?;
        // Every run starts after a checkpoint, so that none pays for the previous one's WAL.
        self.sark.execute_unprepared("CHECKPOINT").await?;
        Ok(())
    }

    /// Large budgets: no charge of the run is refused.
    async fn reset_large(&self, n: usize) -> Res<()> {
        self.reset(n, 1_000_000 * 1_000_000).await
    }

    async fn check(&self, workload: &str, who: &str, expect: Expect) -> Res<()> {
        check::ledger(&self.sark, workload, who, expect).await
    }

    async fn sequential(&self) -> Res<Vec<Row>> {
        let n = self.args.sequential;
        let workload = "sequential charge";
        let mut lat = [Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n)];
        let mut rates = [0.0; 3];
        for (who, (lat, rate)) in
            ["sark-db", "sark-db Ledger", "sqlx"].into_iter().zip(lat.iter_mut().zip(&mut rates))
        {
            self.reset_large(1).await?;
            let start = Instant::now();
            for _ in 0..n {
                let t = Instant::now();
                match who {
                    "sark-db" => {
                        costs::charge(&self.sark, &charge(0)).await?;
                    }
                    "sark-db Ledger" => {
                        self.ledger.charge(&charge(0)).await?;
                    }
                    _ => drop(bind_charge(sqlx::query(PG_CHARGE), 0, true).fetch_one(&self.raw).await?),
                }
                lat.push(t.elapsed());
            }
            *rate = n as f64 / start.elapsed().as_secs_f64();
            self.check(workload, who, Expect::rows(n as i64)).await?;
        }
        self.reset_large(1).await?;
        let pgbench = self.pgbench(&charge_script(1, false), 1, n)?;
        self.check(workload, "pgbench", Expect::rows(n as i64)).await?;
        let [sark, grouped, raw] = &mut lat;
        let p = |l: &mut Vec<Duration>, q| ms(percentile(l, q));
        Ok(vec![
            Row::new(format!("sequential charge, N={n}"), "charges/s", rates[0])
                .against("sqlx", rates[2])
                .pgbench(pgbench),
            Row::new("  latency p50", "ms", p(sark, 50)).against("sqlx", p(raw, 50)),
            Row::new("  latency p99", "ms", p(sark, 99)).against("sqlx", p(raw, 99)),
            Row::new("sequential charge through the Ledger", "charges/s", rates[1]).pgbench(pgbench),
            Row::new("  Ledger latency p50 (baseline: unbatched charge)", "ms", p(grouped, 50))
                .against("sark-db", p(sark, 50)),
            Row::new("  Ledger latency p99 (baseline: unbatched charge)", "ms", p(grouped, 99))
                .against("sark-db", p(sark, 99)),
        ])
    }

    /// `tasks` tasks charging `principals` principals at random: the unbatched charge and the
    /// Ledger against sqlx and pgbench running the charge statement.
    async fn concurrent(&self, label: &str, principals: usize) -> Res<Vec<Row>> {
        let (n, tasks) = (self.args.concurrent, self.args.tasks);
        let plan = plan(tasks, n / tasks, principals);
        let expect = Expect::rows((n / tasks * tasks) as i64);
        let workload = format!("{label}: {tasks} tasks, {principals} principal(s), N={}", expect.rows);

        self.reset_large(principals).await?;
        let (sark, _) = Charger::Alone(self.sark.clone()).run(&plan).await?;
        self.check(&workload, "sark-db", expect).await?;

        self.reset_large(principals).await?;
        let (grouped, _) = Charger::Grouped(self.ledger.clone()).run(&plan).await?;
        self.check(&workload, "sark-db Ledger", expect).await?;

        self.reset_large(principals).await?;
        let raw = self.raw_plan(&plan, false).await?.0;
        self.check(&workload, "sqlx", expect).await?;

        self.reset_large(principals).await?;
        let pgbench = self.pgbench(&charge_script(principals, false), tasks, n)?;
        self.check(&workload, "pgbench", expect).await?;
        Ok(vec![
            Row::new(workload.clone(), "charges/s", sark).against("sqlx", raw).pgbench(pgbench),
            Row::new(format!("{label} through the Ledger"), "charges/s", grouped)
                .against("sqlx", raw)
                .pgbench(pgbench),
        ])
    }

    /// sqlx running the charge statement (or its keyed form) along `plan`: calls per second
    /// and how many were charged.
    async fn raw_plan(&self, plan: &[Vec<usize>], keyed: bool) -> Res<(f64, u64)> {
        let pool = self.raw.clone();
        run_plan(plan, move |p, call| {
            let pool = pool.clone();
            async move {
                let charged = if keyed {
                    let key = format!("k-{call}");
                    let mut charged = raw_keyed(&pool, p, &key).await?;
                    if call % 10 == 0 {
                        charged |= raw_keyed(&pool, p, &key).await?;
                    }
                    charged
                } else {
                    let row = bind_charge(sqlx::query(PG_CHARGE), p, true).fetch_optional(&pool).await?;
                    row.map(|r| r.try_get::<Option<i64>, _>("id")).transpose()?.flatten().is_some()
                };
                Ok(charged)
            }
        })
        .await
    }

    /// Every charge with an idempotency key, one in ten sent twice (a retry).
    async fn keyed(&self) -> Res<Row> {
        let (n, tasks, principals) = (self.args.concurrent, self.args.tasks, self.args.principals);
        let plan = plan(tasks, n / tasks, principals);
        let requests = (n / tasks * tasks) as i64;
        let expect = Expect { keys: requests, ..Expect::rows(requests) };
        let workload =
            format!("keyed charge, 10 % retried: {tasks} tasks, {principals} principals, N={requests}");

        self.reset_large(principals).await?;
        let db = self.sark.clone();
        let (sark, _) = run_plan(&plan, move |p, call| {
            let db = db.clone();
            async move {
                let request = charge(p).idempotency_key(format!("k-{call}"));
                let first = costs::charge(&db, &request).await?;
                if call % 10 == 0 {
                    let again = costs::charge(&db, &request).await?;
                    if !again.replayed || again.cost_id != first.cost_id {
                        return Err(format!("retry of k-{call} was not replayed").into());
                    }
                }
                Ok(true)
            }
        })
        .await?;
        self.check(&workload, "sark-db", expect).await?;

        self.reset_large(principals).await?;
        let (raw, charged) = self.raw_plan(&plan, true).await?;
        if charged != requests as u64 {
            return Err(format!("{workload}, sqlx: {charged} requests charged of {requests}").into());
        }
        self.check(&workload, "sqlx", expect).await?;

        self.reset_large(principals).await?;
        let pgbench = self.pgbench(&charge_script(principals, true), tasks, n)?;
        self.check(&workload, "pgbench", expect).await?;
        Ok(Row::new(workload, "requests/s", sark).against("sqlx", raw).pgbench(pgbench))
    }

    /// Budgets that hold half of the charges of each principal: about half are refused.
    async fn tight(&self) -> Res<Vec<Row>> {
        let (n, tasks, principals) = (self.args.concurrent, self.args.tasks, self.args.principals);
        // Each principal's daily limit holds half of the charges it gets on average.
        let fit = (n / principals / 2).max(1) as i64;
        let limit = fit * AMOUNT;
        let plan = plan(tasks, n / tasks, principals);
        let rows: i64 = attempts(&plan, principals).iter().map(|a| (*a).min(fit)).sum();
        let expect = Expect { limit: Some(limit), ..Expect::rows(rows) };
        let workload = format!(
            "tight budget ({} of {} charges fit): {tasks} tasks, {principals} principals",
            rows,
            n / tasks * tasks
        );
        self.reset(principals, limit).await?;
        let (sark, charged) = Charger::Alone(self.sark.clone()).run(&plan).await?;
        self.check(&workload, "sark-db", expect).await?;
        expect_charged(&workload, "sark-db", charged, rows)?;

        self.reset(principals, limit).await?;
        let (grouped, charged) = Charger::Grouped(self.ledger.clone()).run(&plan).await?;
        self.check(&workload, "sark-db Ledger", expect).await?;
        expect_charged(&workload, "sark-db Ledger", charged, rows)?;

        self.reset(principals, limit).await?;
        let (raw, charged) = self.raw_plan(&plan, false).await?;
        self.check(&workload, "sqlx", expect).await?;
        expect_charged(&workload, "sqlx", charged, rows)?;

        // pgbench draws its own principals. At the default sizes each gets about 100 charges
        // and reaches its 50 (the chance that one gets fewer is below 10⁻⁶); with fewer
        // charges only the limit is checked.
        self.reset(principals, limit).await?;
        let pgbench = self.pgbench(&charge_script(principals, false), tasks, n)?;
        let filled = principals as i64 * fit;
        if fit >= 50 {
            self.check(&workload, "pgbench", Expect { rows: filled, ..expect }).await?;
        } else {
            let rows = check::rows(&self.sark).await?;
            self.check(&workload, "pgbench", Expect { rows: rows.min(filled), ..expect }).await?;
        }
        Ok(vec![
            Row::new(workload.clone(), "calls/s", sark).against("sqlx", raw).pgbench(pgbench),
            Row::new("tight budget through the Ledger", "calls/s", grouped)
                .against("sqlx", raw)
                .pgbench(pgbench),
        ])
    }

    /// 32 tasks mixing charges (6 in 10), records (2), status reads (1) and summaries (1).
    async fn mixed(&self) -> Res<Row> {
        let (n, tasks, principals) = (self.args.concurrent, self.args.tasks, self.args.principals);
        let plan = plan(tasks, n / tasks, principals);
        // Calls are numbered task * 1e6 + i: the kind of call follows i.
        let expect_rows: i64 =
            plan.iter().map(|calls| (0..calls.len()).filter(|i| i % 10 < 8).count() as i64).sum();
        let expect = Expect::rows(expect_rows);
        let workload = format!("mixed: {tasks} tasks, {principals} principals, N={}", n / tasks * tasks);
        let today = Window::Daily.start(OffsetDateTime::now_utc());

        self.reset_large(principals).await?;
        let db = self.sark.clone();
        let (sark, _) = run_plan(&plan, move |p, call| {
            let db = db.clone();
            async move {
                match call % 10 {
                    0..6 => {
                        costs::charge(&db, &charge(p)).await?;
                    }
                    6..8 => {
                        costs::record(&db, &charge(p)).await?;
                    }
                    8 => {
                        budgets::status(&db, &principal(p), OffsetDateTime::now_utc()).await?;
                    }
                    _ => {
                        let filter = CostFilter {
                            principal_id: Some(principal(p)),
                            from: Some(today),
                            to: Some(today + time::Duration::days(1)),
                            ..Default::default()
                        };
                        drop(summaries::total(&db, &filter).await?)
                    }
                }
                Ok(true)
            }
        })
        .await?;
        self.check(&workload, "sark-db", expect).await?;

        self.reset_large(principals).await?;
        let pool = self.raw.clone();
        let (raw, _) = run_plan(&plan, move |p, call| {
            let pool = pool.clone();
            async move {
                match call % 10 {
                    0..8 => {
                        drop(bind_charge(sqlx::query(PG_CHARGE), p, call % 10 < 6).fetch_one(&pool).await?)
                    }
                    8 => drop(
                        sqlx::query("SELECT * FROM principal_budgets WHERE principal_id = $1")
                            .bind(principal(p))
                            .fetch_optional(&pool)
                            .await?,
                    ),
                    _ => drop(
                        sqlx::query(SUMMARY)
                            .bind(principal(p))
                            .bind(today)
                            .bind(today + time::Duration::days(1))
                            .fetch_one(&pool)
                            .await?,
                    ),
                }
                Ok(true)
            }
        })
        .await?;
        self.check(&workload, "sqlx", expect).await?;
        Ok(Row::new(workload, "calls/s", sark).against("sqlx", raw))
    }

    /// Runs pgbench with `script` (`clients` clients, `n` transactions in all) and returns its
    /// transactions per second.
    fn pgbench(&self, script: &str, clients: usize, n: usize) -> Res<f64> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("charge.sql");
        std::fs::write(&path, script)?;
        let out = std::process::Command::new("pgbench")
            .args(["-n", "-M", "prepared", "-f"])
            .arg(&path)
            .args(["-c", &clients.to_string(), "-j", "2", "-t", &(n / clients).to_string(), &self.url])
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let failed =
            stdout.lines().any(|l| l.starts_with("number of failed transactions: ") && !l.contains(": 0 "));
        let tps = stdout.lines().find_map(|l| {
            l.strip_prefix("tps = ").and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        });
        match tps {
            Some(tps) if out.status.success() && !failed => Ok(tps),
            _ => Err(format!("pgbench failed: {stdout}{}", String::from_utf8_lossy(&out.stderr)).into()),
        }
    }

    /// `record_many` against raw `COPY` of the same rows; both timings include turning the
    /// rows into what is sent.
    async fn bulk(&self) -> Res<Row> {
        let n = self.args.rows;
        let rows = ledger(n, self.args.principals);
        let workload = format!("bulk ingest, {n} rows, {} principals, 30 days", self.args.principals);
        self.reset(0, 0).await?;
        let start = Instant::now();
        let mut copy = String::new();
        for c in &rows {
            copy.push_str(&format!(
                "{}\t{}\t{}\t{}\t{AMOUNT}\t{{}}\n",
                c.timestamp, c.principal_id, c.resource_id, c.capability_id
            ));
        }
        let mut conn = self.raw.acquire().await?;
        let mut sink = conn
            .copy_in_raw(
                "COPY cost_tracking (\"timestamp\", principal_id, resource_id, capability_id, actual_cost_micros, metadata) FROM STDIN",
            )
            .await?;
        sink.send(copy.as_bytes()).await?;
        sink.finish().await?;
        let copy_rate = n as f64 / start.elapsed().as_secs_f64();
        drop(conn);
        self.check(&workload, "COPY", Expect { counters: false, ..Expect::rows(n as i64) }).await?;

        self.reset(0, 0).await?;
        let start = Instant::now();
        costs::record_many(&self.sark, &rows).await?;
        let sark_rate = n as f64 / start.elapsed().as_secs_f64();
        self.check(&workload, "sark-db", Expect { counters: false, ..Expect::rows(n as i64) }).await?;
        let now = OffsetDateTime::now_utc();
        let drift = budgets::reconcile(&self.sark, now - time::Duration::days(40), now).await?;
        if !drift.is_empty() {
            return Err(format!("{workload}, sark-db: counters differ from the ledger: {drift:?}").into());
        }
        Ok(Row::new(workload, "rows/s", sark_rate).against("COPY", copy_rate))
    }

    /// Runs after [`Pg::bulk`], which leaves its rows in the ledger.
    async fn summary(&self) -> Res<Vec<Row>> {
        self.sark.execute_unprepared("VACUUM ANALYZE cost_tracking").await?;
        let (from, to) = (days_ago(30), OffsetDateTime::now_utc());
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut sark_lat, mut raw_lat) = (Vec::new(), Vec::new());
        for i in 0..self.args.summaries {
            let p = principal(rng.usize(..self.args.principals));
            let filter = CostFilter {
                principal_id: Some(p.clone()),
                from: Some(from),
                to: Some(to),
                ..Default::default()
            };
            let sark = async {
                let t = Instant::now();
                let total = summaries::total(&self.sark, &filter).await?;
                sark_lat.push(t.elapsed());
                Res::Ok(total.count)
            };
            let raw = async {
                let t = Instant::now();
                let query = sqlx::query_as::<_, (i64, i64)>(SUMMARY).bind(p).bind(from).bind(to);
                let (_, count) = query.fetch_one(&self.raw).await?;
                raw_lat.push(t.elapsed());
                Res::Ok(count)
            };
            // Each goes first every other call: the second reads pages the first just read.
            let (sark, count) = if i % 2 == 0 {
                let sark = sark.await?;
                (sark, raw.await?)
            } else {
                let count = raw.await?;
                (sark.await?, count)
            };
            if sark != count {
                return Err(format!("summary: sark-db counted {sark}, sqlx {count}").into());
            }
        }
        let workload = format!("summary p50 ({} calls, {} rows)", self.args.summaries, self.args.rows);
        Ok(vec![
            Row::new(workload, "ms", ms(percentile(&mut sark_lat, 50)))
                .against("sqlx", ms(percentile(&mut raw_lat, 50))),
            Row::new("summary p99", "ms", ms(percentile(&mut sark_lat, 99)))
                .against("sqlx", ms(percentile(&mut raw_lat, 99))),
        ])
    }

    /// Audit events appended by one `append_many` call, against one `COPY` of the same rows:
    /// each one transaction (the log is append-only, so the two runs go to two time ranges).
    async fn audit(&self) -> Res<Row> {
        let n = self.args.events;
        let now = OffsetDateTime::now_utc();
        let events: Vec<NewAuditEvent> = (0..n)
            .map(|i| NewAuditEvent {
                timestamp: now - time::Duration::milliseconds((n - i) as i64),
                correlation_id: Some(format!("req-{}", i % 10_000)),
                ..NewAuditEvent::new("tool_invoked")
            })
            .collect();
        // Each run starts after a checkpoint, as the ledger's do: the first change to a page
        // after one writes the whole page to the WAL, and the two runs share index pages.
        self.sark.execute_unprepared("CHECKPOINT").await?;
        let start = Instant::now();
        audit::append_many(&self.sark, &events).await?;
        let sark_rate = n as f64 / start.elapsed().as_secs_f64();

        self.sark.execute_unprepared("CHECKPOINT").await?;
        let start = Instant::now();
        // The same rows: every column, as `append_many` sends them (a UUIDv7 id, the defaults
        // of `NewAuditEvent::new`, NULL for the rest).
        let nulls = |n| vec!["\\N"; n].join("\t");
        let (user_to_request, org_to_capability, nodes_and_costs) = (nulls(9), nulls(3), nulls(4));
        let mut copy = String::new();
        for e in &events {
            let (id, at) = (uuid::Uuid::now_v7(), e.timestamp.format(&Rfc3339)?);
            let correlation = e.correlation_id.as_deref().unwrap_or("");
            copy.push_str(&format!(
                "{id}\t{at}\ttool_invoked\tlow\t{user_to_request}\t{{}}\t{org_to_capability}\t{correlation}\t{nodes_and_costs}\n"
            ));
        }
        let mut conn = self.raw.acquire().await?;
        let mut sink = conn
            .copy_in_raw(
                "COPY audit_events (id, \"timestamp\", event_type, severity, user_id, user_email, server_id, \
                 tool_name, decision, policy_id, ip_address, user_agent, request_id, details, principal_org, \
                 resource_protocol, capability_id, correlation_id, source_node, target_node, \
                 estimated_cost_micros, actual_cost_micros) FROM STDIN",
            )
            .await?;
        sink.send(copy.as_bytes()).await?;
        sink.finish().await?;
        let copy_rate = n as f64 / start.elapsed().as_secs_f64();
        let stored =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_events").fetch_one(&self.raw).await?;
        if stored != 2 * n as i64 {
            return Err(format!("audit events: {stored} stored, {} appended", 2 * n).into());
        }
        Ok(Row::new(format!("audit append_many, {n} events in one call"), "events/s", sark_rate)
            .against("COPY", copy_rate))
    }

    /// `tasks` tasks appending single audit events through the Ledger (group commit), against
    /// pgbench running the same INSERT with one commit per event, and against the server's own
    /// rate for groups of 32 events from one client (what one lane could reach at most). After
    /// each run the events it acknowledged are counted: every one stored, nothing more.
    async fn appends(&self) -> Res<Row> {
        let tasks = self.args.tasks;
        let per_task = self.args.concurrent / tasks;
        let n = per_task * tasks;
        let before = self.events().await?;
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let ledger = self.ledger.clone();
                tokio::spawn(async move {
                    for i in 0..per_task {
                        let event = NewAuditEvent {
                            correlation_id: Some(format!("req-{t}-{i}")),
                            ..NewAuditEvent::new("tool_invoked")
                        };
                        ledger.append(&event).await?;
                    }
                    Ok::<_, sark_db::Error>(())
                })
            })
            .collect();
        for handle in handles {
            handle.await??;
        }
        let grouped = n as f64 / start.elapsed().as_secs_f64();
        let after = self.events().await?;
        let pgbench = self.pgbench(APPEND_EVENT, tasks, n)?;
        let last = self.events().await?;
        let ceiling = self.pgbench(APPEND_GROUP, 1, n / 32)? * 32.0;
        let grouped_in = self.events().await? - last;
        if after - before != n as i64 || last - after != n as i64 || grouped_in != (n / 32 * 32) as i64 {
            return Err(format!(
                "audit appends: {}, {} and {grouped_in} stored, {n}, {n} and {} acknowledged",
                after - before,
                last - after,
                n / 32 * 32
            )
            .into());
        }
        Ok(Row::new(
            format!("audit appends: {tasks} tasks, single events through the Ledger, N={n}"),
            "events/s",
            grouped,
        )
        .against("pgbench, 1 client, 32 events an INSERT", ceiling)
        .pgbench(pgbench))
    }

    /// Governed calls (a charge and its audit event in one commit) through the Ledger, against
    /// pgbench running the charge statement and the event's `INSERT` in one transaction a call.
    async fn governed(&self) -> Res<Row> {
        let (n, tasks, principals) = (self.args.concurrent, self.args.tasks, self.args.principals);
        let plan = plan(tasks, n / tasks, principals);
        let calls = (n / tasks * tasks) as i64;
        let workload =
            format!("governed call, charge + event: {tasks} tasks, {principals} principals, N={calls}");
        self.reset_large(principals).await?;
        let before = self.events().await?;
        let ledger = self.ledger.clone();
        let (grouped, _) = run_plan(&plan, move |p, call| {
            let ledger = ledger.clone();
            async move {
                let charged = NewAuditEvent {
                    correlation_id: Some(format!("req-{call}")),
                    ..NewAuditEvent::new("tool_invoked")
                };
                match ledger.govern(&GovernedCall { cost: charge(p), charged, refused: None }).await? {
                    Governed::Charged { event: Some(_), .. } => Ok(true),
                    other => Err(format!("a governed call answered {other:?}").into()),
                }
            }
        })
        .await?;
        self.check(&workload, "sark-db Ledger", Expect::rows(calls)).await?;
        let after = self.events().await?;
        self.reset_large(principals).await?;
        let script = charge_script(principals, false);
        let (head, charge) = script.split_once('\n').expect("the script sets the principal first");
        let pgbench = self.pgbench(&format!("{head}\nBEGIN;\n{charge}{APPEND_EVENT}END;\n"), tasks, n)?;
        self.check(&workload, "pgbench", Expect::rows(calls)).await?;
        let last = self.events().await?;
        if after - before != calls || last - after != calls {
            let stored = (after - before, last - after);
            return Err(format!("{workload}: {stored:?} events stored, {calls} calls each").into());
        }
        Ok(Row::new(workload, "calls/s", grouped).pgbench(pgbench))
    }

    /// Keyed charges and appends from every task while their connections (a pool and a Ledger
    /// of their own) are killed every 20–60 ms; a call that fails goes again until it is
    /// answered. Calls settled per second through the Ledger against the unbatched calls, under
    /// the same kills.
    async fn kills(&self) -> Res<Vec<Row>> {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        let url = format!("{}{separator}application_name={KILLED}", self.url);
        let pool = PoolOptions { max_connections: Some(self.args.tasks as u32), ..PoolOptions::default() };
        let victim = sark_db::connect_with(&url, &pool).await?;
        let ledger =
            Ledger::new(victim.clone(), GroupCommit { lanes: self.args.lanes, ..GroupCommit::default() });
        let (tasks, principals) = (self.args.tasks, self.args.principals);
        let plan = plan(tasks, self.args.concurrent / 4 / tasks, principals);
        let calls = plan.iter().map(Vec::len).sum::<usize>() as i64;
        let workload =
            format!("under kills every 20-60 ms: {tasks} tasks, {principals} principals, N={calls}");
        let expect = Expect { keys: calls, ..Expect::rows(calls) };
        let mut rates = Vec::new();
        for grouped in [false, true] {
            self.reset_large(principals).await?;
            let (db, ledger) = (victim.clone(), ledger.clone());
            let ((rate, _), kills) = killed(
                &self.raw,
                run_plan(&plan, move |p, call| {
                    let (db, ledger) = (db.clone(), ledger.clone());
                    async move {
                        let request = charge(p).idempotency_key(format!("k-{call}"));
                        loop {
                            let outcome = if grouped {
                                ledger.charge(&request).await
                            } else {
                                costs::charge(&db, &request).await
                            };
                            match outcome {
                                Ok(_) => return Ok(true),
                                Err(sark_db::Error::Db(_)) => {}
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                }),
            )
            .await?;
            self.check(
                &format!("keyed charges {workload}"),
                if grouped { "Ledger" } else { "sark-db" },
                expect,
            )
            .await?;
            rates.push((rate, kills));
        }
        for grouped in [false, true] {
            let before = self.events().await?;
            let (db, ledger) = (victim.clone(), ledger.clone());
            let ((rate, _), kills) = killed(
                &self.raw,
                run_plan(&plan, move |_, call| {
                    let (db, ledger) = (db.clone(), ledger.clone());
                    async move {
                        let event = NewAuditEvent {
                            id: Some(format!("kill-{grouped}-{call}")),
                            ..NewAuditEvent::new("tool_invoked")
                        };
                        let mut retried = false;
                        loop {
                            let outcome = if grouped {
                                ledger.append(&event).await
                            } else {
                                audit::append(&db, &event).await
                            };
                            match outcome {
                                Ok(_) => return Ok(true),
                                // Stored by a try whose answer was lost.
                                Err(sark_db::Error::Conflict(sark_db::Conflict::Exists { .. }))
                                    if retried =>
                                {
                                    return Ok(true);
                                }
                                Err(sark_db::Error::Db(_)) => retried = true,
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                }),
            )
            .await?;
            let stored = self.events().await? - before;
            if stored != calls {
                return Err(format!("appends {workload}: {stored} events stored for {calls} calls").into());
            }
            rates.push((rate, kills));
        }
        drop(ledger);
        victim.close().await?;
        let row = |what: &str, (alone, _): (f64, usize), (grouped, kills): (f64, usize)| {
            Row::new(format!("{what} {workload}, {kills} kills"), "calls/s", grouped)
                .against("unbatched", alone)
        };
        Ok(vec![
            row("keyed charges through the Ledger", rates[0], rates[1]),
            row("appends through the Ledger", rates[2], rates[3]),
        ])
    }

    /// How many audit events are stored.
    async fn events(&self) -> Res<i64> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_events").fetch_one(&self.raw).await?)
    }

    /// Loads `n` audit events over 30 days by `COPY` (10,000 rows at a time), then times one
    /// seal over all of them and one verification.
    async fn seal(&self, n: usize) -> Res<()> {
        let start = days_ago(31);
        let mut conn = self.raw.acquire().await?;
        let mut sink = conn
            .copy_in_raw(
                "COPY audit_events (id, \"timestamp\", event_type, correlation_id, details) FROM STDIN",
            )
            .await?;
        for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
            let mut rows = String::new();
            for &i in chunk {
                let at = start + time::Duration::milliseconds((i as i64) * 2_592_000_000 / n as i64);
                rows.push_str(&format!(
                    "seal-{i:08}\t{at}\ttool_invoked\treq-{}\t{{\"n\": {i}}}\n",
                    i % 10_000
                ));
            }
            sink.send(rows.as_bytes()).await?;
        }
        sink.finish().await?;
        drop(conn);
        let until = days_ago(1);
        let t = Instant::now();
        let seal = audit::seal(&self.sark, until).await?;
        let sealed = t.elapsed();
        let t = Instant::now();
        let report = audit::verify(&self.sark, start, until).await?;
        let verified = t.elapsed();
        if seal.event_count != n as i64 || !report.is_clean() {
            return Err(format!(
                "sealed {} of {n} events; verification clean: {}",
                seal.event_count,
                report.is_clean()
            )
            .into());
        }
        println!(
            "seal of {n} events: {:.1} s; verify: {:.1} s",
            sealed.as_secs_f64(),
            verified.as_secs_f64()
        );
        Ok(())
    }
}

/// Fails unless `charged` calls of `who` were charged, as the budgets allow.
fn expect_charged(workload: &str, who: &str, charged: u64, rows: i64) -> Res<()> {
    if charged as i64 == rows {
        Ok(())
    } else {
        Err(format!("{workload}, {who}: {charged} calls answered as charged, {rows} expected").into())
    }
}

/// The request as sark-db compares it for idempotency (its canonical form).
fn payload(p: usize) -> String {
    json!({
        "kind": "charge", "principal_id": principal(p), "resource_id": "r", "capability_id": "c",
        "estimated_micros": null, "actual_micros": AMOUNT, "metadata": {},
    })
    .to_string()
}

/// Binds the parameters sark-db binds for [`charge`]`(p)` (`enforce`: a charge; else a
/// record), stamped now.
fn bind_charge(
    q: Query<'_, Postgres, PgArguments>,
    p: usize,
    enforce: bool,
) -> Query<'_, Postgres, PgArguments> {
    let now = sark_db::timestamp::now();
    q.bind(principal(p))
        .bind(AMOUNT)
        .bind(Window::Daily.start(now))
        .bind(Window::Monthly.start(now))
        .bind(now)
        .bind(true)
        .bind(enforce)
        .bind(now)
        .bind("r")
        .bind("c")
        .bind(None::<i64>)
        .bind(Some(AMOUNT))
        .bind(Json(json!({})))
}

/// The keyed charge statement through sqlx: whether it charged (a replay does not).
async fn raw_keyed(pool: &PgPool, p: usize, key: &str) -> Res<bool> {
    let row = bind_charge(sqlx::query(PG_KEYED_CHARGE), p, true)
        .bind(key)
        .bind(payload(p))
        .bind(sark_db::timestamp::now())
        .fetch_optional(pool)
        .await?
        .ok_or("the keyed charge returned no row")?;
    Ok(sqlx::Row::try_get::<Option<String>, _>(&row, "payload")?.is_none())
}

/// A pgbench script running the library's charge statement (or, `keyed`, its keyed form with
/// a fresh key, one in ten sent twice) for a random principal below `principals`: the same
/// text with each parameter written in (instants as of now, fixed for the run).
fn charge_script(principals: usize, keyed: bool) -> String {
    let now = sark_db::timestamp::now();
    let instant = |t: OffsetDateTime| {
        format!("'{}'::timestamptz", t.format(&Rfc3339).expect("a representable instant"))
    };
    let mut params = vec![
        "('bench-' || CAST(:p AS text))".to_owned(),
        format!("{AMOUNT}::int8"),
        instant(Window::Daily.start(now)),
        instant(Window::Monthly.start(now)),
        instant(now),
        "true".into(),
        "true".into(),
        instant(now),
        "'r'".into(),
        "'c'".into(),
        "NULL::int8".into(),
        format!("{AMOUNT}::int8"),
        "'{}'::jsonb".into(),
    ];
    let sql = if keyed {
        // pgbench would take `:name` inside the literal for a variable: `~` stands for `:`.
        let template = payload(0).replace(':', "~");
        let (before, after) = template.split_once("bench-0").expect("the payload names the principal");
        params.push("('k-' || CAST(:client_id AS text) || '-' || CAST(:k AS text))".into());
        params.push(format!("translate('{before}bench-' || CAST(:p AS text) || '{after}', '~', ':')"));
        params.push(instant(now));
        PG_KEYED_CHARGE
    } else {
        PG_CHARGE
    };
    // pgbench ends a command at `;`, also inside a comment: drop the comments.
    let mut text: String =
        sql.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    for (i, value) in params.iter().enumerate().rev() {
        text = text.replace(&format!("${}", i + 1), value);
    }
    let head = format!("\\set p random(0, {})\n", principals - 1);
    if keyed {
        format!(
            "{head}\\set k random(1, 1000000000000)\n\\set r random(0, 9)\n{text};\n\\if :r = 0\n{text};\n\\endif\n"
        )
    } else {
        format!("{head}{text};\n")
    }
}

/// The application name of the connections the `kills` workload kills.
const KILLED: &str = "sark_bench_killed";

/// Runs `work` while, on `pool`, the connections named [`KILLED`] are terminated every 20–60
/// ms; its result and how many connections were killed.
async fn killed<T>(pool: &PgPool, work: impl Future<Output = Res<T>>) -> Res<(T, usize)> {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (stop, pool) = (done.clone(), pool.clone());
    let killer = tokio::spawn(async move {
        let mut kills = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1";
            kills += sqlx::query(sql).bind(KILLED).fetch_all(&pool).await?.len();
            tokio::time::sleep(Duration::from_millis(fastrand::u64(20..60))).await;
        }
        Ok::<_, sqlx::Error>(kills)
    });
    let result = work.await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let kills = killer.await??;
    Ok((result?, kills))
}

fn days_ago(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::days(days)
}

/// `n` costs for `principals` principals spread evenly over the last 30 days.
fn ledger(n: usize, principals: usize) -> Vec<NewCost> {
    let span = 30 * 24 * 3600 * 1_000_000i64;
    (0..n)
        .map(|i| {
            charge(i % principals).at(days_ago(30) + time::Duration::microseconds(span / n as i64 * i as i64))
        })
        .collect()
}
