//! Budgets: limits, windows, status, and charging under concurrency.

use crate::common;

use common::{CLOCK, scalar};
use rust_decimal::{Decimal, dec};
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::{self, NewCost};
use sark_db::{Conn, Db, Server};
use sark_db::{Error, Window};
use time::OffsetDateTime;
use time::macros::datetime;

fn limits(daily: Option<Decimal>, monthly: Option<Decimal>) -> Limits {
    Limits { daily, monthly, currency: "USD".into() }
}

fn cost(principal: &str, amount: Decimal, at: OffsetDateTime) -> NewCost {
    NewCost::new(principal, "res", "cap").actual(amount).at(at)
}

/// The ledger sum for `principal`, exact, via SQL.
async fn ledger_micros(db: &Db, principal: &str) -> i64 {
    scalar(
        db,
        &format!(
            "SELECT CAST(COALESCE(SUM(COALESCE(actual_cost_micros, estimated_cost_micros)), 0) AS BIGINT) \
             FROM cost_tracking WHERE principal_id = '{principal}'"
        ),
    )
    .await
}

/// Runs `tasks` × `per_task` charges of `amount` for `principal` at `at` concurrently and
/// returns how many succeeded; every failure must be `BudgetExceeded`.
async fn hammer(db: &Db, principal: &str, tasks: usize, per_task: usize, amount: Decimal) -> usize {
    let at = datetime!(2026-11-28 12:00 UTC);
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let db = db.clone();
            let principal = principal.to_owned();
            tokio::spawn(async move {
                let mut ok = 0;
                for _ in 0..per_task {
                    match costs::charge(&db.with_clock(CLOCK), &cost(&principal, amount, at)).await {
                        Ok(_) => ok += 1,
                        Err(Error::BudgetExceeded { .. }) => {}
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for h in handles {
        ok += h.await.expect("task panicked");
    }
    ok
}

/// A refusal's numbers justify it: the spend of its window it reports plus the amount passes
/// the limit, that spend is within the limit, and the amount is the one asked for.
fn justified(refusal: &Error, amount: Decimal, limits: &Limits) -> bool {
    let Error::BudgetExceeded { window, limit, spent, requested } = refusal else { return false };
    let configured = match window {
        Window::Daily => limits.daily,
        Window::Monthly => limits.monthly,
    };
    configured == Some(*limit) && *requested == amount && *spent <= *limit && *spent + *requested > *limit
}

on_all! {
    async fn concurrent_charges_lose_no_update(db: &Db) {
        let ok = hammer(db, "alice", 32, 50, dec!(0.01)).await;
        assert_eq!(ok, 1600);
        let status = budgets::status(db, "alice", datetime!(2026-11-28 13:00 UTC)).await.unwrap();
        assert_eq!(status.daily.spent, dec!(16.00));
        assert_eq!(status.monthly.spent, dec!(16.00));
        assert_eq!(ledger_micros(db, "alice").await, 16_000_000);
    }

    async fn concurrent_charges_never_overspend(db: &Db) {
        budgets::set_limits(db, "bob", &limits(Some(dec!(5.00)), None)).await.unwrap();
        let ok = hammer(db, "bob", 32, 50, dec!(0.01)).await;
        assert_eq!(ok, 500);
        let status = budgets::status(db, "bob", datetime!(2026-11-28 13:00 UTC)).await.unwrap();
        assert_eq!(status.daily.spent, dec!(5.00));
        assert_eq!(status.daily.remaining, Some(Decimal::ZERO));
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking WHERE principal_id = 'bob'").await, 500);
        assert_eq!(ledger_micros(db, "bob").await, 5_000_000);
    }

    async fn concurrent_first_charges_of_a_new_principal_all_land(db: &Db) {
        let ok = hammer(db, "newcomer", 32, 1, dec!(0.25)).await;
        assert_eq!(ok, 32);
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking WHERE principal_id = 'newcomer'").await, 32);
        assert_eq!(scalar(db, "SELECT count(*) FROM principal_budgets WHERE principal_id = 'newcomer'").await, 1);
        let status = budgets::status(db, "newcomer", datetime!(2026-11-28 12:00 UTC)).await.unwrap();
        assert_eq!(status.daily.spent, dec!(8.00));
        assert_eq!(status.daily.limit, None, "a principal without limits stays unlimited");
    }

    async fn a_refused_charge_writes_nothing_and_says_why(db: &Db) {
        budgets::set_limits(db, "carol", &limits(Some(dec!(1.00)), Some(dec!(1.50)))).await.unwrap();
        let at = datetime!(2026-11-28 10:00 UTC);
        costs::charge(&db.with_clock(CLOCK), &cost("carol", dec!(0.80), at)).await.unwrap();
        // A refusal in the windows the budget row counts, and (next day: the daily window is
        // fresh, the month has 0.70 left) in a newer day. On PostgreSQL the statement that
        // tried the charge tells each refusal: one statement, no transaction.
        let next = datetime!(2026-11-29 10:00 UTC);
        let refusals = [
            (cost("carol", dec!(0.30), at), (Window::Daily, dec!(1.00), dec!(0.80), dec!(0.30))),
            (cost("carol", dec!(0.75), next), (Window::Monthly, dec!(1.50), dec!(0.80), dec!(0.75))),
        ];
        for (charge, numbers) in refusals {
            let ran = crate::statements(db, async |db| {
                match costs::charge(&db.with_clock(CLOCK), &charge).await.unwrap_err() {
                    Error::BudgetExceeded { window, limit, spent, requested } => {
                        assert_eq!((window, limit, spent, requested), numbers);
                    }
                    other => panic!("expected BudgetExceeded, got {other}"),
                }
            })
            .await;
            if db.server() == Server::Postgres {
                assert_eq!(ran.len(), 1, "{ran:#?}");
            }
        }
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 1);
        let status = budgets::status(db, "carol", at).await.unwrap();
        assert_eq!(status.daily.spent, dec!(0.80));
    }

    /// 32 tasks charge one principal random amounts on two days of one month (whichever
    /// route each charge takes): every refusal is justified by its own numbers, and no day and
    /// no month of the ledger is over its limit.
    async fn every_refusal_under_concurrency_is_justified_by_its_numbers(db: &Db) {
        let seed = crate::seed("every_refusal_under_concurrency_is_justified_by_its_numbers");
        let limits = limits(Some(dec!(2.00)), Some(dec!(3.00)));
        budgets::set_limits(db, "erin", &limits).await.unwrap();
        let days = [datetime!(2026-11-27 10:00 UTC), datetime!(2026-11-28 10:00 UTC)];
        let handles: Vec<_> = (0..32u64)
            .map(|task| {
                let (db, limits) = (db.clone(), limits.clone());
                tokio::spawn(async move {
                    let mut rng = fastrand::Rng::with_seed(seed ^ task);
                    for _ in 0..12 {
                        let amount = Decimal::new(rng.i64(1..=40), 2);
                        let at = days[rng.usize(..days.len())];
                        match costs::charge(&db.with_clock(CLOCK), &cost("erin", amount, at)).await {
                            Ok(_) => {}
                            Err(e) => assert!(justified(&e, amount, &limits), "seed {seed}: {e:?} for {amount}"),
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("a task panicked");
        }
        let day_sums = "SELECT CAST(COALESCE(MAX(s), 0) AS BIGINT) FROM (SELECT SUM(actual_cost_micros) AS s \
            FROM cost_tracking WHERE principal_id = 'erin' GROUP BY substr(CAST(\"timestamp\" AS TEXT), 1, 10)) d";
        assert!(scalar(db, day_sums).await <= 2_000_000, "seed {seed}: a day over its limit");
        assert!(ledger_micros(db, "erin").await <= 3_000_000, "seed {seed}: the month over its limit");
    }

    async fn record_always_records_and_reports_overspend(db: &Db) {
        budgets::set_limits(db, "dave", &limits(Some(dec!(1.00)), None)).await.unwrap();
        let at = datetime!(2026-11-28 10:00 UTC);
        let first = costs::record(&db.with_clock(CLOCK), &cost("dave", dec!(0.60), at)).await.unwrap();
        assert_eq!(first.over_limit, None);
        let second = costs::record(&db.with_clock(CLOCK), &cost("dave", dec!(0.60), at)).await.unwrap();
        assert_eq!(second.over_limit, Some(Window::Daily));
        assert_eq!(second.daily_spent, dec!(1.20));
        let status = budgets::status(db, "dave", at).await.unwrap();
        assert_eq!(status.daily.remaining, Some(Decimal::ZERO));
        assert_eq!(status.daily.percent_used, Some(dec!(120)));
    }

    async fn window_edges_are_utc_calendar_days_and_months(db: &Db) {
        budgets::set_limits(db, "erin", &limits(Some(dec!(1.00)), Some(dec!(2.50)))).await.unwrap();
        let last_micro = datetime!(2028-02-28 23:59:59.999999 UTC);
        costs::charge(&db.with_clock(CLOCK), &cost("erin", dec!(1.00), last_micro)).await.unwrap();
        assert!(costs::charge(&db.with_clock(CLOCK), &cost("erin", dec!(0.000001), last_micro)).await.is_err());
        // Midnight opens a new day: 29 February of a leap year.
        let leap_day = datetime!(2028-02-29 00:00 UTC);
        let out = costs::charge(&db.with_clock(CLOCK), &cost("erin", dec!(1.00), leap_day)).await.unwrap();
        assert_eq!((out.daily_spent, out.monthly_spent), (dec!(1.00), dec!(2.00)));
        // 1 March opens a new month.
        let march = datetime!(2028-03-01 00:00 UTC);
        let out = costs::charge(&db.with_clock(CLOCK), &cost("erin", dec!(1.00), march)).await.unwrap();
        assert_eq!((out.daily_spent, out.monthly_spent), (dec!(1.00), dec!(1.00)));
        // December → January.
        costs::charge(&db.with_clock(CLOCK), &cost("erin", dec!(1.00), datetime!(2028-12-31 23:59:59.999999 UTC))).await.unwrap();
        let out = costs::charge(&db.with_clock(CLOCK), &cost("erin", dec!(1.00), datetime!(2029-01-01 00:00 UTC))).await.unwrap();
        assert_eq!((out.daily_spent, out.monthly_spent), (dec!(1.00), dec!(1.00)));
    }

    async fn reading_rolls_windows_over_without_writing(db: &Db) {
        costs::charge(&db.with_clock(CLOCK), &cost("frank", dec!(3.00), datetime!(2026-11-28 08:00 UTC))).await.unwrap();
        let tomorrow = budgets::status(db, "frank", datetime!(2026-11-29 08:00 UTC)).await.unwrap();
        assert_eq!(tomorrow.daily.spent, Decimal::ZERO);
        assert_eq!(tomorrow.monthly.spent, dec!(3.00));
        let next_month = budgets::status(db, "frank", datetime!(2026-12-01 00:00 UTC)).await.unwrap();
        assert_eq!(next_month.monthly.spent, Decimal::ZERO);
        assert_eq!(scalar(db, "SELECT daily_spent_micros FROM principal_budgets").await, 3_000_000);
    }

    async fn an_older_request_never_resets_a_newer_window(db: &Db) {
        budgets::set_limits(db, "gina", &limits(Some(dec!(5.00)), None)).await.unwrap();
        costs::charge(&db.with_clock(CLOCK), &cost("gina", dec!(4.00), datetime!(2026-11-28 08:00 UTC))).await.unwrap();
        costs::record(&db.with_clock(CLOCK), &cost("gina", dec!(2.00), datetime!(2026-11-27 23:00 UTC))).await.unwrap();
        let status = budgets::status(db, "gina", datetime!(2026-11-28 09:00 UTC)).await.unwrap();
        assert_eq!(status.daily.spent, dec!(4.00), "yesterday's cost must not reset today");
        assert_eq!(status.monthly.spent, dec!(6.00));
        assert!(budgets::reconcile(db, time::OffsetDateTime::UNIX_EPOCH, CLOCK.now()).await.unwrap().is_empty());
    }

    async fn limits_can_change_and_status_reports_them(db: &Db) {
        let at = datetime!(2026-11-28 08:00 UTC);
        costs::charge(&db.with_clock(CLOCK), &cost("hank", dec!(2.00), at)).await.unwrap();
        budgets::set_limits(db, "hank", &Limits { daily: Some(dec!(8.00)), monthly: None, currency: "EUR".into() })
            .await
            .unwrap();
        let status = budgets::status(db, "hank", at).await.unwrap();
        assert_eq!(status.currency, "EUR");
        assert_eq!(status.daily.spent, dec!(2.00), "changing limits keeps the spend");
        assert_eq!(status.daily.remaining, Some(dec!(6.00)));
        assert_eq!(status.daily.percent_used, Some(dec!(25)));
        assert_eq!(status.monthly.limit, None);
    }

    async fn reconciliation_finds_a_tampered_counter(db: &Db) {
        let at = datetime!(2026-11-28 08:00 UTC);
        costs::charge(&db.with_clock(CLOCK), &cost("ivy", dec!(1.50), at)).await.unwrap();
        costs::charge(&db.with_clock(CLOCK), &cost("jack", dec!(0.50), at)).await.unwrap();
        assert!(budgets::reconcile(db, time::OffsetDateTime::UNIX_EPOCH, CLOCK.now()).await.unwrap().is_empty());
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("UPDATE principal_budgets SET daily_spent_micros = 1 WHERE principal_id = 'ivy'")
            .await
            .unwrap();
        let found = budgets::reconcile(db, time::OffsetDateTime::UNIX_EPOCH, CLOCK.now()).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].principal_id.as_str(), found[0].window), ("ivy", Window::Daily));
        assert_eq!((found[0].budget_spent, found[0].ledger_spent), (dec!(0.000001), dec!(1.50)));
    }
}
