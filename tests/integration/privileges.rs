//! The application role: every function a service calls works as that role, and the audit
//! log, the ledger, the retention log and their partitions refuse it any change of history.

use crate::common;

use common::{Backend, Schema, TestDb, certs};
use migration::partitions::Month;
use rust_decimal::dec;
use sark_db::Conn;
use sark_db::audit::{self, AuditFilter, NewAuditEvent};
use sark_db::entity::Protocol;
use sark_db::federation::{self, NewNode};
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::{self, NewCost};
use sark_db::ledger::{GroupCommit, Ledger};
use sark_db::ledger::{idempotency, summaries};
use sark_db::maintenance::{self, Policy};
use sark_db::privileges::grant_application;
use sark_db::registry::capabilities::{self, CapabilityPatch, NewCapability};
use sark_db::registry::discovery;
use sark_db::registry::resources::{self, NewResource, ResourceFilter, ResourcePatch};
use sark_db::{Conflict, Db, Error};
use sea_orm::ConnectionTrait;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Every repository function a service uses, as `app`.
async fn a_service_day(app: &Db) {
    let now = OffsetDateTime::now_utc();
    let files = resources::create(app, &NewResource::new("Files", Protocol::Mcp, "npx files")).await.unwrap();
    resources::update(app, &files.id, &ResourcePatch { name: Some("Files 2".into()), ..Default::default() })
        .await
        .unwrap();
    let cap = capabilities::create(app, &files.id, &NewCapability::new("read")).await.unwrap();
    capabilities::update(
        app,
        &cap.id,
        &CapabilityPatch { name: Some("read_file".into()), ..Default::default() },
    )
    .await
    .unwrap();
    discovery::sync(app, &files.id, &[NewCapability::new("read_file"), NewCapability::new("list")])
        .await
        .unwrap();
    resources::list(app, &ResourceFilter::default()).await.unwrap();
    resources::get_with_capabilities(app, &files.id).await.unwrap();
    capabilities::find_by_name(app, "list").await.unwrap();
    resources::delete(app, &files.id).await.unwrap();

    let (pem, _) = certs::certificate("globex");
    federation::register(app, &NewNode::new("globex", "Globex", "https://sark.globex.example", pem.clone()))
        .await
        .unwrap();
    federation::set_enabled(app, "globex", false).await.unwrap();
    federation::rotate_trust_anchor(app, "globex", &pem).await.unwrap();
    federation::list_enabled(app).await.unwrap();
    federation::delete(app, "globex").await.unwrap();

    budgets::set_limits(app, "ann", &Limits { daily: Some(dec!(10)), monthly: None, currency: "USD".into() })
        .await
        .unwrap();
    let keyed = NewCost::new("ann", "r", "c").actual(dec!(1)).idempotency_key("k-1");
    costs::charge(app, &keyed).await.unwrap();
    assert!(costs::charge(app, &keyed).await.unwrap().replayed);
    costs::record(app, &NewCost::new("ann", "r", "c").actual(dec!(2))).await.unwrap();
    costs::record_many(
        app,
        &[NewCost::new("bob", "r", "c").actual(dec!(1)), NewCost::new("cy", "r", "c").actual(dec!(1))],
    )
    .await
    .unwrap();
    let txn = app.begin_write().await.unwrap();
    costs::record_many(&txn, &[NewCost::new("bob", "r", "c").actual(dec!(1))]).await.unwrap();
    txn.commit().await.unwrap();
    let ledger = Ledger::new(app.clone(), GroupCommit::default());
    let group =
        (0..8).map(|i| NewCost::new(format!("g{}", i % 3), "r", "c").actual(dec!(1))).collect::<Vec<_>>();
    for outcome in futures::future::join_all(group.iter().map(|c| ledger.charge(c))).await {
        outcome.unwrap();
    }
    assert!(matches!(
        costs::charge(app, &NewCost::new("ann", "r", "c").actual(dec!(100))).await,
        Err(Error::BudgetExceeded { .. })
    ));
    budgets::status(app, "ann", now).await.unwrap();
    assert!(
        budgets::reconcile(app, now - Duration::days(31), now + Duration::days(1)).await.unwrap().is_empty()
    );
    summaries::total(app, &Default::default()).await.unwrap();
    summaries::top_principals(app, now - Duration::days(1), now + Duration::days(1), 5).await.unwrap();
    idempotency::purge_before(app, now - Duration::days(7)).await.unwrap();

    let event = audit::append(
        app,
        &NewAuditEvent { correlation_id: Some("req-1".into()), ..NewAuditEvent::new("tool_invoked") },
    )
    .await
    .unwrap();
    audit::append_many(app, &[NewAuditEvent::new("a"), NewAuditEvent::new("b")]).await.unwrap();
    audit::get(app, &event.id).await.unwrap();
    audit::trace(app, "req-1").await.unwrap();
    audit::query(app, &AuditFilter::between(now - Duration::hours(1), now + Duration::hours(1)))
        .await
        .unwrap();
    sark_db::v1::verify(app).await.unwrap();
    sark_db::migrate(app).await.unwrap(); // nothing pending: reading the migration table is enough
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
async fn the_application_role_can_serve_and_cannot_rewrite_history() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        serve_and_try_to_rewrite(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(sark_timescale_off, ignore = "SARK_TEST_TIMESCALE unset: no TimescaleDB server, not run")]
async fn the_application_role_can_serve_and_cannot_rewrite_history_on_timescale() {
    serve_and_try_to_rewrite(Backend::Timescale).await;
}

/// As the application role on `backend`: a service's day works, and every change of history
/// is refused.
async fn serve_and_try_to_rewrite(backend: Backend) {
    {
        let t = TestDb::new(backend, Schema::Migrated).await;
        let role = format!("sark_app_{}", std::process::id());
        if backend == Backend::Sqlite {
            let refused = grant_application(&t.db, &role).await;
            assert!(matches!(refused, Err(Error::Validation { field: "backend", .. })), "{refused:?}");
            return;
        }
        assert!(matches!(
            grant_application(&t.db, "Robert'); DROP TABLE x; --").await,
            Err(Error::Validation { field: "role", .. })
        ));
        grant_application(&t.db, &role).await.unwrap();
        grant_application(&t.db, &role).await.unwrap(); // twice: the same privileges
        t.db.execute_unprepared(&format!("ALTER ROLE {role} LOGIN")).await.unwrap();
        let (server, database) = t.url.rsplit_once('/').unwrap();
        let app_url = format!("postgres://{role}@{}/{database}", server.rsplit_once('@').unwrap().1);
        let app = sark_db::connect(&app_url).await.unwrap();

        a_service_day(&app).await;

        // A piece of the log: this month's partition, or on TimescaleDB a chunk, which carries the
        // hypertable's grants (SELECT, INSERT) and nothing more.
        let month = OffsetDateTime::now_utc();
        let timescale = backend == Backend::Timescale;
        let partition = piece_holding(&t.db, timescale, month).await;
        if timescale {
            app.execute_unprepared(&format!("SELECT * FROM {partition}")).await.unwrap();
        }
        for sql in [
            "UPDATE audit_events SET severity = 'x'".to_owned(),
            "DELETE FROM audit_events".to_owned(),
            "TRUNCATE audit_events".to_owned(),
            format!("UPDATE {partition} SET severity = 'x'"),
            format!("DELETE FROM {partition}"),
            format!("TRUNCATE {partition}"),
            if timescale { "SELECT * FROM pg_authid".to_owned() } else { format!("SELECT * FROM {partition}") },
            "UPDATE cost_tracking SET actual_cost_micros = 0".to_owned(),
            "DELETE FROM cost_tracking".to_owned(),
            "TRUNCATE cost_tracking".to_owned(),
            "INSERT INTO retention_log (id, table_name, removed, range_start, range_end, row_count) \
             VALUES ('x', 'audit_events', 'rows', now(), now(), 0)"
                .to_owned(),
            "UPDATE retention_log SET row_count = 0".to_owned(),
            "DELETE FROM retention_log".to_owned(),
            "TRUNCATE retention_log".to_owned(),
            "DROP TABLE audit_events".to_owned(),
            "UPDATE audit_seals SET digest = 'x'".to_owned(),
            "DELETE FROM audit_seal_entries".to_owned(),
            "INSERT INTO audit_seal_removals (seal_seq, removal_id, hash) VALUES (1, 'x', 'x')".to_owned(),
            "DELETE FROM audit_seal_removals".to_owned(),
            "INSERT INTO audit_seals (seq, range_start, range_end, event_count, digest, previous_digest, algorithm) \
             VALUES (99, now(), now() + interval '1 s', 0, 'x', 'x', 'x')"
                .to_owned(),
        ] {
            match app.execute_unprepared(&sql).await {
                Err(e) => assert!(
                    e.to_string().contains("permission denied") || e.to_string().contains("must be owner"),
                    "{sql}: {e}"
                ),
                Ok(_) => panic!("{sql}: allowed to the application role"),
            }
        }
        // An event old enough for retention, so that maintenance has a piece to take away.
        let old = NewAuditEvent { timestamp: month - Duration::days(70), ..NewAuditEvent::new("old") };
        audit::append(&app, &old).await.unwrap();
        // Sealing is the owner's; verifying is anyone's.
        let until = OffsetDateTime::now_utc() - Duration::minutes(10);
        let sealed =
            NewAuditEvent { timestamp: until - Duration::minutes(1), ..NewAuditEvent::new("sealed") };
        audit::append(&app, &sealed).await.unwrap();
        assert!(audit::seal(&app, until).await.is_err());
        audit::seal(&t.db, until).await.unwrap();
        // Back-dating into the sealed range is refused to the role by every way in: the log (its
        // sealed-range check), and the piece of it that holds the time (no privilege on a
        // partition; on TimescaleDB, where a chunk carries the hypertable's grants, the chunk's
        // own check).
        let refused = audit::append(&app, &NewAuditEvent { id: None, ..sealed.clone() }).await;
        assert!(matches!(refused, Err(Error::Conflict(Conflict::Sealed { .. }))), "{refused:?}");
        let at = sealed.timestamp.format(&Rfc3339).unwrap();
        let piece = piece_holding(&t.db, timescale, sealed.timestamp).await;
        let piece_refusal = if timescale { "sealed range" } else { "permission denied" };
        for (table, refusal) in [("audit_events", "sealed range"), (piece.as_str(), piece_refusal)] {
            let sql =
                format!("INSERT INTO {table} (id, \"timestamp\", event_type) VALUES ('back', '{at}', 'x')");
            let e = app.execute_unprepared(&sql).await.expect_err(&sql).to_string();
            assert!(e.contains(refusal), "{sql}: {e}");
        }
        assert!(audit::verify(&app, until - Duration::days(1), until).await.unwrap().is_clean());
        // Maintenance is the owner's: the role cannot take partitions away.
        let policy = Policy { keep_audit_events: Some(Duration::days(1)), ..Policy::default() };
        assert!(maintenance::run(&app, &policy).await.is_err());
        let old_events = "SELECT count(*) FROM audit_events WHERE event_type = 'old'";
        assert_eq!(common::scalar(&t.db, old_events).await, 1);
        assert!(!maintenance::run(&t.db, &policy).await.unwrap().removed.is_empty());
        assert_eq!(common::scalar(&t.db, old_events).await, 0);
        assert!(audit::verify(&app, until - Duration::days(100), until).await.unwrap().is_clean());

        app.close().await.unwrap();
        t.db.execute_unprepared(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).await.unwrap();
    }
}

/// The piece of `audit_events` that holds `at`: its month partition, or on TimescaleDB its chunk.
async fn piece_holding(db: &Db, timescale: bool, at: OffsetDateTime) -> String {
    if !timescale {
        return Month { year: at.year(), month: u8::from(at.month()).into() }.partition_of("audit_events");
    }
    let at = at.format(&Rfc3339).unwrap();
    let sql = format!(
        "SELECT format('%I.%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks \
         WHERE hypertable_name = 'audit_events' AND range_start <= '{at}' AND range_end > '{at}'"
    );
    common::strings(db, &sql).await.remove(0)
}
