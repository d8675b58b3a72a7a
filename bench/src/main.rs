//! `cargo run --release -p sark-bench`: sark-db against driver-level baselines on one PostgreSQL.
//!
//! Each workload runs for sark-db and for a baseline in the same run, on the same database:
//! the same semantics in the fewest round trips via sqlx, and for the charge workloads also
//! `pgbench` running the minimal one-statement charge. Prints one table of figures and ratios.

use clap::Parser;
use rust_decimal::Decimal;
use sark_db::audit::{self, NewAuditEvent};
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::{self, NewCost};
use sark_db::ledger::summaries::{self, CostFilter};
use sea_orm::sqlx::{self, PgPool, postgres::PgPoolOptions};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use std::error::Error;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Command-line flags; every size has a default that keeps a full run under five minutes.
#[derive(Parser, Debug)]
struct Args {
    /// Admin URL of the PostgreSQL server; the benchmark creates and drops its own database.
    #[arg(long, env = "SARK_BENCH_PG", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg: String,
    /// Sequential charges.
    #[arg(long, default_value_t = 5_000)]
    sequential: usize,
    /// Charges in each concurrent workload (hot and spread).
    #[arg(long, default_value_t = 10_000)]
    concurrent: usize,
    /// Concurrent tasks (and pgbench clients).
    #[arg(long, default_value_t = 32)]
    tasks: usize,
    /// Principals in the spread workload and in the bulk ledger.
    #[arg(long, default_value_t = 100)]
    principals: usize,
    /// Rows in the bulk ingest.
    #[arg(long, default_value_t = 200_000)]
    rows: usize,
    /// Summary calls.
    #[arg(long, default_value_t = 200)]
    summaries: usize,
    /// Audit events appended in batches.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Run on plain tables: roll back the migrations after 15 first, to compare a run on
    /// partitioned tables with one on plain tables.
    #[arg(long)]
    plain: bool,
    /// Only time `audit::seal` and `audit::verify` over this many events (loaded by `COPY`);
    /// run under `/usr/bin/time -v` for the peak memory.
    #[arg(long)]
    seal: Option<usize>,
}

/// The amount every benchmark charge costs, in micro-units (0.01).
const AMOUNT_MICROS: i64 = 10_000;

/// The minimal charge against the driver: add to both windows if both limits hold and insert
/// the cost row, in one statement (`$1` principal, `$2` amount).
const MINIMAL_CHARGE: &str = "WITH b AS (UPDATE principal_budgets SET daily_spent_micros = daily_spent_micros + $2, \
    monthly_spent_micros = monthly_spent_micros + $2 WHERE principal_id = $1 \
    AND (daily_budget_micros IS NULL OR daily_spent_micros + $2 <= daily_budget_micros) \
    AND (monthly_budget_micros IS NULL OR monthly_spent_micros + $2 <= monthly_budget_micros) RETURNING principal_id) \
    INSERT INTO cost_tracking (\"timestamp\", principal_id, resource_id, capability_id, actual_cost_micros) \
    SELECT now(), principal_id, 'r', 'c', $2 FROM b";

/// A row of the result table.
struct Row {
    workload: String,
    sark: f64,
    baseline: f64,
    baseline_name: &'static str,
    pgbench: Option<f64>,
    unit: &'static str,
}

struct Bench {
    args: Args,
    url: String,
    sark: DatabaseConnection,
    raw: PgPool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let name = format!("sark_bench_{}", std::process::id());
    let admin = sark_db::connect(&args.pg).await?;
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
    let url = format!("{}/{name}", args.pg.rsplit_once('/').map_or(args.pg.as_str(), |(server, _)| server));
    let pool = args.tasks as u32;
    let sark =
        Database::connect(ConnectOptions::new(&url).max_connections(pool).sqlx_logging(false).to_owned())
            .await?;
    sark_db::migrate(&sark).await?;
    if args.plain {
        use sark_db::MigratorTrait;
        sark_db::Migrator::down(&sark, Some(3)).await?;
    }
    let raw = PgPoolOptions::new().max_connections(pool).connect(&url).await?;
    let bench = Bench { args, url, sark, raw };
    let result = match bench.args.seal {
        Some(n) => bench.seal(n).await,
        None => bench.run().await,
    };
    bench.sark.close().await?;
    bench.raw.close().await;
    admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await?;
    let rows = result?;
    print_table(&rows);
    Ok(())
}

impl Bench {
    async fn run(&self) -> Result<Vec<Row>, Box<dyn Error>> {
        let mut rows = Vec::new();
        rows.extend(self.sequential().await?);
        rows.push(self.concurrent("hot principal", 1).await?);
        rows.push(self.concurrent("spread", self.args.principals).await?);
        rows.push(self.bulk().await?);
        rows.extend(self.summary().await?);
        rows.push(self.audit().await?);
        Ok(rows)
    }

    /// Empties the ledger and gives `n` principals a large budget.
    async fn reset(&self, n: usize) -> Result<(), Box<dyn Error>> {
        self.sark
            .execute_unprepared(
                "TRUNCATE cost_tracking, principal_budgets, cost_idempotency_keys RESTART IDENTITY",
            )
            .await?;
        let limits = Limits {
            daily: Some(Decimal::from(1_000_000)),
            monthly: Some(Decimal::from(10_000_000)),
            currency: "USD".into(),
        };
        for p in 0..n {
            budgets::set_limits(&self.sark, &principal(p), &limits).await?;
        }
        self.sark.execute_unprepared("VACUUM ANALYZE cost_tracking").await?;
        self.sark.execute_unprepared("VACUUM ANALYZE principal_budgets").await?;
        Ok(())
    }

    async fn sequential(&self) -> Result<Vec<Row>, Box<dyn Error>> {
        let n = self.args.sequential;
        self.reset(1).await?;
        let mut sark_lat = Vec::with_capacity(n);
        let start = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            costs::charge(&self.sark, &charge(0)).await?;
            sark_lat.push(t.elapsed());
        }
        let sark_rate = n as f64 / start.elapsed().as_secs_f64();
        self.check_invariant(1).await?;

        self.reset(1).await?;
        let mut raw_lat = Vec::with_capacity(n);
        let start = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            sqlx::query(MINIMAL_CHARGE).bind(principal(0)).bind(AMOUNT_MICROS).execute(&self.raw).await?;
            raw_lat.push(t.elapsed());
        }
        let raw_rate = n as f64 / start.elapsed().as_secs_f64();

        self.reset(1).await?;
        let pgbench = self.pgbench(1, 1, n)?;
        let (p50, p99) = (percentile(&mut sark_lat, 50), percentile(&mut sark_lat, 99));
        let (b50, b99) = (percentile(&mut raw_lat, 50), percentile(&mut raw_lat, 99));
        Ok(vec![
            Row {
                workload: format!("sequential charge, N={n}"),
                sark: sark_rate,
                baseline: raw_rate,
                baseline_name: "sqlx",
                pgbench: Some(pgbench),
                unit: "charges/s",
            },
            Row {
                workload: "  latency p50".into(),
                sark: ms(p50),
                baseline: ms(b50),
                baseline_name: "sqlx",
                pgbench: None,
                unit: "ms",
            },
            Row {
                workload: "  latency p99".into(),
                sark: ms(p99),
                baseline: ms(b99),
                baseline_name: "sqlx",
                pgbench: None,
                unit: "ms",
            },
        ])
    }

    /// `tasks` tasks charging `principals` principals at random, `concurrent` charges in all.
    async fn concurrent(&self, label: &str, principals: usize) -> Result<Row, Box<dyn Error>> {
        let (n, tasks) = (self.args.concurrent, self.args.tasks);
        self.reset(principals).await?;
        let db = self.sark.clone();
        let sark_rate = run_tasks(tasks, n / tasks, principals, move |p| {
            let db = db.clone();
            async move { costs::charge(&db, &charge(p)).await.map(drop) }
        })
        .await?;
        self.check_invariant(principals).await?;

        self.reset(principals).await?;
        let pool = self.raw.clone();
        let raw_rate = run_tasks(tasks, n / tasks, principals, move |p| {
            let pool = pool.clone();
            async move {
                sqlx::query(MINIMAL_CHARGE)
                    .bind(principal(p))
                    .bind(AMOUNT_MICROS)
                    .execute(&pool)
                    .await
                    .map(drop)
            }
        })
        .await?;

        self.reset(principals).await?;
        let pgbench = self.pgbench(tasks, principals, n)?;
        Ok(Row {
            workload: format!("{label}: {tasks} tasks, {principals} principal(s), N={n}"),
            sark: sark_rate,
            baseline: raw_rate,
            baseline_name: "sqlx",
            pgbench: Some(pgbench),
            unit: "charges/s",
        })
    }

    /// Spent never exceeds a limit, and every budget equals its ledger sum.
    async fn check_invariant(&self, principals: usize) -> Result<(), Box<dyn Error>> {
        let now = OffsetDateTime::now_utc();
        let drift = budgets::reconcile(&self.sark, now - time::Duration::days(1), now).await?;
        if !drift.is_empty() {
            return Err(format!("budgets disagree with the ledger: {drift:?}").into());
        }
        for p in 0..principals {
            let status = budgets::status(&self.sark, &principal(p), OffsetDateTime::now_utc()).await?;
            if status.daily.limit.is_some_and(|l| status.daily.spent > l) {
                return Err(format!("{} overspent", principal(p)).into());
            }
        }
        Ok(())
    }

    /// Runs pgbench with the minimal charge and returns its transactions per second.
    fn pgbench(&self, clients: usize, principals: usize, n: usize) -> Result<f64, Box<dyn Error>> {
        let dir = tempfile::tempdir()?;
        let script = dir.path().join("charge.sql");
        let sql = MINIMAL_CHARGE.replace("$1", "'bench-' || :p").replace("$2", &AMOUNT_MICROS.to_string());
        std::fs::write(&script, format!("\\set p random(0, {})\n{sql};\n", principals - 1))?;
        let out = std::process::Command::new("pgbench")
            .args(["-n", "-f"])
            .arg(&script)
            .args(["-c", &clients.to_string(), "-j", "2", "-t", &(n / clients).to_string(), &self.url])
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("tps = ").and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            })
            .ok_or_else(|| format!("pgbench failed: {stdout}{}", String::from_utf8_lossy(&out.stderr)).into())
    }

    async fn bulk(&self) -> Result<Row, Box<dyn Error>> {
        let n = self.args.rows;
        let rows = ledger(n, self.args.principals);
        self.reset(0).await?;
        let mut copy = String::new();
        for c in &rows {
            copy.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{{}}\n",
                c.timestamp, c.principal_id, c.resource_id, c.capability_id, AMOUNT_MICROS
            ));
        }
        let start = Instant::now();
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

        self.reset(0).await?;
        let start = Instant::now();
        costs::record_many(&self.sark, &rows).await?;
        let sark_rate = n as f64 / start.elapsed().as_secs_f64();
        Ok(Row {
            workload: format!("bulk ingest, {n} rows, {} principals, 30 days", self.args.principals),
            sark: sark_rate,
            baseline: copy_rate,
            baseline_name: "COPY",
            pgbench: None,
            unit: "rows/s",
        })
    }

    /// Runs after [`Bench::bulk`], which leaves its rows in the ledger.
    async fn summary(&self) -> Result<Vec<Row>, Box<dyn Error>> {
        self.sark.execute_unprepared("VACUUM ANALYZE cost_tracking").await?;
        let (from, to) = (days_ago(30), OffsetDateTime::now_utc());
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut sark_lat, mut raw_lat) = (Vec::new(), Vec::new());
        for _ in 0..self.args.summaries {
            let p = principal(rng.usize(..self.args.principals));
            let filter = CostFilter {
                principal_id: Some(p.clone()),
                from: Some(from),
                to: Some(to),
                ..Default::default()
            };
            let t = Instant::now();
            summaries::total(&self.sark, &filter).await?;
            sark_lat.push(t.elapsed());
            let t = Instant::now();
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT CAST(COALESCE(SUM(COALESCE(actual_cost_micros, estimated_cost_micros)), 0) AS BIGINT), COUNT(*) \
                 FROM cost_tracking WHERE principal_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3",
            )
            .bind(p)
            .bind(from)
            .bind(to)
            .fetch_one(&self.raw)
            .await?;
            raw_lat.push(t.elapsed());
        }
        Ok(vec![
            Row {
                workload: format!("summary p50 ({} calls, {} rows)", self.args.summaries, self.args.rows),
                sark: ms(percentile(&mut sark_lat, 50)),
                baseline: ms(percentile(&mut raw_lat, 50)),
                baseline_name: "sqlx",
                pgbench: None,
                unit: "ms",
            },
            Row {
                workload: "summary p99".into(),
                sark: ms(percentile(&mut sark_lat, 99)),
                baseline: ms(percentile(&mut raw_lat, 99)),
                baseline_name: "sqlx",
                pgbench: None,
                unit: "ms",
            },
        ])
    }
}

impl Bench {
    /// Loads `n` audit events over 30 days by `COPY` (10,000 rows at a time), then times one
    /// seal over all of them and one verification.
    async fn seal(&self, n: usize) -> Result<Vec<Row>, Box<dyn Error>> {
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
        Ok(Vec::new())
    }

    /// Audit events appended by `append_many` in batches of 1,000, against `COPY` of the same
    /// rows (the log is append-only, so the two runs go to two time ranges).
    async fn audit(&self) -> Result<Row, Box<dyn Error>> {
        let n = self.args.events;
        let now = OffsetDateTime::now_utc();
        let events: Vec<NewAuditEvent> = (0..n)
            .map(|i| NewAuditEvent {
                timestamp: now - time::Duration::milliseconds((n - i) as i64),
                correlation_id: Some(format!("req-{}", i % 10_000)),
                ..NewAuditEvent::new("tool_invoked")
            })
            .collect();
        let start = Instant::now();
        for batch in events.chunks(1_000) {
            audit::append_many(&self.sark, batch).await?;
        }
        let sark_rate = n as f64 / start.elapsed().as_secs_f64();

        let mut copy = String::new();
        for (i, e) in events.iter().enumerate() {
            copy.push_str(&format!(
                "copy-{i}\t{}\ttool_invoked\t{}\n",
                e.timestamp,
                e.correlation_id.as_deref().unwrap_or("")
            ));
        }
        let start = Instant::now();
        let mut conn = self.raw.acquire().await?;
        let mut sink = conn
            .copy_in_raw("COPY audit_events (id, \"timestamp\", event_type, correlation_id) FROM STDIN")
            .await?;
        sink.send(copy.as_bytes()).await?;
        sink.finish().await?;
        let copy_rate = n as f64 / start.elapsed().as_secs_f64();
        let stored =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_events").fetch_one(&self.raw).await?;
        if stored != 2 * n as i64 {
            return Err(format!("audit events: {stored} stored, {} appended", 2 * n).into());
        }
        Ok(Row {
            workload: format!("audit append_many, {n} events in batches of 1000"),
            sark: sark_rate,
            baseline: copy_rate,
            baseline_name: "COPY",
            pgbench: None,
            unit: "events/s",
        })
    }
}

/// Runs `tasks` tasks that each make `per_task` calls of `call` with a random principal below
/// `principals`, and returns the calls per second.
async fn run_tasks<F, Fut, E>(
    tasks: usize,
    per_task: usize,
    principals: usize,
    call: F,
) -> Result<f64, Box<dyn Error>>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Error + Send + Sync + 'static,
{
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(t as u64);
                for _ in 0..per_task {
                    call(rng.usize(..principals)).await?;
                }
                Ok::<_, E>(())
            })
        })
        .collect();
    for h in handles {
        h.await??;
    }
    Ok((tasks * per_task) as f64 / start.elapsed().as_secs_f64())
}

fn principal(p: usize) -> String {
    format!("bench-{p}")
}

fn charge(p: usize) -> NewCost {
    NewCost::new(principal(p), "r", "c").actual(rust_decimal::Decimal::new(AMOUNT_MICROS, 6))
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

fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort_unstable();
    samples[(samples.len() * p / 100).min(samples.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn print_table(rows: &[Row]) {
    println!("| workload | unit | sark-db | baseline | sark-db / baseline | pgbench | sark-db / pgbench |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let (pg, pg_ratio) = match r.pgbench {
            Some(p) => (format!("{p:.0}"), format!("{:.2}", r.sark / p)),
            None => ("".into(), "".into()),
        };
        let prec = if r.unit == "ms" { 3 } else { 0 };
        println!(
            "| {} | {} | {:.prec$} | {:.prec$} ({}) | {:.2} | {pg} | {pg_ratio} |",
            r.workload,
            r.unit,
            r.sark,
            r.baseline,
            r.baseline_name,
            r.sark / r.baseline
        );
    }
}
