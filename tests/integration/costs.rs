//! The cost ledger: amounts, idempotency, bulk recording, bad input.

use crate::common;

use common::{CLOCK, scalar};
use rust_decimal::{Decimal, dec};
use sark_db::entity::cost_record;
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::{self, CostOutcome, NewCost};
use sark_db::{Conflict, Error, Window};
use sark_db::{Conn, Db};
use sea_orm::EntityTrait;
use serde_json::json;
use time::Duration;
use time::macros::datetime;

async fn rows(db: &Db) -> (i64, i64, i64) {
    (
        scalar(db, "SELECT count(*) FROM cost_tracking").await,
        scalar(db, "SELECT count(*) FROM principal_budgets").await,
        scalar(db, "SELECT count(*) FROM cost_idempotency_keys").await,
    )
}

on_all! {
    async fn an_actual_cost_of_zero_counts_as_zero(db: &Db) {
        let out = costs::charge(&db.with_clock(CLOCK), &NewCost::new("p", "r", "c").estimated(dec!(5)).actual(Decimal::ZERO)).await.unwrap();
        assert_eq!(out.amount, Decimal::ZERO);
        assert_eq!(out.daily_spent, Decimal::ZERO);
        let out = costs::charge(&db.with_clock(CLOCK), &NewCost::new("p", "r", "c").estimated(dec!(0.0003))).await.unwrap();
        assert_eq!(out.amount, dec!(0.0003), "a sub-cent estimate is kept exactly");
        assert_eq!(scalar(db, "SELECT actual_cost_micros FROM cost_tracking WHERE estimated_cost_micros = 5000000").await, 0);
    }

    async fn the_same_key_and_request_charge_once(db: &Db) {
        let request = NewCost::new("p", "r", "c").actual(dec!(1.25)).metadata(json!({"call": 1})).idempotency_key("k-1");
        let first = costs::charge(&db.with_clock(CLOCK), &request).await.unwrap();
        // A retry is stamped later but is the same request.
        let retry = costs::charge(&db.with_clock(CLOCK), &request.clone().at(request.timestamp + Duration::seconds(5))).await.unwrap();
        assert!(retry.replayed && !first.replayed);
        assert_eq!(CostOutcome { replayed: false, ..retry }, first);
        assert_eq!(rows(db).await, (1, 1, 1));
        let other = request.clone().actual(dec!(9.99));
        assert!(matches!(costs::charge(&db.with_clock(CLOCK), &other).await, Err(Error::Conflict(Conflict::IdempotencyKeyReused { key })) if key == "k-1"));
        let as_record = costs::record(&db.with_clock(CLOCK), &request).await;
        assert!(matches!(as_record, Err(Error::Conflict(Conflict::IdempotencyKeyReused { .. }))), "a charge key reused to record is another request");
        assert_eq!(rows(db).await, (1, 1, 1));
    }

    async fn a_refused_charge_leaves_its_key_free(db: &Db) {
        budgets::set_limits(db, "p", &Limits { daily: Some(dec!(1)), monthly: None, currency: "USD".into() }).await.unwrap();
        let request = NewCost::new("p", "r", "c").actual(dec!(2)).idempotency_key("k-2");
        assert!(matches!(costs::charge(&db.with_clock(CLOCK), &request).await, Err(Error::BudgetExceeded { .. })));
        assert_eq!(rows(db).await, (0, 1, 0));
        budgets::set_limits(db, "p", &Limits { daily: Some(dec!(3)), monthly: None, currency: "USD".into() }).await.unwrap();
        let out = costs::charge(&db.with_clock(CLOCK), &request).await.unwrap();
        assert!(!out.replayed);
        assert_eq!(rows(db).await, (1, 1, 1));
    }

    async fn concurrent_retries_with_one_key_charge_once(db: &Db) {
        let request = NewCost::new("p", "r", "c").actual(dec!(0.5)).idempotency_key("k-3");
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (db, request) = (db.clone(), request.clone());
                tokio::spawn(async move { costs::charge(&db.with_clock(CLOCK), &request).await.unwrap() })
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

    async fn a_million_micro_charges_sum_exactly(db: &Db) {
        let at = datetime!(2026-11-28 12:00 UTC);
        let batch: Vec<NewCost> = (0..100_000).map(|_| NewCost::new("micro", "r", "c").actual(dec!(0.000001)).at(at)).collect();
        for _ in 0..10 {
            assert_eq!(costs::record_many(&db.with_clock(CLOCK), &batch).await.unwrap(), 100_000);
        }
        let status = budgets::status(db, "micro", at).await.unwrap();
        assert_eq!(status.daily.spent, dec!(1.000000));
        let total = sark_db::ledger::summaries::total(db, &Default::default()).await.unwrap();
        assert_eq!((total.amount, total.count), (dec!(1.000000), 1_000_000));
        assert!(budgets::reconcile(db, time::OffsetDateTime::UNIX_EPOCH, CLOCK.now()).await.unwrap().is_empty());
    }

    async fn bulk_recording_spreads_over_windows(db: &Db) {
        let start = datetime!(2026-11-30 22:00 UTC);
        let batch: Vec<NewCost> = (0..48)
            .map(|h| NewCost::new(if h % 2 == 0 { "a" } else { "b" }, "r", "c").actual(dec!(0.10)).at(start + Duration::hours(h)))
            .collect();
        costs::record_many(&db.with_clock(CLOCK), &batch).await.unwrap();
        let last = start + Duration::hours(47);
        let a = budgets::status(db, "a", last).await.unwrap();
        // "a" charged at even hours; on 2 December (the last day) that is hours 26..=46 → 11 costs.
        assert_eq!(a.daily.spent, dec!(1.10));
        assert_eq!(a.monthly.spent, dec!(2.30), "December so far: hours 2..=46, 23 costs of 0.10");
        assert!(budgets::reconcile(db, time::OffsetDateTime::UNIX_EPOCH, CLOCK.now()).await.unwrap().is_empty());
        let keyed = vec![NewCost::new("a", "r", "c").actual(dec!(1)).idempotency_key("k")];
        assert!(matches!(costs::record_many(&db.with_clock(CLOCK), &keyed).await, Err(Error::Validation { field: "idempotency_key", .. })));
    }

    async fn bulk_recording_keeps_every_character_and_takes_back_fills(db: &Db) {
        let now = CLOCK.now();
        let odd = NewCost::new("tab\there", "back\\slash\\N", "new\nline\r")
            .estimated(dec!(0.25))
            .metadata(json!({"s": "a\tb\\c\nd\\N", "ü": "日本", "n": null}))
            .at(now);
        costs::record_many(&db.with_clock(CLOCK), std::slice::from_ref(&odd)).await.unwrap();
        let row = cost_record::Entity::find().one(db).await.unwrap().unwrap();
        assert_eq!(
            (row.principal_id.as_str(), row.resource_id.as_str(), row.capability_id.as_str()),
            (odd.principal_id.as_str(), odd.resource_id.as_str(), odd.capability_id.as_str())
        );
        assert_eq!((row.estimated_cost_micros, row.actual_cost_micros, &row.metadata), (Some(250_000), None, &odd.metadata));
        assert_eq!(row.timestamp, now);
        // A cost a day older than the one the budget row counts, in the same batch as a new one.
        let batch = [odd.clone().actual(dec!(1)).at(now - Duration::days(1)), odd.clone().actual(dec!(2))];
        assert_eq!(costs::record_many(&db.with_clock(CLOCK), &batch).await.unwrap(), 2);
        let status = budgets::status(db, &odd.principal_id, now).await.unwrap();
        assert_eq!(status.daily.spent, dec!(2.25));
        let yesterday = budgets::status(db, &odd.principal_id, now - Duration::days(1)).await.unwrap();
        assert_eq!(yesterday.daily.spent, dec!(1));
        assert!(budgets::reconcile(db, now - Duration::days(40), now + Duration::days(1)).await.unwrap().is_empty());
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 3);
    }

    async fn bulk_recording_in_a_transaction_commits_or_rolls_back_with_it(db: &Db) {
        let now = CLOCK.now();
        let batch: Vec<NewCost> = (0..30)
            .map(|i| NewCost::new(format!("p{}", i % 3), "r", "c").actual(dec!(0.5)).at(now - Duration::hours(i)))
            .collect();
        let db_at = db.with_clock(CLOCK);
        let txn = db_at.begin_write().await.unwrap();
        assert_eq!(costs::record_many(&txn, &batch).await.unwrap(), 30);
        txn.rollback().await.unwrap();
        assert_eq!(rows(db).await, (0, 0, 0), "rolled back with the caller's transaction");
        let txn = db_at.begin_write().await.unwrap();
        costs::record_many(&txn, &batch).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(rows(db).await, (30, 3, 0));
        for p in ["p0", "p1", "p2"] {
            let expected: Decimal = batch.iter().filter(|c| c.principal_id == p && c.timestamp >= Window::Daily.start(now)).map(|c| c.actual.unwrap()).sum();
            assert_eq!(budgets::status(db, p, now).await.unwrap().daily.spent, expected, "{p}");
        }
        assert!(budgets::reconcile(db, now - Duration::days(40), now + Duration::days(1)).await.unwrap().is_empty());
    }

    async fn bad_input_is_refused_and_nothing_is_written(db: &Db) {
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
            for result in [costs::charge(&db.with_clock(CLOCK), cost).await, costs::record(&db.with_clock(CLOCK), cost).await] {
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
        costs::charge(&db.with_clock(CLOCK), &NewCost::new("y".repeat(255), "r", "c").actual(dec!(1))).await.unwrap();
    }
}
