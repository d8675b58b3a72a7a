//! Timestamps stamped by a column default, by an adopted v1 database or by the library are
//! all found by time ranges, on both backends; SQLite keeps them in one fixed-width form.

use crate::common;

use common::{Backend, Schema, TestDb, is_pg, strings};
use rust_decimal::dec;
use sark_db::Db;
use sark_db::audit::{self, AuditFilter};
use sark_db::ledger::summaries::{self, CostFilter};
use sea_orm::ConnectionTrait;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// What SQLite must hold: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
fn canonical(text: &str) -> bool {
    let shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    text.len() == shape.len()
        && text.chars().zip(shape.chars()).all(|(c, s)| if s == 'd' { c.is_ascii_digit() } else { c == s })
}

/// The stored text of `column` in `table` (SQLite only; PostgreSQL stores `timestamptz`).
async fn stored(db: &Db, table: &str, column: &str) -> Vec<String> {
    strings(db, &format!("SELECT \"{column}\" FROM {table} ORDER BY 1")).await
}

on_all! {
    async fn rows_stamped_by_the_column_default_are_found_by_time_ranges(db: &Db) {
        let before = OffsetDateTime::now_utc() - Duration::seconds(1);
        db.execute_unprepared(
            "INSERT INTO audit_events (id, event_type) VALUES ('by-default', 'x');
             INSERT INTO cost_tracking (principal_id, resource_id, capability_id, actual_cost_micros) VALUES ('p', 'r', 'c', 2500000);",
        )
        .await
        .unwrap();
        let after = OffsetDateTime::now_utc() + Duration::seconds(1);
        let found = audit::query(db, &AuditFilter::between(before, after)).await.unwrap().items;
        assert_eq!(found.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["by-default"]);
        assert!(found[0].timestamp >= before && found[0].timestamp < after, "{}", found[0].timestamp);
        let window = CostFilter { from: Some(before), to: Some(after), ..CostFilter::default() };
        assert_eq!(summaries::total(db, &window).await.unwrap().amount, dec!(2.5));
        let earlier = CostFilter { to: Some(before), ..CostFilter::default() };
        assert_eq!(summaries::total(db, &earlier).await.unwrap().count, 0);
        if !is_pg(db) {
            for (table, column) in [("audit_events", "timestamp"), ("cost_tracking", "timestamp")] {
                let texts = stored(db, table, column).await;
                assert!(texts.iter().all(|t| canonical(t)), "{table}.{column}: {texts:?}");
            }
        }
    }

    empty: async fn an_adopted_v1_audit_log_is_found_by_time_ranges(db: &Db) {
        common::v1_database(db).await;
        // Timestamps as a v1 deployment may have written them. Past six digits, PostgreSQL
        // rounded when v1 wrote and SQLite's text is truncated: this one reads the same both ways.
        db.execute_unprepared(
            "INSERT INTO audit_events (id, \"timestamp\", event_type) VALUES
                 ('space', '2026-11-28 12:00:00', 'x'),
                 ('half', '2026-11-28T12:00:00.5Z', 'x'),
                 ('offset', '2026-11-28T13:00:00+02:00', 'x'),
                 ('nanos', '2026-11-28T12:00:00.1234564Z', 'x'),
                 ('next-day', '2026-11-29 00:00:00', 'x');",
        )
        .await
        .unwrap();
        sark_db::migrate(db).await.unwrap();
        let range = AuditFilter::between(datetime!(2026-11-28 11:00 UTC), datetime!(2026-11-28 12:00:00.5 UTC));
        let found: Vec<_> = audit::query(db, &range).await.unwrap().items.into_iter().map(|e| (e.id, e.timestamp)).collect();
        assert_eq!(
            found,
            [
                ("offset".to_owned(), datetime!(2026-11-28 11:00 UTC)),
                ("space".to_owned(), datetime!(2026-11-28 12:00 UTC)),
                ("nanos".to_owned(), datetime!(2026-11-28 12:00:00.123456 UTC)),
            ],
            "in time order, the end excluded"
        );
        let day = AuditFilter::between(datetime!(2026-11-29 00:00 UTC), datetime!(2026-11-30 00:00 UTC));
        assert_eq!(audit::query(db, &day).await.unwrap().items.len(), 1);
        if !is_pg(db) {
            assert_eq!(
                stored(db, "audit_events", "timestamp").await,
                [
                    "2026-11-28T11:00:00.000000Z",
                    "2026-11-28T12:00:00.000000Z",
                    "2026-11-28T12:00:00.123456Z",
                    "2026-11-28T12:00:00.500000Z",
                    "2026-11-29T00:00:00.000000Z",
                ]
            );
        }
    }
}

/// SQLite only: PostgreSQL's `timestamptz` cannot hold text it cannot read.
#[tokio::test]
async fn sqlite_names_unreadable_adopted_timestamps_and_changes_nothing() {
    let t = TestDb::new(Backend::Sqlite, Schema::Empty).await;
    common::v1_database(&t.db).await;
    t.db.execute_unprepared(
        "INSERT INTO audit_events (id, \"timestamp\", event_type) VALUES
             ('fine', '2026-11-28 12:00:00', 'x'), ('words', 'yesterday noon', 'x'), ('month-13', '2026-13-01 00:00:00', 'x');",
    )
    .await
    .unwrap();
    let err = sark_db::migrate(&t.db).await.unwrap_err().to_string();
    assert!(err.contains("audit_events rows with an unreadable timestamp: \"month-13\", \"words\""), "{err}");
    assert_eq!(
        stored(&t.db, "audit_events", "timestamp").await[0],
        "2026-11-28 12:00:00",
        "nothing rewritten"
    );
}

/// SQLite only: the database refuses a timestamp in any other form.
#[tokio::test]
async fn sqlite_refuses_a_timestamp_in_another_form() {
    let t = TestDb::new(Backend::Sqlite, Schema::Migrated).await;
    for sql in [
        "INSERT INTO audit_events (id, \"timestamp\", event_type) VALUES ('e', '2026-11-28 12:00:00', 'x')",
        "INSERT INTO cost_tracking (\"timestamp\", principal_id, resource_id, capability_id) VALUES ('2026-11-28T12:00:00Z', 'p', 'r', 'c')",
    ] {
        let err = t.db.execute_unprepared(sql).await.unwrap_err().to_string();
        assert!(err.contains("CHECK constraint failed: ck_") && err.contains("_timestamps"), "{sql}: {err}");
    }
    t.db.execute_unprepared("INSERT INTO audit_events (id, \"timestamp\", event_type) VALUES ('e', '2026-11-28T12:00:00.000000Z', 'x')")
        .await
        .unwrap();
}

on_all! {
    async fn an_active_model_update_bumps_updated_at_unless_it_sets_it(db: &Db) {
        use sark_db::entity::{principal_budget, resource};
        use sark_db::registry::resources::{self, NewResource};
        use sea_orm::ActiveValue::{Set, Unchanged};
        use sea_orm::{ActiveModelTrait, EntityTrait};

        let created = resources::create(db, &NewResource::new("one", sark_db::entity::Protocol::Mcp, "x")).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let renamed = resource::ActiveModel { id: Unchanged(created.id.clone()), name: Set("renamed".into()), ..Default::default() }
            .update(db)
            .await
            .unwrap();
        let stored = resource::Entity::find_by_id(&created.id).one(db).await.unwrap().unwrap();
        assert_eq!(renamed, stored, "the update returns the row as stored");
        assert_eq!((stored.name.as_str(), stored.created_at), ("renamed", created.created_at));
        assert!(stored.updated_at > created.updated_at, "{} not after {}", stored.updated_at, created.updated_at);
        assert!(stored.updated_at <= OffsetDateTime::now_utc());

        // A caller that sets updated_at keeps its value.
        let chosen = datetime!(2026-01-02 03:04:05.123456 UTC);
        let kept = resource::ActiveModel { id: Unchanged(created.id.clone()), updated_at: Set(chosen), ..Default::default() }
            .update(db)
            .await
            .unwrap();
        assert_eq!(kept.updated_at, chosen);

        // The budget row (the ledger's own writes set updated_at too).
        let limits = sark_db::ledger::budgets::Limits { daily: Some(dec!(5)), monthly: None, currency: "USD".into() };
        let budget = sark_db::ledger::budgets::set_limits(db, "ann", &limits).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let raised = principal_budget::ActiveModel { principal_id: Unchanged("ann".into()), daily_budget_micros: Set(Some(9_000_000)), ..Default::default() }
            .update(db)
            .await
            .unwrap();
        assert!(raised.updated_at > budget.updated_at);
    }
}

on_all! {
    async fn every_read_takes_its_bounds_at_microsecond_precision(db: &Db) {
        use sark_db::ledger::budgets::{self, Limits};
        use sark_db::ledger::costs::{self, NewCost};
        // The promise: instants are read at microsecond precision, so a bound a few
        // nanoseconds off a microsecond reads as that microsecond (truncated, in UTC).
        let t = datetime!(2026-03-01 00:00 UTC);
        let limits = Limits { daily: Some(dec!(10)), monthly: None, currency: "USD".into() };
        budgets::set_limits(db, "ann", &limits).await.unwrap();
        let cost = NewCost::new("ann", "r", "c").actual(dec!(1)).at(t);
        costs::record(&db.with_clock(common::CLOCK), &cost).await.unwrap();
        let event = audit::NewAuditEvent { timestamp: t, ..audit::NewAuditEvent::new("x") };
        audit::append(&db.with_clock(common::CLOCK), &event).await.unwrap();
        audit::seal(&db.with_clock(common::CLOCK), t + Duration::days(1)).await.unwrap();
        // A counter that disagrees with the ledger in the windows starting at t.
        db.execute_unprepared("UPDATE principal_budgets SET daily_spent_micros = daily_spent_micros + 1").await.unwrap();

        let day = Duration::days(1);
        let total = async |from: Option<OffsetDateTime>, to: Option<OffsetDateTime>| {
            summaries::total(db, &CostFilter { from, to, ..Default::default() }).await.unwrap().count
        };
        let reconciled = async |from, to| budgets::reconcile(db, from, to).await.unwrap().len();
        let events = async |from, to| audit::query(db, &AuditFilter::between(from, to)).await.unwrap().items.len();
        let seals = async |from, to| audit::verify(db, from, to).await.unwrap().seals.len();
        // What each read gives at t exactly: the bound is inclusive as a start, exclusive as an end.
        assert_eq!((total(None, Some(t)).await, total(Some(t), None).await), (0, 1));
        assert_eq!((reconciled(t - day, t).await, reconciled(t, t + day).await), (0, 1));
        assert_eq!((events(t - day, t).await, events(t, t + day).await), (0, 1));
        for ns in [1, 500, 999] {
            let (above, below, micro_below) =
                (t + Duration::nanoseconds(ns), t - Duration::nanoseconds(ns), t - Duration::microseconds(1));
            assert_eq!(total(None, Some(above)).await, total(None, Some(t)).await, "+{ns} ns");
            assert_eq!(total(Some(above), None).await, total(Some(t), None).await, "+{ns} ns");
            assert_eq!(total(None, Some(below)).await, total(None, Some(micro_below)).await, "-{ns} ns");
            let top = async |to| summaries::top_principals(db, t - day, to, 5).await.unwrap();
            assert_eq!(top(above).await, top(t).await, "+{ns} ns");
            assert_eq!(reconciled(t - day, above).await, reconciled(t - day, t).await, "+{ns} ns");
            assert_eq!(reconciled(above, t + day).await, reconciled(t, t + day).await, "+{ns} ns");
            let status = async |at| budgets::status(db, "ann", at).await.unwrap();
            assert_eq!(status(below).await, status(micro_below).await, "-{ns} ns");
            assert_eq!(status(above).await, status(t).await, "+{ns} ns");
            assert_eq!(events(t - day, above).await, events(t - day, t).await, "+{ns} ns");
            assert_eq!(events(above, t + day).await, events(t, t + day).await, "+{ns} ns");
            assert_eq!(seals(t + day, above + day).await, seals(t + day, t + day).await, "+{ns} ns");
        }
    }
}
