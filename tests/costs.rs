//! The cost ledger: amounts, idempotency, bulk recording, bad input, and a model-checked run.

mod common;

use common::scalar;
use rust_decimal::{Decimal, dec};
use sark_db::budgets::{self, Limits};
use sark_db::costs::{self, CostOutcome, NewCost};
use sark_db::{Error, Window};
use sea_orm::DatabaseConnection;
use serde_json::json;
use std::collections::HashMap;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

async fn rows(db: &DatabaseConnection) -> (i64, i64, i64) {
    (
        scalar(db, "SELECT count(*) FROM cost_tracking").await,
        scalar(db, "SELECT count(*) FROM principal_budgets").await,
        scalar(db, "SELECT count(*) FROM cost_idempotency_keys").await,
    )
}

on_both! {
    async fn an_actual_cost_of_zero_counts_as_zero(db: &DatabaseConnection) {
        let out = costs::charge(db, &NewCost::new("p", "r", "c").estimated(dec!(5)).actual(Decimal::ZERO)).await.unwrap();
        assert_eq!(out.amount, Decimal::ZERO);
        assert_eq!(out.daily_spent, Decimal::ZERO);
        let out = costs::charge(db, &NewCost::new("p", "r", "c").estimated(dec!(0.0003))).await.unwrap();
        assert_eq!(out.amount, dec!(0.0003), "a sub-cent estimate is kept exactly");
        assert_eq!(scalar(db, "SELECT actual_cost_micros FROM cost_tracking WHERE estimated_cost_micros = 5000000").await, 0);
    }

    async fn the_same_key_and_request_charge_once(db: &DatabaseConnection) {
        let request = NewCost::new("p", "r", "c").actual(dec!(1.25)).metadata(json!({"call": 1})).idempotency_key("k-1");
        let first = costs::charge(db, &request).await.unwrap();
        // A retry is stamped later but is the same request.
        let retry = costs::charge(db, &request.clone().at(request.timestamp + Duration::seconds(5))).await.unwrap();
        assert!(retry.replayed && !first.replayed);
        assert_eq!(CostOutcome { replayed: false, ..retry }, first);
        assert_eq!(rows(db).await, (1, 1, 1));
        let other = request.clone().actual(dec!(9.99));
        assert!(matches!(costs::charge(db, &other).await, Err(Error::Conflict(_))));
        let as_record = costs::record(db, &request).await;
        assert!(matches!(as_record, Err(Error::Conflict(_))), "a charge key reused to record is another request");
        assert_eq!(rows(db).await, (1, 1, 1));
    }

    async fn a_refused_charge_leaves_its_key_free(db: &DatabaseConnection) {
        budgets::set_limits(db, "p", &Limits { daily: Some(dec!(1)), monthly: None, currency: "USD".into() }).await.unwrap();
        let request = NewCost::new("p", "r", "c").actual(dec!(2)).idempotency_key("k-2");
        assert!(matches!(costs::charge(db, &request).await, Err(Error::BudgetExceeded { .. })));
        assert_eq!(rows(db).await, (0, 1, 0));
        budgets::set_limits(db, "p", &Limits { daily: Some(dec!(3)), monthly: None, currency: "USD".into() }).await.unwrap();
        let out = costs::charge(db, &request).await.unwrap();
        assert!(!out.replayed);
        assert_eq!(rows(db).await, (1, 1, 1));
    }

    async fn concurrent_retries_with_one_key_charge_once(db: &DatabaseConnection) {
        let request = NewCost::new("p", "r", "c").actual(dec!(0.5)).idempotency_key("k-3");
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (db, request) = (db.clone(), request.clone());
                tokio::spawn(async move { costs::charge(&db, &request).await.unwrap() })
            })
            .collect();
        let mut ids = Vec::new();
        for h in handles {
            ids.push(h.await.unwrap().cost_id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "all retries see the one cost row");
        assert_eq!(rows(db).await, (1, 1, 1));
    }

    async fn a_million_micro_charges_sum_exactly(db: &DatabaseConnection) {
        let at = datetime!(2026-11-28 12:00 UTC);
        let batch: Vec<NewCost> = (0..100_000).map(|_| NewCost::new("micro", "r", "c").actual(dec!(0.000001)).at(at)).collect();
        for _ in 0..10 {
            assert_eq!(costs::record_many(db, &batch).await.unwrap(), 100_000);
        }
        let status = budgets::status(db, "micro", at).await.unwrap();
        assert_eq!(status.daily.spent, dec!(1.000000));
        let total = sark_db::summaries::total(db, &Default::default()).await.unwrap();
        assert_eq!((total.amount, total.count), (dec!(1.000000), 1_000_000));
        assert!(budgets::reconcile(db, at).await.unwrap().is_empty());
    }

    async fn bulk_recording_spreads_over_windows(db: &DatabaseConnection) {
        let start = datetime!(2026-11-30 22:00 UTC);
        let batch: Vec<NewCost> = (0..48)
            .map(|h| NewCost::new(if h % 2 == 0 { "a" } else { "b" }, "r", "c").actual(dec!(0.10)).at(start + Duration::hours(h)))
            .collect();
        costs::record_many(db, &batch).await.unwrap();
        let last = start + Duration::hours(47);
        let a = budgets::status(db, "a", last).await.unwrap();
        // "a" charged at even hours; on 2 December (the last day) that is hours 26..=46 → 11 costs.
        assert_eq!(a.daily.spent, dec!(1.10));
        assert_eq!(a.monthly.spent, dec!(2.30), "December so far: hours 2..=46, 23 costs of 0.10");
        assert!(budgets::reconcile(db, last).await.unwrap().is_empty());
        let keyed = vec![NewCost::new("a", "r", "c").actual(dec!(1)).idempotency_key("k")];
        assert!(matches!(costs::record_many(db, &keyed).await, Err(Error::Validation { field: "idempotency_key", .. })));
    }

    async fn bad_input_is_refused_and_nothing_is_written(db: &DatabaseConnection) {
        let ok = || NewCost::new("p", "r", "c").actual(dec!(1));
        let long = "x".repeat(256);
        let cases: Vec<(NewCost, &str)> = vec![
            (ok().actual(dec!(-0.01)), "actual"),
            (ok().actual(dec!(0.0000001)), "actual"),
            (ok().actual(Decimal::MAX), "actual"),
            (NewCost::new("p", "r", "c").estimated(dec!(-1)), "estimated"),
            (NewCost::new("p", "r", "c"), "actual"),
            (NewCost::new("", "r", "c").actual(dec!(1)), "principal_id"),
            (NewCost::new("   ", "r", "c").actual(dec!(1)), "principal_id"),
            (NewCost::new(long.clone(), "r", "c").actual(dec!(1)), "principal_id"),
            (NewCost::new("p", "", "c").actual(dec!(1)), "resource_id"),
            (NewCost::new("p", "r", "").actual(dec!(1)), "capability_id"),
            (ok().metadata(json!([1, 2])), "metadata"),
            (ok().idempotency_key(""), "idempotency_key"),
        ];
        for (cost, field) in &cases {
            for result in [costs::charge(db, cost).await, costs::record(db, cost).await] {
                match result {
                    Err(Error::Validation { field: f, .. }) => assert_eq!(f, *field, "{cost:?}"),
                    other => panic!("{cost:?}: expected a validation error on {field}, got {other:?}"),
                }
            }
        }
        let bad_limits = [
            (Limits { daily: Some(dec!(-1)), monthly: None, currency: "USD".into() }, "daily"),
            (Limits { daily: None, monthly: Some(dec!(0.1234567)), currency: "USD".into() }, "monthly"),
            (Limits { daily: None, monthly: None, currency: "usd".into() }, "currency"),
            (Limits { daily: None, monthly: None, currency: "XYZ".into() }, "currency"),
            (Limits { daily: None, monthly: None, currency: "".into() }, "currency"),
        ];
        for (limits, field) in &bad_limits {
            match budgets::set_limits(db, "p", limits).await {
                Err(Error::Validation { field: f, .. }) => assert_eq!(f, *field),
                other => panic!("{limits:?}: expected a validation error, got {other:?}"),
            }
        }
        assert!(matches!(budgets::set_limits(db, &long, &Limits { daily: None, monthly: None, currency: "USD".into() }).await,
            Err(Error::Validation { field: "principal_id", .. })));
        assert_eq!(rows(db).await, (0, 0, 0));
        // At the limit of 255 characters a principal is fine.
        costs::charge(db, &NewCost::new("y".repeat(255), "r", "c").actual(dec!(1))).await.unwrap();
    }

    async fn a_randomized_run_matches_the_model(db: &DatabaseConnection) {
        let seed = std::env::var("SARK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261128);
        let result = tokio::spawn({
            let db = db.clone();
            async move { model_run(&db, seed).await }
        })
        .await;
        if let Err(panic) = result {
            panic!("randomized run failed with seed {seed} (rerun with SARK_SEED={seed}): {panic:?}");
        }
    }
}

/// The budget of one principal as the model sees it.
#[derive(Default, Clone)]
struct ModelBudget {
    daily_limit: Option<i64>,
    monthly_limit: Option<i64>,
    day: Option<OffsetDateTime>,
    daily: i64,
    month: Option<OffsetDateTime>,
    monthly: i64,
}

impl ModelBudget {
    /// One window: (new start, new spent, whether the limit holds).
    fn window(
        start: Option<OffsetDateTime>,
        spent: i64,
        limit: Option<i64>,
        w: OffsetDateTime,
        amount: i64,
    ) -> (Option<OffsetDateTime>, i64, bool) {
        match start {
            Some(s) if s > w => (start, spent, true),
            Some(s) if s == w => (start, spent + amount, limit.is_none_or(|l| spent + amount <= l)),
            _ => (Some(w), amount, limit.is_none_or(|l| amount <= l)),
        }
    }

    /// Applies a spend; `None` when `enforce` and a limit would be exceeded.
    fn spend(&mut self, amount: i64, at: OffsetDateTime, enforce: bool) -> Option<(i64, i64)> {
        let (day, daily, daily_ok) =
            Self::window(self.day, self.daily, self.daily_limit, Window::Daily.start(at), amount);
        let (month, monthly, monthly_ok) =
            Self::window(self.month, self.monthly, self.monthly_limit, Window::Monthly.start(at), amount);
        if enforce && !(daily_ok && monthly_ok) {
            return None;
        }
        (self.day, self.daily, self.month, self.monthly) = (day, daily, month, monthly);
        Some((daily, monthly))
    }
}

async fn model_run(db: &DatabaseConnection, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let principals = ["p0", "p1", "p2"];
    let mut model: HashMap<&str, ModelBudget> = HashMap::new();
    let mut clock = datetime!(2027-02-27 18:00 UTC);
    let mut sent: Vec<(NewCost, bool, CostOutcome)> = Vec::new();
    for step in 0..400 {
        let principal = principals[rng.usize(..principals.len())];
        match rng.u8(..100) {
            0..5 => {
                let daily = rng.bool().then(|| Decimal::new(rng.i64(0..=3000), 3));
                let monthly = rng.bool().then(|| Decimal::new(rng.i64(0..=20000), 3));
                budgets::set_limits(db, principal, &Limits { daily, monthly, currency: "USD".into() })
                    .await
                    .unwrap();
                let b = model.entry(principal).or_default();
                b.daily_limit = daily.map(|d| sark_db::money::to_micros("d", d).unwrap());
                b.monthly_limit = monthly.map(|m| sark_db::money::to_micros("m", m).unwrap());
            }
            5..15 => clock += Duration::minutes(rng.i64(1..=24 * 60)),
            15..22 if !sent.is_empty() => {
                let (request, enforce, first) = sent[rng.usize(..sent.len())].clone();
                let again = if enforce {
                    costs::charge(db, &request).await
                } else {
                    costs::record(db, &request).await
                };
                let again = again.unwrap_or_else(|e| panic!("step {step}: retry failed: {e}"));
                assert!(again.replayed, "step {step}: retry not replayed");
                assert_eq!(CostOutcome { replayed: false, ..again }, first, "step {step}: retry differs");
                let reused = request.clone().actual(request.actual.unwrap_or_default() + dec!(0.001));
                assert!(matches!(costs::charge(db, &reused).await, Err(Error::Conflict(_))), "step {step}");
            }
            _ => {
                let amount = Decimal::new(rng.i64(0..=500), 3);
                // Now and then a late report stamped up to two days back.
                let at = if rng.u8(..10) == 0 { clock - Duration::hours(rng.i64(1..48)) } else { clock };
                let mut request = NewCost::new(principal, "r", "c").actual(amount).at(at);
                if rng.bool() {
                    request = request.idempotency_key(format!("key-{step}"));
                }
                let enforce = rng.bool();
                let micros = sark_db::money::to_micros("a", amount).unwrap();
                let expected = model.entry(principal).or_default().spend(micros, at, enforce);
                let actual = if enforce {
                    costs::charge(db, &request).await
                } else {
                    costs::record(db, &request).await
                };
                match (expected, actual) {
                    (Some((daily, monthly)), Ok(out)) => {
                        assert_eq!(
                            (out.daily_spent, out.monthly_spent),
                            (sark_db::money::from_micros(daily), sark_db::money::from_micros(monthly)),
                            "step {step}"
                        );
                        if request.idempotency_key.is_some() {
                            sent.push((request, enforce, out));
                        }
                    }
                    (None, Err(Error::BudgetExceeded { .. })) => {}
                    (expected, actual) => {
                        panic!("step {step}: model says {expected:?}, database says {actual:?}")
                    }
                }
            }
        }
    }
    for principal in principals {
        let status = budgets::status(db, principal, clock).await.unwrap();
        let b = model.get(principal).cloned().unwrap_or_default();
        let in_window = |start: Option<OffsetDateTime>, spent: i64, w: Window| {
            if start == Some(w.start(clock)) { sark_db::money::from_micros(spent) } else { Decimal::ZERO }
        };
        assert_eq!(status.daily.spent, in_window(b.day, b.daily, Window::Daily), "{principal}");
        assert_eq!(status.monthly.spent, in_window(b.month, b.monthly, Window::Monthly), "{principal}");
    }
    assert!(budgets::reconcile(db, clock).await.unwrap().is_empty());
}
