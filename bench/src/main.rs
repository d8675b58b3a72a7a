//! `cargo run --release -p sark-bench`: sark-db against baselines that run the library's own
//! statements, on one PostgreSQL and on a SQLite file.
//!
//! Every baseline runs the statement text sark-db runs (`sark_db::ledger::statements`) with
//! the same parameters — through sqlx, and through `pgbench` with the parameters written in —
//! so a ratio measures the library's overhead and nothing else. After every workload, for
//! sark-db and for each baseline, the ledger's rows and sums, the budget counters and the
//! idempotency keys are checked against what the workload must have produced; the run fails
//! loudly when one differs. Prints one table of figures and ratios.

mod check;
mod pg;
mod sqlite;
mod table;

use clap::Parser;
use rust_decimal::Decimal;
use sark_db::Db;
use sark_db::ledger::costs::{self, NewCost};
use sark_db::ledger::{GroupCommit, Ledger};
use std::error::Error;
use std::time::Duration;

/// Command-line flags; the defaults keep a full run at a few minutes.
#[derive(Parser, Debug, Clone)]
pub struct Args {
    /// Admin URL of the PostgreSQL server; the benchmark creates and drops its own database.
    #[arg(long, env = "SARK_BENCH_PG", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg: String,
    /// An existing, empty database to run in instead of a new one on `--pg` (a database
    /// prepared on a Citus coordinator, say); the run migrates it and leaves its rows there.
    #[arg(long)]
    database: Option<String>,
    /// Sequential charges (each backend).
    #[arg(long, default_value_t = 2_000)]
    sequential: usize,
    /// Charges in each concurrent workload.
    #[arg(long, default_value_t = 10_000)]
    concurrent: usize,
    /// Concurrent tasks (and pgbench clients) on PostgreSQL.
    #[arg(long, default_value_t = 32)]
    tasks: usize,
    /// Concurrent tasks on SQLite.
    #[arg(long, default_value_t = 16)]
    sqlite_tasks: usize,
    /// Principals in the spread, keyed, tight and mixed workloads and in the bulk ledger.
    #[arg(long, default_value_t = 100)]
    principals: usize,
    /// Rows in the bulk ingest.
    #[arg(long, default_value_t = 200_000)]
    rows: usize,
    /// Summary calls.
    #[arg(long, default_value_t = 200)]
    summaries: usize,
    /// Audit events appended by one `append_many` call.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Lanes of the benchmark's `Ledger` (`GroupCommit::lanes`).
    #[arg(long, default_value_t = GroupCommit::default().lanes)]
    lanes: usize,
    /// Only these workloads (comma-separated): sequential, hot, spread, keyed, tight, mixed,
    /// bulk, summary, audit, appends, governed, kills, sqlite.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Run on plain tables: roll back every migration after 15 first (the partitions, and with
    /// them the retention log, the seals and the sealed-range check), to compare a run on
    /// partitioned tables with one on plain tables.
    #[arg(long, conflicts_with = "seal")]
    plain: bool,
    /// Only time `audit::seal` and `audit::verify` over this many events (loaded by `COPY`);
    /// run under `/usr/bin/time -v` for the peak memory.
    #[arg(long)]
    seal: Option<usize>,
}

impl Args {
    /// Whether the workload `name` is to run.
    fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

/// The amount every benchmark charge costs, in micro-units (0.01).
pub const AMOUNT: i64 = 10_000;

/// The result type of the benchmark's steps.
pub type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Res<()> {
    let args = Args::parse();
    let mut rows = Vec::new();
    if args.seal.is_some() || args.only.iter().any(|o| o != "sqlite") || args.only.is_empty() {
        rows.extend(pg::run(&args).await?);
    }
    if args.seal.is_none() && args.runs("sqlite") {
        rows.extend(sqlite::run(&args).await?);
    }
    table::print(&rows);
    println!(
        "\nEvery workload above was checked after its run, for sark-db and for each baseline: ledger rows and sums, \
         budget counters against the ledger, idempotency keys, and no principal over its limit."
    );
    Ok(())
}

/// Who makes a workload's charges: sark-db's `costs::charge` on its own, or a `Ledger`.
#[derive(Clone)]
pub enum Charger {
    Alone(Db),
    Grouped(Ledger),
}

impl Charger {
    /// Charges [`charge`]`(p)` for every principal `p` of `plan`: calls per second and how
    /// many were charged (a budget refusal is an answer, not an error).
    pub async fn run(&self, plan: &[Vec<usize>]) -> Res<(f64, u64)> {
        let charger = self.clone();
        run_plan(plan, move |p, _| {
            let charger = charger.clone();
            async move {
                let outcome = match &charger {
                    Charger::Alone(db) => costs::charge(db, &charge(p)).await,
                    Charger::Grouped(ledger) => ledger.charge(&charge(p)).await,
                };
                match outcome {
                    Ok(_) => Ok(true),
                    Err(sark_db::Error::BudgetExceeded { .. }) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            }
        })
        .await
    }
}

/// The benchmark's charge for principal `p`, stamped now.
pub fn charge(p: usize) -> NewCost {
    NewCost::new(principal(p), "r", "c").actual(Decimal::new(AMOUNT, 6))
}

/// The benchmark's name for principal `p`.
pub fn principal(p: usize) -> String {
    format!("bench-{p}")
}

/// For each of `tasks` tasks, the principals of its `per_task` calls, drawn from a seeded
/// generator so that a run's calls are known before it starts.
pub fn plan(tasks: usize, per_task: usize, principals: usize) -> Vec<Vec<usize>> {
    (0..tasks)
        .map(|t| {
            let mut rng = fastrand::Rng::with_seed(t as u64);
            (0..per_task).map(|_| rng.usize(..principals)).collect()
        })
        .collect()
}

/// How many calls of `plan` go to each principal below `principals`.
pub fn attempts(plan: &[Vec<usize>], principals: usize) -> Vec<i64> {
    let mut n = vec![0; principals];
    for p in plan.iter().flatten() {
        n[*p] += 1;
    }
    n
}

/// Runs one task per entry of `plan`, each making its calls of `call` in order; returns the
/// calls per second and how many calls applied (`call` answers whether its call did).
pub async fn run_plan<F, Fut>(plan: &[Vec<usize>], call: F) -> Res<(f64, u64)>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Res<bool>> + Send,
{
    let start = std::time::Instant::now();
    let handles: Vec<_> = plan
        .iter()
        .cloned()
        .enumerate()
        .map(|(task, principals)| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut applied = 0u64;
                for (i, p) in principals.into_iter().enumerate() {
                    applied += u64::from(call(p, task * 1_000_000 + i).await?);
                }
                Ok::<_, Box<dyn Error + Send + Sync>>(applied)
            })
        })
        .collect();
    let mut applied = 0;
    for h in handles {
        applied += h.await??;
    }
    let calls: usize = plan.iter().map(Vec::len).sum();
    Ok((calls as f64 / start.elapsed().as_secs_f64(), applied))
}

/// A raw sqlx pool that pings a connection before use only as sark-db's pool does: when it
/// has been idle at least [`sark_db::PoolOptions::ping_after_idle`].
pub fn pings_like_sark<DB: sea_orm::sqlx::Database>(
    options: sea_orm::sqlx::pool::PoolOptions<DB>,
) -> sea_orm::sqlx::pool::PoolOptions<DB> {
    use sea_orm::sqlx::Connection;
    let threshold = sark_db::PoolOptions::default().ping_after_idle;
    options.test_before_acquire(false).before_acquire(move |conn, meta| {
        Box::pin(async move {
            if meta.idle_for >= threshold {
                conn.ping().await?;
            }
            Ok(true)
        })
    })
}

/// The `p`-th percentile of `samples`.
pub fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort_unstable();
    samples[(samples.len() * p / 100).min(samples.len() - 1)]
}

/// `d` in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}
