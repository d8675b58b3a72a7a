//! A caller's own write transaction, composing several calls, under concurrency.

use crate::common;

use rust_decimal::dec;
use sark_db::audit::{self, NewAuditEvent};
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::{self, NewCost};
use sark_db::ledger::summaries::{self, CostFilter};
use sark_db::{Conn, Server};

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

    async fn a_transaction_opened_inside_one_is_a_savepoint(db: &Db) {
        let outer = db.begin_write().await.unwrap();
        audit::append(&outer, &NewAuditEvent::new("kept")).await.unwrap();
        let inner = outer.begin_write().await.unwrap();
        audit::append(&inner, &NewAuditEvent::new("undone")).await.unwrap();
        inner.rollback().await.unwrap();
        let again = outer.begin_write().await.unwrap();
        audit::append(&again, &NewAuditEvent::new("released")).await.unwrap();
        again.commit().await.unwrap();
        outer.commit().await.unwrap();
        let kinds = common::strings(db, "SELECT event_type FROM audit_events ORDER BY event_type").await;
        assert_eq!(kinds, ["kept", "released"]);
    }

    async fn the_handle_knows_its_server_and_its_transactions_inherit_it_and_its_clock(db: &Db) {
        let citus = common::is_pg(db)
            && common::scalar(db, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'").await > 0;
        let expected = match (common::is_pg(db), citus) {
            (false, _) => Server::Sqlite,
            (true, false) => Server::Postgres,
            (true, true) => Server::Citus,
        };
        assert_eq!(db.server(), expected);
        let fixed = db.with_clock(common::CLOCK);
        assert_eq!(*fixed.clock(), common::CLOCK);
        assert_ne!(*db.clock(), common::CLOCK, "the handle it was made from keeps its own clock");
        let tx = fixed.begin_write().await.unwrap();
        assert_eq!((tx.server(), *tx.clock()), (expected, common::CLOCK));
        tx.rollback().await.unwrap();
    }
}
