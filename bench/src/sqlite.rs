//! The embedded default: charges on a SQLite file, sark-db against raw sqlx running the same
//! statements in the same `BEGIN IMMEDIATE` transaction, with the library's pool settings.

use crate::check::{self, Expect};
use crate::table::Row;
use crate::{AMOUNT, Args, Charger, Res, charge, ms, percentile, pings_like_sark, plan, principal, run_plan};
use sark_db::Db;
use sark_db::Window;
use sark_db::ledger::statements::SPEND;
use sark_db::ledger::{GroupCommit, Ledger};
use sea_orm::ConnectionTrait;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sea_orm::sqlx::{self, SqlitePool};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::macros::format_description;

/// The cost row of a charge, as sark-db inserts it after [`SPEND`] on SQLite.
const INSERT_COST: &str = r#"INSERT INTO "cost_tracking" ("timestamp", "principal_id", "resource_id", "capability_id", "estimated_cost_micros", "actual_cost_micros", "metadata") VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING "id""#;

/// The sequential and concurrent charge workloads on a fresh SQLite file.
pub async fn run(args: &Args) -> Res<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.db");
    let sark = sark_db::connect(&format!("sqlite://{}?mode=rwc", path.display())).await?;
    sark_db::migrate(&sark).await?;
    let raw = pings_like_sark(SqlitePoolOptions::new())
        .max_connections(sark_db::PoolOptions::default().max_connections.unwrap_or(4))
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30)),
        )
        .await?;
    let ledger = Ledger::new(sark.clone(), GroupCommit::default());
    let bench = Sqlite { sark, raw, ledger };
    let n = args.sequential;
    let tasks = args.sqlite_tasks;
    let mut rows = bench.sequential(n).await?;
    rows.extend(bench.concurrent(args.concurrent / tasks, tasks).await?);
    bench.raw.close().await;
    Ok(rows)
}

struct Sqlite {
    sark: Db,
    raw: SqlitePool,
    ledger: Ledger,
}

impl Sqlite {
    async fn reset(&self) -> Res<()> {
        for table in ["cost_tracking", "principal_budgets", "cost_idempotency_keys"] {
            self.sark.execute_unprepared(&format!("DELETE FROM {table}")).await?;
        }
        Ok(())
    }

    async fn sequential(&self, n: usize) -> Res<Vec<Row>> {
        let workload = format!("SQLite: sequential charge, N={n}");
        let mut lat = [Vec::with_capacity(n), Vec::with_capacity(n)];
        let mut rates = [0.0; 2];
        for (who, (lat, rate)) in ["sark-db", "sqlx"].into_iter().zip(lat.iter_mut().zip(&mut rates)) {
            self.reset().await?;
            let start = Instant::now();
            for _ in 0..n {
                let t = Instant::now();
                if who == "sark-db" {
                    sark_db::ledger::costs::charge(&self.sark, &charge(0)).await?;
                } else {
                    raw_charge(&self.raw, 0).await?;
                }
                lat.push(t.elapsed());
            }
            *rate = n as f64 / start.elapsed().as_secs_f64();
            check::ledger(&self.sark, &workload, who, Expect::rows(n as i64)).await?;
        }
        let [sark, raw] = &mut lat;
        Ok(vec![
            Row::new(workload, "charges/s", rates[0]).against("sqlx", rates[1]),
            Row::new("  SQLite latency p50", "ms", ms(percentile(sark, 50)))
                .against("sqlx", ms(percentile(raw, 50))),
        ])
    }

    /// `tasks` tasks charging 10 principals; any error (`database is locked` included) fails
    /// the run.
    async fn concurrent(&self, per_task: usize, tasks: usize) -> Res<Vec<Row>> {
        let plan = plan(tasks, per_task, 10);
        let expect = Expect::rows((per_task * tasks) as i64);
        let workload = format!("SQLite: {tasks} tasks, 10 principals, N={}", expect.rows);

        self.reset().await?;
        let (sark, _) = Charger::Alone(self.sark.clone()).run(&plan).await?;
        check::ledger(&self.sark, &workload, "sark-db", expect).await?;

        self.reset().await?;
        let (grouped, _) = Charger::Grouped(self.ledger.clone()).run(&plan).await?;
        check::ledger(&self.sark, &workload, "sark-db Ledger", expect).await?;

        self.reset().await?;
        let pool = self.raw.clone();
        let (raw, _) = run_plan(&plan, move |p, _| {
            let pool = pool.clone();
            async move { raw_charge(&pool, p).await.map(|()| true) }
        })
        .await?;
        check::ledger(&self.sark, &workload, "sqlx", expect).await?;
        Ok(vec![
            Row::new(workload, "charges/s", sark).against("sqlx", raw),
            Row::new(format!("SQLite: {tasks} tasks through the Ledger"), "charges/s", grouped)
                .against("sqlx", raw),
        ])
    }
}

/// A charge as sark-db runs it on SQLite: `BEGIN IMMEDIATE`, the spend, the cost row, `COMMIT`,
/// with instants bound in the stored text form.
async fn raw_charge(pool: &SqlitePool, p: usize) -> Res<()> {
    let now = sark_db::timestamp::now();
    let mut txn = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(SPEND)
        .bind(principal(p))
        .bind(AMOUNT)
        .bind(stored(Window::Daily.start(now)))
        .bind(stored(Window::Monthly.start(now)))
        .bind(stored(now))
        .bind(true)
        .bind(true)
        .fetch_one(&mut *txn)
        .await?;
    sqlx::query(INSERT_COST)
        .bind(stored(now))
        .bind(principal(p))
        .bind("r")
        .bind("c")
        .bind(None::<i64>)
        .bind(AMOUNT)
        .bind("{}")
        .fetch_one(&mut *txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// `t` in SQLite's stored form, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
fn stored(t: OffsetDateTime) -> String {
    let form = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.format(form).expect("an instant after the year 0")
}
