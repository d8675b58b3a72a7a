//! A caller's own write transaction, composing several calls, under concurrency.

mod common;

use rust_decimal::dec;
use sark_db::Conn;
use sark_db::audit::{self, NewAuditEvent};
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::{self, NewCost};
use sark_db::ledger::summaries::{self, CostFilter};

const TASKS: usize = 8;
const RUNS: usize = 25;

on_all! {
    async fn concurrent_read_then_write_transactions_all_commit(db: &Db) {
        let limits = Limits { daily: Some(dec!(1000)), monthly: Some(dec!(1000)), currency: "USD".into() };
        budgets::set_limits(db, "ann", &limits).await.unwrap();
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut failures = Vec::new();
                    for run in 0..RUNS {
                        // Reads first, then writes: a deferred SQLite transaction could not
                        // upgrade to a writer while another one holds the lock.
                        let work = async {
                            let txn = db.begin_write().await?;
                            budgets::status(&txn, "ann", time::OffsetDateTime::now_utc()).await?;
                            costs::charge(&txn, &NewCost::new("ann", "r", "c").actual(dec!(0.01))).await?;
                            audit::append(&txn, &NewAuditEvent::new(format!("charged {task}/{run}"))).await?;
                            txn.commit().await?;
                            sark_db::Result::Ok(())
                        };
                        let outcome: sark_db::Result<()> = work.await;
                        if let Err(e) = outcome {
                            failures.push(e.to_string());
                        }
                    }
                    failures
                })
            })
            .collect();
        let mut failures = Vec::new();
        for task in tasks {
            failures.extend(task.await.unwrap());
        }
        assert!(failures.is_empty(), "{} of {} failed: {:?}", failures.len(), TASKS * RUNS, &failures[..failures.len().min(3)]);
        let total = summaries::total(db, &CostFilter::default()).await.unwrap();
        assert_eq!((total.count, total.amount), ((TASKS * RUNS) as i64, dec!(2.00)));
        let status = budgets::status(db, "ann", time::OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(status.daily.spent, dec!(2.00), "every charge counted once");
        assert_eq!(common::scalar(db, "SELECT count(*) FROM audit_events").await, (TASKS * RUNS) as i64);
    }
}
