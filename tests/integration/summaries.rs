//! Cost summaries: totals, groupings, top spenders, and the index behind them.

use crate::common;

use common::CLOCK;

use rust_decimal::dec;
use sark_db::Db;
use sark_db::ledger::costs::{self, NewCost};
use sark_db::ledger::summaries::{self, CostFilter, GroupBy, Total};
use time::macros::datetime;

fn t(key: &str, amount: rust_decimal::Decimal, count: i64) -> Total {
    Total { key: key.into(), amount, count }
}

/// Costs over three days, three principals, two resources.
async fn fixture(db: &Db) {
    let rows = [
        ("ann", "search", "query", dec!(1.50), datetime!(2026-11-01 00:00 UTC)),
        ("ann", "search", "query", dec!(0.25), datetime!(2026-11-01 23:59:59.999999 UTC)),
        ("ann", "mail", "send", dec!(2.00), datetime!(2026-11-02 08:00 UTC)),
        ("ben", "mail", "send", dec!(4.00), datetime!(2026-11-02 09:00 UTC)),
        ("cat", "search", "query", dec!(0.000001), datetime!(2026-11-03 10:00 UTC)),
        ("ben", "search", "index", dec!(0.75), datetime!(2026-10-31 23:59:59.999999 UTC)),
    ];
    let batch: Vec<NewCost> =
        rows.iter().map(|(p, r, c, amount, at)| NewCost::new(*p, *r, *c).actual(*amount).at(*at)).collect();
    costs::record_many(&db.with_clock(CLOCK), &batch).await.unwrap();
    // An estimate only: it counts while no actual is known.
    costs::record(
        &db.with_clock(CLOCK),
        &NewCost::new("cat", "mail", "send").estimated(dec!(0.50)).at(datetime!(2026-11-03 11:00 UTC)),
    )
    .await
    .unwrap();
}

fn november() -> CostFilter {
    CostFilter {
        from: Some(datetime!(2026-11-01 00:00 UTC)),
        to: Some(datetime!(2026-12-01 00:00 UTC)),
        ..Default::default()
    }
}

on_all! {
    async fn totals_respect_every_filter(db: &Db) {
        fixture(db).await;
        let all = summaries::total(db, &CostFilter::default()).await.unwrap();
        assert_eq!((all.amount, all.count), (dec!(9.000001), 7));
        let nov = summaries::total(db, &november()).await.unwrap();
        assert_eq!((nov.amount, nov.count), (dec!(8.250001), 6));
        let ann_search = CostFilter { principal_id: Some("ann".into()), resource_id: Some("search".into()), ..november() };
        assert_eq!(summaries::total(db, &ann_search).await.unwrap().amount, dec!(1.75));
        let send = CostFilter { capability_id: Some("send".into()), ..Default::default() };
        assert_eq!(summaries::total(db, &send).await.unwrap().amount, dec!(6.50));
        let none = CostFilter { principal_id: Some("nobody".into()), ..Default::default() };
        assert_eq!(summaries::total(db, &none).await.unwrap(), t("", dec!(0), 0));
    }

    async fn groupings_by_day_principal_resource_capability(db: &Db) {
        fixture(db).await;
        let by_day = summaries::grouped(db, &CostFilter::default(), GroupBy::Day).await.unwrap();
        assert_eq!(by_day, [
            t("2026-10-31", dec!(0.75), 1),
            t("2026-11-01", dec!(1.75), 2),
            t("2026-11-02", dec!(6.00), 2),
            t("2026-11-03", dec!(0.500001), 2),
        ]);
        let by_principal = summaries::grouped(db, &november(), GroupBy::Principal).await.unwrap();
        assert_eq!(by_principal, [t("ann", dec!(3.75), 3), t("ben", dec!(4.00), 1), t("cat", dec!(0.500001), 2)]);
        let by_resource = summaries::grouped(db, &CostFilter::default(), GroupBy::Resource).await.unwrap();
        assert_eq!(by_resource, [t("mail", dec!(6.50), 3), t("search", dec!(2.500001), 4)]);
        let by_capability = summaries::grouped(db, &CostFilter::default(), GroupBy::Capability).await.unwrap();
        assert_eq!(by_capability, [t("index", dec!(0.75), 1), t("query", dec!(1.750001), 3), t("send", dec!(6.50), 3)]);
    }

    async fn top_principals_by_spend(db: &Db) {
        fixture(db).await;
        let top = summaries::top_principals(db, datetime!(2026-11-01 00:00 UTC), datetime!(2026-12-01 00:00 UTC), 2)
            .await
            .unwrap();
        assert_eq!(top, [t("ben", dec!(4.00), 1), t("ann", dec!(3.75), 3)]);
    }

    async fn a_cost_in_the_first_second_of_a_window_belongs_to_it(db: &Db) {
        // SQLite stores `…T00:00:00Z` and `…T00:00:00.5Z`; as text the second sorts first.
        let at = datetime!(2026-11-01 00:00:00.5 UTC);
        costs::record(&db.with_clock(CLOCK), &NewCost::new("dan", "r", "c").actual(dec!(2)).at(at)).await.unwrap();
        costs::record(&db.with_clock(CLOCK), &NewCost::new("dan", "r", "c").actual(dec!(3)).at(datetime!(2026-11-01 00:00 UTC))).await.unwrap();
        costs::record(&db.with_clock(CLOCK), &NewCost::new("dan", "r", "c").actual(dec!(7)).at(datetime!(2026-10-31 23:59:59.9 UTC))).await.unwrap();
        assert_eq!(summaries::total(db, &november()).await.unwrap(), t("", dec!(5), 2));
        let first_second = CostFilter { to: Some(datetime!(2026-11-01 00:00:00.5 UTC)), ..november() };
        assert_eq!(summaries::total(db, &first_second).await.unwrap(), t("", dec!(3), 1), "the end is exclusive");
        assert!(sark_db::ledger::budgets::reconcile(db, time::OffsetDateTime::UNIX_EPOCH, CLOCK.now()).await.unwrap().is_empty(), "budget and ledger agree");
    }
}
