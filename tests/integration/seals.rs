//! Audit seals: an untouched log verifies clean; every change made past the database's rules
//! (as a superuser or someone with the file would) is named; appends racing a seal are either
//! in it or after it; retention keeps the chain.

use crate::common;

use common::{CLOCK, is_pg, strings};
use sark_db::audit::{self, NewAuditEvent, SealCheck, anchor};
use sark_db::maintenance::{self, Policy};
use sark_db::{Clock, Conflict, Error, Migrator, MigratorTrait};
use sark_db::{Conn, Db};
use sea_orm::ConnectionTrait;
use std::collections::BTreeSet;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

/// The canonical text of `t` (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), as seal reports name instants.
fn text(t: OffsetDateTime) -> String {
    let form = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.to_offset(time::UtcOffset::UTC).format(form).unwrap()
}

/// Runs `sql` with the database's own rules lifted, as a superuser (PostgreSQL) or someone
/// with the file (SQLite) could. On Citus the `SET LOCAL` reaches the workers too
/// (`citus.propagate_set_commands`; a mere setting elsewhere).
async fn as_superuser(db: &Db, sql: &str) {
    if is_pg(db) {
        let txn = db.begin_write().await.unwrap();
        for sql in [
            "SET LOCAL citus.propagate_set_commands TO 'local'",
            "SET LOCAL session_replication_role = replica",
            sql,
        ] {
            txn.execute_unprepared(sql).await.unwrap();
        }
        txn.commit().await.unwrap();
        return;
    }
    // One transaction, so one connection of the pool sees the schema change from start to end.
    let txn = db.begin_write().await.unwrap();
    let rows = |sql: &'static str| {
        let txn = &txn;
        async move {
            let stmt = sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, sql);
            let rows = txn.query_all_raw(stmt).await.unwrap();
            rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect::<Vec<_>>()
        }
    };
    let triggers = rows("SELECT sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name").await;
    let names = rows("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").await;
    for name in &names {
        txn.execute_unprepared(&format!("DROP TRIGGER \"{name}\"")).await.unwrap();
    }
    txn.execute_unprepared(sql).await.unwrap();
    for trigger in triggers {
        txn.execute_unprepared(&trigger).await.unwrap();
    }
    txn.commit().await.unwrap();
}

/// 30 events an hour apart from `T0`, `e-00` to `e-29`.
async fn thirty_events(db: &Db) {
    let events: Vec<_> = (0..30)
        .map(|i| NewAuditEvent {
            id: Some(format!("e-{i:02}")),
            timestamp: T0 + Duration::hours(i),
            details: serde_json::json!({"b": [1, 2.5, {"z": null, "a": "ü"}], "a": i}),
            ..NewAuditEvent::new("tool_invoked")
        })
        .collect();
    audit::append_many(&db.with_clock(CLOCK), &events).await.unwrap();
}

/// `(timestamp, id)` of event `e-<i>`.
fn named(i: i64) -> (String, String) {
    (text(T0 + Duration::hours(i)), format!("e-{i:02}"))
}

/// The checks of every seal, with what a clean one holds.
fn clean(seq: i64) -> SealCheck {
    let ranges = [
        (datetime!(0001-01-01 00:00 UTC), T0 + Duration::hours(15)),
        (T0 + Duration::hours(15), T0 + Duration::days(3)),
    ];
    let (range_start, range_end) = ranges[seq as usize - 1];
    SealCheck {
        seq,
        range_start,
        range_end,
        accounted: vec![],
        seal_altered: false,
        chain_broken: false,
        changed: vec![],
        missing: vec![],
        extra: vec![],
        removals_changed: vec![],
        removals_missing: vec![],
    }
}

on_all! {
    /// Seals over several pages of events (12,001 a seal; a page is 5,000): one made on the
    /// pool, one inside a transaction. Each counts every event of its range once, stores one
    /// entry an event, and the log verifies clean.
    async fn seals_of_many_pages_cover_each_event_once(db: &Db) {
        let db = db.with_clock(CLOCK);
        let events: Vec<_> = (0..24_002)
            .map(|i| NewAuditEvent { timestamp: T0 + Duration::seconds(i), ..NewAuditEvent::new("tool_invoked") })
            .collect();
        audit::append_many(&db, &events).await.unwrap();
        let first = audit::seal(&db, T0 + Duration::seconds(12_001)).await.unwrap();
        let tx = db.begin_write().await.unwrap();
        let second = audit::seal(&tx, T0 + Duration::days(1)).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!((first.event_count, second.event_count), (12_001, 12_001));
        let entries = "SELECT count(*) FROM (SELECT DISTINCT event_id FROM audit_seal_entries) e";
        assert_eq!(common::scalar(&db, entries).await, 24_002);
        let report = audit::verify(&db, T0 - Duration::days(1), T0 + Duration::days(2)).await.unwrap();
        assert!(report.is_clean(), "{report:?}");
    }

    /// A seal's entry for an event is SHA-256 of the event's canonical form as documented
    /// (`name=len:value` lines, `-` for NULL, keys of `details` sorted, no whitespace), written
    /// here from the event as appended: one event with every column set, one with none of the
    /// optional ones.
    async fn each_entry_hashes_the_documented_form_of_the_event_as_appended(db: &Db) {
        use sha2::{Digest, Sha256};
        let full = NewAuditEvent {
            id: Some("full".into()),
            timestamp: T0 + Duration::microseconds(1_500_001),
            severity: "high".into(),
            user_id: Some("ann".into()),
            user_email: Some("ann@example.org".into()),
            server_id: Some("srv-1".into()),
            tool_name: Some("grep\tall".into()),
            decision: Some("allow".into()),
            policy_id: Some("p-9".into()),
            ip_address: Some("10.0.0.1".into()),
            user_agent: Some("bot/1.0 (Ünïcode)".into()),
            request_id: Some("r-1".into()),
            details: serde_json::json!({"b": [1, 2.5, {"z": null, "a": "x\"y"}], "a": true, "é": -3, "B": {}}),
            principal_org: Some("org".into()),
            resource_protocol: Some(sark_db::entity::Protocol::Grpc),
            capability_id: Some("cap".into()),
            correlation_id: Some("req-7".into()),
            source_node: Some("node-a".into()),
            target_node: Some("node-b".into()),
            estimated_cost: Some(rust_decimal::dec!(1.5)),
            actual_cost: Some(rust_decimal::dec!(0.000002)),
            ..NewAuditEvent::new("tool_invoked")
        };
        let sparse = NewAuditEvent { id: Some("sparse".into()), timestamp: T0 + Duration::hours(1), ..NewAuditEvent::new("denied") };
        audit::append_many(&db.with_clock(CLOCK), &[full, sparse]).await.unwrap();
        audit::seal(&db.with_clock(CLOCK), T0 + Duration::days(1)).await.unwrap();
        let line = |name: &str, value: Option<&str>| match value {
            None => format!("{name}=-\n"),
            Some(v) => format!("{name}={}:{v}\n", v.len()),
        };
        let details = r#"{"B":{},"a":true,"b":[1,2.5,{"a":"x\"y","z":null}],"é":-3}"#;
        let set = [
            ("user_id", "ann"), ("user_email", "ann@example.org"), ("server_id", "srv-1"), ("tool_name", "grep\tall"),
            ("decision", "allow"), ("policy_id", "p-9"), ("ip_address", "10.0.0.1"), ("user_agent", "bot/1.0 (Ünïcode)"),
            ("request_id", "r-1"), ("details", details), ("principal_org", "org"), ("resource_protocol", "grpc"),
            ("capability_id", "cap"), ("correlation_id", "req-7"), ("source_node", "node-a"), ("target_node", "node-b"),
            ("estimated_cost_micros", "1500000"), ("actual_cost_micros", "2"),
        ];
        let full_form: String = [line("id", Some("full")), line("timestamp", Some("2026-01-01T00:00:01.500001Z")),
            line("event_type", Some("tool_invoked")), line("severity", Some("high"))]
            .into_iter()
            .chain(set.iter().map(|(name, value)| line(name, Some(value))))
            .collect();
        let sparse_form: String = [line("id", Some("sparse")), line("timestamp", Some("2026-01-01T01:00:00.000000Z")),
            line("event_type", Some("denied")), line("severity", Some("low"))]
            .into_iter()
            .chain(set.iter().map(|(name, _)| line(name, (*name == "details").then_some("{}"))))
            .collect();
        let sha256 = |form: &str| hex::encode(Sha256::digest(form.as_bytes()));
        let stored = strings(db, "SELECT hash FROM audit_seal_entries ORDER BY \"timestamp\", event_id").await;
        assert_eq!(stored, [sha256(&full_form), sha256(&sparse_form)]);
    }

    async fn an_untouched_log_verifies_clean_and_each_kind_of_tampering_is_named(db: &Db) {
        thirty_events(db).await;
        let first = audit::seal(&db.with_clock(CLOCK), T0 + Duration::hours(15)).await.unwrap();
        let second = audit::seal(&db.with_clock(CLOCK), T0 + Duration::days(3)).await.unwrap();
        assert_eq!((first.seq, first.event_count, second.seq, second.event_count), (1, 15, 2, 15));
        assert_eq!(second.previous_digest, first.digest);
        assert_eq!(first.digest.len(), 64);
        let whole = (T0 - Duration::days(1), T0 + Duration::days(10));
        let verify = async || audit::verify(db, whole.0, whole.1).await.unwrap();
        assert_eq!(verify().await.seals, [clean(1), clean(2)]);
        assert!(verify().await.is_clean());

        // Nothing slips into a sealed range through the library.
        let late = NewAuditEvent { id: Some("late".into()), timestamp: T0 + Duration::hours(3), ..NewAuditEvent::new("x") };
        let refused = audit::append(&db.with_clock(CLOCK), &late).await;
        assert!(matches!(&refused, Err(Error::Conflict(Conflict::Sealed { id })) if id == "late"), "{refused:?}");
        let after = NewAuditEvent { timestamp: T0 + Duration::days(4), ..NewAuditEvent::new("x") };
        audit::append(&db.with_clock(CLOCK), &after).await.unwrap();
        assert!(verify().await.is_clean(), "an event after the seals changes nothing");

        // One field of one event.
        as_superuser(db, "UPDATE audit_events SET severity = 'high' WHERE id = 'e-03'").await;
        let mut expected = [clean(1), clean(2)];
        expected[0].changed = vec![named(3)];
        assert_eq!(verify().await.seals, expected);
        // One event deleted.
        as_superuser(db, "DELETE FROM audit_events WHERE id = 'e-20'").await;
        expected[1].missing = vec![named(20)];
        assert_eq!(verify().await.seals, expected);
        // One event inserted into a sealed range, past the trigger.
        let stamp = text(T0 + Duration::minutes(90));
        as_superuser(db, &format!("INSERT INTO audit_events (id, \"timestamp\", event_type) VALUES ('slipped', '{stamp}', 'x')")).await;
        expected[0].extra = vec![(stamp, "slipped".into())];
        assert_eq!(verify().await.seals, expected);
        // A seal row changed: its digest no longer matches, and the next seal's link breaks.
        as_superuser(db, "UPDATE audit_seals SET event_count = 16 WHERE seq = 1").await;
        expected[0].seal_altered = true;
        assert_eq!(verify().await.seals, expected);
        as_superuser(db, &format!("UPDATE audit_seals SET digest = '{}' WHERE seq = 1", "f".repeat(64))).await;
        expected[1].chain_broken = true;
        assert_eq!(verify().await.seals, expected);
        // An entry changed to hide the edit: the seal's digest gives it away.
        as_superuser(db, "UPDATE audit_seal_entries SET hash = 'x' WHERE event_id = 'e-21'").await;
        expected[1].seal_altered = true;
        expected[1].changed = vec![named(21)];
        let report = verify().await;
        assert_eq!(report.seals, expected);
        assert!(!report.is_clean());
        assert!(report.to_string().contains("missing: e-20"), "{report}");
    }

    async fn a_seal_refuses_an_until_too_recent_or_not_after_the_last(db: &Db) {
        thirty_events(db).await;
        let now = OffsetDateTime::now_utc();
        for until in [now, now - Duration::minutes(4), now + Duration::days(1)] {
            let refused = audit::seal(db, until).await;
            assert!(matches!(refused, Err(Error::Validation { field: "until", .. })), "{until}: {refused:?}");
        }
        audit::seal(db, now - Duration::minutes(6)).await.unwrap();
        let refused = audit::seal(db, now - Duration::minutes(7)).await;
        assert!(matches!(refused, Err(Error::Validation { field: "until", .. })), "{refused:?}");
        assert_eq!(common::scalar(db, "SELECT count(*) FROM audit_seals").await, 1);
        assert_eq!(common::scalar(db, "SELECT count(*) FROM audit_seal_entries").await, 30);
        assert!(db.execute_unprepared("DELETE FROM audit_seals").await.is_err(), "append-only");
        assert!(db.execute_unprepared("UPDATE audit_seal_entries SET hash = 'x'").await.is_err(), "append-only");
    }

    async fn appends_racing_a_seal_are_inside_it_or_after_it_never_lost(db: &Db) {
        let boundary = T0 + Duration::hours(1);
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    for i in 0..25i64 {
                        // Stamps from 25 ms before the boundary to 25 ms after it.
                        let at = boundary + Duration::milliseconds(i * 2 - 25) + Duration::microseconds(t);
                        let event = NewAuditEvent { id: Some(format!("r-{t}-{i}")), timestamp: at, ..NewAuditEvent::new("race") };
                        outcomes.push((at, format!("r-{t}-{i}"), audit::append(&db.with_clock(CLOCK), &event).await));
                    }
                    outcomes
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let seal = audit::seal(&db.with_clock(CLOCK), boundary).await.unwrap();
        let mut sealed_expected = BTreeSet::new();
        for task in tasks {
            for (at, id, outcome) in task.await.unwrap() {
                match outcome {
                    Ok(_) if at < boundary => drop(sealed_expected.insert(id)),
                    Ok(_) => {}
                    Err(Error::Conflict(Conflict::Sealed { .. })) => assert!(at < boundary, "{id} at {at} refused after the seal's end"),
                    Err(e) => panic!("{id}: {e}"),
                }
            }
        }
        let sealed: BTreeSet<String> =
            strings(db, "SELECT event_id FROM audit_seal_entries WHERE seal_seq = 1").await.into_iter().collect();
        assert_eq!(sealed, sealed_expected, "the seal holds exactly the accepted events before its end");
        assert_eq!(seal.event_count as usize, sealed.len());
        assert!(audit::verify(db, T0, T0 + Duration::days(1)).await.unwrap().is_clean());
    }

    async fn retention_of_a_sealed_range_keeps_the_chain_and_shows_the_removal(db: &Db) {
        let now = OffsetDateTime::now_utc();
        let old = now - Duration::days(600);
        let recent = now - Duration::days(30);
        for (i, at) in [old, old + Duration::hours(1), recent, recent + Duration::hours(1)].into_iter().enumerate() {
            audit::append(db, &NewAuditEvent { id: Some(format!("a-{i}")), timestamp: at, ..NewAuditEvent::new("x") }).await.unwrap();
        }
        let clock = Clock::system();
        // The first seal ends where the old events' month ends: retention removes that month.
        let first = old.replace_day(1).unwrap().replace_time(time::Time::MIDNIGHT);
        let month_after = if first.month() == time::Month::December {
            first.replace_year(first.year() + 1).unwrap().replace_month(time::Month::January).unwrap()
        } else {
            first.replace_month(first.month().next()).unwrap()
        };
        audit::seal(&db.with_clock(clock), month_after).await.unwrap();
        audit::seal(&db.with_clock(clock), now - Duration::days(1)).await.unwrap();
        // The old events sat in the default partition: moving them passes the seal's trigger.
        maintenance::run(db, &Policy::default()).await.unwrap();
        assert!(audit::verify(db, old - Duration::days(1), now).await.unwrap().is_clean());

        let report = maintenance::run(db, &Policy { keep_audit_events: Some(Duration::days(365)), ..Policy::default() }).await.unwrap();
        assert_eq!(report.removed.iter().map(|r| r.row_count).sum::<i64>(), 2);
        let verified = audit::verify(db, old - Duration::days(1), now).await.unwrap();
        let states: Vec<_> = verified.seals.iter().map(|s| (s.seq, accounted(s), s.is_clean())).collect();
        assert_eq!(states, [(1, 2, true), (2, 0, true)], "{verified}");
        assert!(verified.is_clean());
        assert!(verified.to_string().contains("removed by retention after the seal: 2 entries"), "{verified}");
    }
}

/// How many of `check`'s entries retention accounts for.
fn accounted(check: &SealCheck) -> i64 {
    check.accounted.iter().map(|a| a.entries).sum()
}

/// 120 events, `e1` … `e120`, one a day back from now (the issue's reproduction).
async fn four_months_of_events(db: &Db) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let events: Vec<_> = (1..=120)
        .map(|g| NewAuditEvent {
            id: Some(format!("e{g}")),
            timestamp: now - Duration::days(g),
            ..NewAuditEvent::new("x")
        })
        .collect();
    audit::append_many(db, &events).await.unwrap();
    now
}

/// Retention keeping 30 days of audit events.
fn keep_30_days() -> Policy {
    Policy { keep_audit_events: Some(Duration::days(30)), ..Policy::default() }
}

on_all! {
    async fn a_seal_made_after_retention_compares_every_event(db: &Db) {
        let now = four_months_of_events(db).await;
        let removed = maintenance::run(db, &keep_30_days()).await.unwrap().removed;
        assert!(!removed.is_empty());
        let seal = audit::seal(db, now - Duration::minutes(10)).await.unwrap();
        let left = common::scalar(db, "SELECT count(*) FROM audit_events").await;
        assert_eq!(seal.event_count, left);
        let whole = (now - Duration::days(400), now);
        assert!(audit::verify(db, whole.0, whole.1).await.unwrap().is_clean());

        as_superuser(db, "UPDATE audit_events SET severity = 'critical' WHERE id = 'e5'").await;
        let report = audit::verify(db, whole.0, whole.1).await.unwrap();
        assert!(!report.is_clean(), "{report}");
        let changed: Vec<_> = report.seals[0].changed.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(changed, ["e5"], "{report}");
        assert_eq!(accounted(&report.seals[0]), 0, "removals made before the seal account for nothing: {report}");
    }

    async fn retention_after_a_seal_accounts_for_what_it_removed_and_the_rest_is_compared(db: &Db) {
        let now = four_months_of_events(db).await;
        audit::seal(db, now - Duration::minutes(10)).await.unwrap();
        let removed = maintenance::run(db, &keep_30_days()).await.unwrap().removed;
        let audit_rows: i64 = removed.iter().filter(|r| r.table_name == "audit_events").map(|r| r.row_count).sum();
        let gone = 120 - common::scalar(db, "SELECT count(*) FROM audit_events").await;
        assert!(gone > 0 && gone < 120);
        assert_eq!(audit_rows, gone, "the removal records count what went");
        let whole = (now - Duration::days(400), now);
        let report = audit::verify(db, whole.0, whole.1).await.unwrap();
        assert!(report.is_clean(), "{report}");
        let per_removal: i64 = report.seals[0].accounted.iter().map(|a| a.entries).sum();
        assert_eq!(per_removal, gone, "every removed entry is accounted for by a removal: {report}");
        for a in &report.seals[0].accounted {
            let r = removed.iter().find(|r| r.id == a.removal).expect("a recorded removal");
            assert_eq!(a.entries, r.row_count, "{report}");
        }

        // What retention left is still compared, event by event.
        as_superuser(db, "UPDATE audit_events SET severity = 'critical' WHERE id = 'e5'").await;
        as_superuser(db, "DELETE FROM audit_events WHERE id = 'e7'").await;
        let report = audit::verify(db, whole.0, whole.1).await.unwrap();
        let named = |list: &[(String, String)]| list.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>();
        assert_eq!(named(&report.seals[0].changed), ["e5"], "{report}");
        assert_eq!(named(&report.seals[0].missing), ["e7"], "{report}");
        assert!(!report.is_clean());
    }

    async fn removal_records_are_chained_and_a_forged_or_altered_one_is_named(db: &Db) {
        let now = four_months_of_events(db).await;
        audit::seal(db, now - Duration::days(100)).await.unwrap();
        let removed = maintenance::run(db, &keep_30_days()).await.unwrap().removed;
        audit::seal(db, now - Duration::minutes(10)).await.unwrap();
        let chained = strings(db, "SELECT removal_id FROM audit_seal_removals WHERE seal_seq = 2 ORDER BY removal_id").await;
        let mut ids: Vec<String> = removed.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        assert_eq!(chained, ids, "the second seal chains every removal recorded since the first");
        let whole = (now - Duration::days(400), now);
        let clean = audit::verify(db, whole.0, whole.1).await.unwrap();
        assert!(clean.is_clean(), "{clean}");
        assert!(accounted(&clean.seals[0]) > 0, "the first seal lost entries to retention after it: {clean}");

        // A removal record slipped into a sealed period, to excuse a deleted event.
        let stamp = text;
        as_superuser(db, &format!(
            "INSERT INTO retention_log (id, table_name, removed, range_start, range_end, row_count, removed_at, removed_by) \
             VALUES ('forged', 'audit_events', 'rows', '{}', '{}', 1, '{}', 'x')",
            stamp(now - Duration::days(6)), stamp(now - Duration::days(4)), stamp(now - Duration::days(1)),
        )).await;
        as_superuser(db, "DELETE FROM audit_events WHERE id = 'e5'").await;
        let report = audit::verify(db, whole.0, whole.1).await.unwrap();
        assert_eq!(report.removals_unchained, ["forged"], "{report}");
        assert_eq!(report.seals[1].missing.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>(), ["e5"], "{report}");
        assert!(report.to_string().contains("outside the chain, dated inside a sealed period: forged"), "{report}");

        // A chained removal altered, then one deleted.
        let (first, last) = (&ids[0], &ids[ids.len() - 1]);
        as_superuser(db, &format!("UPDATE retention_log SET row_count = row_count + 100 WHERE id = '{first}'")).await;
        let report = audit::verify(db, whole.0, whole.1).await.unwrap();
        assert_eq!(report.seals[1].removals_changed, std::slice::from_ref(first), "{report}");
        if first != last {
            as_superuser(db, &format!("DELETE FROM retention_log WHERE id = '{last}'")).await;
            let report = audit::verify(db, whole.0, whole.1).await.unwrap();
            assert_eq!(report.seals[1].removals_missing, std::slice::from_ref(last), "{report}");
        }
        assert!(!audit::verify(db, whole.0, whole.1).await.unwrap().is_clean());
        // The seal's list of chained removals is in its digest.
        assert!(!audit::verify(db, whole.0, whole.1).await.unwrap().seals[1].seal_altered);
        as_superuser(db, &format!("DELETE FROM audit_seal_removals WHERE removal_id = '{first}'")).await;
        assert!(audit::verify(db, whole.0, whole.1).await.unwrap().seals[1].seal_altered);
    }

    async fn a_removal_excuses_no_more_than_it_counts_and_an_altered_one_nothing(db: &Db) {
        let now = four_months_of_events(db).await;
        audit::seal(db, now - Duration::days(100)).await.unwrap();
        maintenance::run(db, &keep_30_days()).await.unwrap();
        audit::seal(db, now - Duration::minutes(10)).await.unwrap();
        let whole = (now - Duration::days(400), now);
        assert!(audit::verify(db, whole.0, whole.1).await.unwrap().is_clean());
        let missing = |report: &sark_db::audit::SealReport| {
            let mut ids: Vec<String> = report.seals.iter().flat_map(|s| s.missing.iter().map(|(_, id)| id.clone())).collect();
            ids.sort();
            ids
        };

        // A removal record made after the seals, claiming one row of a range where two events
        // went: it accounts for one of them, not both.
        as_superuser(db, &format!(
            "INSERT INTO retention_log (id, table_name, removed, range_start, range_end, row_count, removed_at, removed_by) \
             VALUES ('one-row', 'audit_events', 'rows', '{}', '{}', 1, '{}', 'x')",
            text(now - Duration::days(6)), text(now - Duration::days(4)), text(now + Duration::days(1)),
        )).await;
        as_superuser(db, "DELETE FROM audit_events WHERE id IN ('e5', 'e6')").await;
        let report = audit::verify(db, whole.0, whole.1).await.unwrap();
        assert_eq!(missing(&report).len(), 1, "{report}");
        assert_eq!(report.seals[1].accounted.iter().find(|a| a.removal == "one-row").map(|a| a.entries), Some(1), "{report}");

        // A removal the second seal chains, re-dated to after it: it is named as changed, and
        // it excuses nothing of the seal that chained it.
        let chained = strings(db, "SELECT removal_id FROM audit_seal_removals WHERE seal_seq = 2 ORDER BY removal_id").await;
        let id = &chained[0];
        as_superuser(db, &format!(
            "UPDATE retention_log SET removed_at = '{}', range_start = '{}', range_end = '{}', row_count = 10 WHERE id = '{id}'",
            text(now + Duration::days(2)), text(now - Duration::days(3) - Duration::hours(12)), text(now),
        )).await;
        as_superuser(db, "DELETE FROM audit_events WHERE id = 'e2'").await;
        let report = audit::verify(db, whole.0, whole.1).await.unwrap();
        assert_eq!(report.seals[1].removals_changed, std::slice::from_ref(id), "{report}");
        assert!(missing(&report).contains(&"e2".to_owned()), "an altered removal excuses nothing: {report}");
    }

    async fn seals_made_in_canonical_form_version_1_still_verify(db: &Db) {
        use sha2::{Digest, Sha256};
        thirty_events(db).await;
        audit::seal(&db.with_clock(CLOCK), T0 + Duration::hours(15)).await.unwrap();
        // Seal 1 as version 1 wrote it: its digest over the range and the event hashes only,
        // computed here from the documented form.
        let hashes = strings(db, "SELECT hash FROM audit_seal_entries WHERE seal_seq = 1 ORDER BY \"timestamp\", event_id").await;
        let mut digest = Sha256::new();
        digest.update(format!("{}\n{}\n{}\n{}\n", audit::ALGORITHM_V1, "0".repeat(64), text(datetime!(0001-01-01 00:00 UTC)), text(T0 + Duration::hours(15))));
        for hash in &hashes {
            digest.update(format!("{hash}\n"));
        }
        digest.update(format!("{}\n", hashes.len()));
        let v1 = hex::encode(digest.finalize());
        as_superuser(db, &format!("UPDATE audit_seals SET algorithm = '{}', digest = '{v1}' WHERE seq = 1", audit::ALGORITHM_V1)).await;
        let second = audit::seal(&db.with_clock(CLOCK), T0 + Duration::days(3)).await.unwrap();
        assert_eq!((second.previous_digest.as_str(), second.algorithm.as_str()), (v1.as_str(), audit::ALGORITHM));
        let whole = (T0 - Duration::days(1), T0 + Duration::days(10));
        assert_eq!(audit::verify(db, whole.0, whole.1).await.unwrap().seals, [clean(1), clean(2)]);
        as_superuser(db, "UPDATE audit_events SET severity = 'high' WHERE id = 'e-03'").await;
        let mut expected = [clean(1), clean(2)];
        expected[0].changed = vec![named(3)];
        assert_eq!(audit::verify(db, whole.0, whole.1).await.unwrap().seals, expected);
    }

    async fn anchors_catch_seals_replaced_wholesale_which_verify_alone_cannot(db: &Db) {
        thirty_events(db).await;
        for hours in [10, 20, 30] {
            audit::seal(&db.with_clock(CLOCK), T0 + Duration::hours(hours)).await.unwrap();
        }
        let key = anchor::generate_key().unwrap();
        let public = key.verifying_key();
        let anchors = anchor::new_anchors(db, &key, None).await.unwrap();
        assert_eq!(anchors.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2, 3]);
        // Through the file's text, as the CLI keeps them.
        let anchors = anchor::parse(&anchor::lines(&anchors).unwrap()).unwrap();
        let checked = anchor::check(db, &anchors, &public).await.unwrap();
        assert!(checked.is_clean() && checked.unanchored.is_empty(), "{checked}");

        // Someone who can rewrite the database changes an event, removes the last two seals
        // with their entries and seals again: a self-consistent chain of their own.
        as_superuser(db, "UPDATE audit_events SET severity = 'high' WHERE id = 'e-15'").await;
        as_superuser(db, "DELETE FROM audit_seal_entries WHERE seal_seq >= 2").await;
        as_superuser(db, "DELETE FROM audit_seals WHERE seq >= 2").await;
        for hours in [20, 30] {
            audit::seal(&db.with_clock(CLOCK), T0 + Duration::hours(hours)).await.unwrap();
        }
        let whole = (T0 - Duration::days(1), T0 + Duration::days(10));
        let alone = audit::verify(db, whole.0, whole.1).await.unwrap();
        assert!(alone.is_clean(), "verify alone cannot see a chain rebuilt wholesale: {alone}");
        let checked = anchor::check(db, &anchors, &public).await.unwrap();
        assert_eq!(checked.replaced, [2, 3], "{checked}");
        assert!(!checked.is_clean());
        assert!(checked.to_string().contains("anchored seal replaced: seal 2"), "{checked}");

        // A seal newer than the last anchor is reported, not failed.
        audit::seal(&db.with_clock(CLOCK), T0 + Duration::hours(40)).await.unwrap();
        assert_eq!(anchor::check(db, &anchors, &public).await.unwrap().unanchored, [4]);
        // An anchor whose digest was edited no longer carries its signature; another key's
        // signatures are not the key's.
        let mut edited = anchors.clone();
        edited[0].digest = "0".repeat(64);
        assert_eq!(anchor::check(db, &edited, &public).await.unwrap().bad_signature, [1]);
        let other = anchor::generate_key().unwrap().verifying_key();
        assert_eq!(anchor::check(db, &anchors, &other).await.unwrap().bad_signature, [1, 2, 3]);
        // Removed altogether.
        as_superuser(db, "DELETE FROM audit_seal_entries WHERE seal_seq >= 3").await;
        as_superuser(db, "DELETE FROM audit_seals WHERE seq >= 3").await;
        assert_eq!(anchor::check(db, &anchors, &public).await.unwrap().removed, [3]);
    }

    async fn concurrent_seals_follow_one_another(db: &Db) {
        thirty_events(db).await;
        let runs: Vec<_> = (1..=6)
            .map(|h| {
                let db = db.clone();
                tokio::spawn(async move { audit::seal(&db.with_clock(CLOCK), T0 + Duration::hours(h * 4)).await })
            })
            .collect();
        let mut sealed = 0;
        for run in runs {
            match run.await.unwrap() {
                Ok(_) => sealed += 1,
                Err(Error::Validation { field: "until", .. }) => {} // a later seal went first
                Err(e) => panic!("{e}"),
            }
        }
        assert!(sealed >= 1);
        let report = audit::verify(db, T0, T0 + Duration::days(2)).await.unwrap();
        assert_eq!(report.seals.len(), sealed);
        assert!(report.is_clean(), "{report}");
        assert_eq!(common::scalar(db, "SELECT count(*) FROM audit_seal_entries").await, 24, "each event sealed once");
    }
}

/// The operations guide's way to Citus for a database already in use: roll back migration 19
/// and every one after it, install Citus, `up`. Migration 19 then distributes a log that holds seals, and the seals
/// stay checked; its `down` and `up` work on the sealed, distributed log too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(sark_citus_off, ignore = "SARK_TEST_CITUS unset: no Citus cluster, not run")]
async fn a_sealed_plain_database_moves_to_citus_and_back() {
    // Migration 19 and every one after it (the first 19 are 0–18).
    let from_19 = Migrator::migrations().len() as u32 - 19;
    let t = common::TestDb::new(common::Backend::Citus, common::Schema::Empty).await;
    let db = &t.db;
    let workers =
        strings(db, "SELECT node_name || ':' || node_port FROM citus_get_active_worker_nodes()").await;
    db.execute_unprepared("DROP EXTENSION citus CASCADE").await.unwrap();
    sark_db::migrate(db).await.unwrap();
    thirty_events(db).await;
    audit::seal(&db.with_clock(CLOCK), T0 + Duration::hours(15)).await.unwrap();
    audit::seal(&db.with_clock(CLOCK), T0 + Duration::days(3)).await.unwrap();
    let whole = (T0 - Duration::days(1), T0 + Duration::days(10));
    assert!(audit::verify(db, whole.0, whole.1).await.unwrap().is_clean());

    Migrator::down(db.pool(), Some(from_19)).await.unwrap();
    db.execute_unprepared("CREATE EXTENSION citus").await.unwrap();
    for node in &workers {
        let (host, port) = node.split_once(':').unwrap();
        db.execute_unprepared(&format!("SELECT citus_add_node('{host}', {port})")).await.unwrap();
    }
    Migrator::up(db.pool(), None).await.unwrap();
    let distributed = "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text IN ('audit_events', 'audit_seals', 'audit_seal_removals')";
    assert_eq!(common::scalar(db, distributed).await, 3);
    let report = audit::verify(db, whole.0, whole.1).await.unwrap();
    assert_eq!(
        report.seals.iter().map(|s| (s.seq, s.is_clean())).collect::<Vec<_>>(),
        [(1, true), (2, true)],
        "{report}"
    );
    let late = NewAuditEvent {
        id: Some("late".into()),
        timestamp: T0 + Duration::hours(3),
        ..NewAuditEvent::new("x")
    };
    let refused = audit::append(&db.with_clock(CLOCK), &late).await;
    assert!(
        matches!(refused, Err(Error::Conflict(Conflict::Sealed { .. }))),
        "the sealed range is closed on the shards: {refused:?}"
    );
    audit::seal(&db.with_clock(CLOCK), T0 + Duration::days(5)).await.unwrap();

    // And back, and out again: the seals stay checked each time.
    Migrator::down(db.pool(), Some(from_19)).await.unwrap();
    assert_eq!(
        common::scalar(
            db,
            "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text = 'audit_events'"
        )
        .await,
        0
    );
    assert_eq!(
        common::scalar(db, "SELECT count(*) FROM audit_seal_entries").await,
        30,
        "no sealed entry lost"
    );
    Migrator::up(db.pool(), None).await.unwrap();
    let report = audit::verify(db, whole.0, whole.1).await.unwrap();
    assert_eq!(report.seals.len(), 3);
    assert!(report.is_clean(), "{report}");
}
