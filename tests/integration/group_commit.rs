//! Group commit: a `Ledger` answers every call as if it had run alone, and shares commits.
//!
//! The expected outcomes are written from the promise "each caller gets its own outcome
//! exactly as if alone, in arrival order per principal": the same calls run one after the
//! other would give them.

use crate::common;

use common::{Backend, CLOCK, Schema, TestDb, is_pg, micros, scalar};
use rust_decimal::{Decimal, dec};
use sark_db::Db;
use sark_db::audit::{self, NewAuditEvent};
use sark_db::entity::audit_event;
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::{CostOutcome, NewCost};
use sark_db::ledger::{GroupCommit, Ledger};
use sark_db::{Conflict, Entity, Error, Window};
use sea_orm::ConnectionTrait;
use std::time::Duration;

fn ledger(db: &Db, max_calls: usize) -> Ledger {
    let options = GroupCommit { max_calls, max_wait: Duration::from_millis(20), ..GroupCommit::default() };
    Ledger::new(db.with_clock(CLOCK), options)
}

fn limit(daily: Decimal) -> Limits {
    Limits { daily: Some(daily), monthly: None, currency: "USD".into() }
}

fn cost(principal: &str, amount: Decimal) -> NewCost {
    NewCost::new(principal, "r", "c").actual(amount).at(CLOCK.now())
}

/// Sends `calls` (cost, charge?) in this order without waiting between them, and returns the
/// answers in the same order.
async fn in_order(ledger: &Ledger, calls: &[(NewCost, bool)]) -> Vec<Result<CostOutcome, Error>> {
    let futures = calls.iter().map(|(cost, enforce)| async move {
        if *enforce { ledger.charge(cost).await } else { ledger.record(cost).await }
    });
    futures::future::join_all(futures).await
}

fn refused(r: &Result<CostOutcome, Error>) -> bool {
    matches!(r, Err(Error::BudgetExceeded { .. }))
}

fn spent(r: &Result<CostOutcome, Error>) -> Decimal {
    r.as_ref().expect("a successful call").daily_spent
}

on_all! {
    async fn calls_in_one_group_are_answered_as_if_run_one_by_one(db: &Db) {
        budgets::set_limits(db, "p", &limit(dec!(1))).await.unwrap();
        let ledger = ledger(db, 64);
        let calls = [
            (cost("p", dec!(0.6)), true),
            (cost("p", dec!(0.6)), true),  // 1.2 > 1: refused
            (cost("p", dec!(0.3)), true),  // 0.9
            (cost("q", dec!(5)), true),    // q has no budget: unlimited
            (cost("p", dec!(0.2)), false), // a record is always written: 1.1, over the limit
            (cost("p", dec!(0)), true),    // 1.1 + 0 > 1: refused
        ];
        let answers = in_order(&ledger, &calls).await;
        assert_eq!(spent(&answers[0]), dec!(0.6));
        assert!(refused(&answers[1]), "{:?}", answers[1]);
        assert_eq!(spent(&answers[2]), dec!(0.9));
        assert_eq!(spent(&answers[3]), dec!(5));
        assert_eq!(answers[4].as_ref().unwrap().over_limit, Some(Window::Daily));
        assert!(refused(&answers[5]), "{:?}", answers[5]);
        let Err(Error::BudgetExceeded { spent, requested, .. }) = &answers[1] else { unreachable!() };
        assert_eq!((*spent, *requested), (dec!(0.6), dec!(0.6)), "refused with the spend before it");
        for ((call, _), answer) in calls.iter().zip(&answers) {
            if let Ok(outcome) = answer {
                let stored = scalar(db, &format!("SELECT actual_cost_micros FROM cost_tracking WHERE id = {}", outcome.cost_id)).await;
                assert_eq!(stored, micros(call.actual.unwrap()), "the row of {outcome:?} is its call's");
            }
        }
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 4);
        assert_eq!(scalar(db, "SELECT daily_spent_micros FROM principal_budgets WHERE principal_id = 'p'").await, micros(dec!(1.1)));
    }

    async fn principals_that_fit_and_principals_that_do_not_share_a_group(db: &Db) {
        budgets::set_limits(db, "roomy", &limit(dec!(10))).await.unwrap();
        budgets::set_limits(db, "tight", &limit(dec!(1))).await.unwrap();
        let ledger = ledger(db, 64);
        let calls = [
            (cost("roomy", dec!(1)), true),
            (cost("tight", dec!(0.6)), true),
            (cost("roomy", dec!(2)), true),
            (cost("tight", dec!(0.6)), true), // 1.2 > 1: refused
            (cost("new", dec!(5)), true),     // no budget row yet: unlimited
            (cost("roomy", dec!(3)), false),
            (cost("tight", dec!(0.3)), true),
            (cost("roomy", dec!(4)), true),   // 10: the limit, reached exactly
            (cost("roomy", dec!(0.5)), false), // a record passes the limit
        ];
        let answers = in_order(&ledger, &calls).await;
        let expected = [Some(dec!(1)), Some(dec!(0.6)), Some(dec!(3)), None, Some(dec!(5)), Some(dec!(6)), Some(dec!(0.9)), Some(dec!(10)), Some(dec!(10.5))];
        for (answer, expected) in answers.iter().zip(expected) {
            match expected {
                Some(daily) => assert_eq!(spent(answer), daily, "{answers:?}"),
                None => assert!(refused(answer), "{answers:?}"),
            }
        }
        assert_eq!(answers[8].as_ref().unwrap().over_limit, Some(Window::Daily));
        let ids: std::collections::BTreeSet<i64> = answers.iter().flatten().map(|o| o.cost_id).collect();
        assert_eq!(ids.len(), 8, "one row per written call");
        for ((call, _), answer) in calls.iter().zip(&answers) {
            if let Ok(outcome) = answer {
                let stored = scalar(db, &format!("SELECT actual_cost_micros FROM cost_tracking WHERE id = {} AND principal_id = '{}'", outcome.cost_id, call.principal_id)).await;
                assert_eq!(stored, micros(call.actual.unwrap()), "the row of {outcome:?} is its call's");
            }
        }
        for (principal, daily) in [("roomy", dec!(10.5)), ("tight", dec!(0.9)), ("new", dec!(5))] {
            let counter = scalar(db, &format!("SELECT daily_spent_micros FROM principal_budgets WHERE principal_id = '{principal}'")).await;
            assert_eq!(counter, micros(daily), "{principal}");
        }
        // On one PostgreSQL server a transaction's rows share its xmin (on Citus each shard's
        // transaction has its own).
        let citus = is_pg(db) && scalar(db, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'").await == 1;
        if is_pg(db) && !citus {
            let commits = scalar(db, "SELECT count(DISTINCT xmin::text) FROM cost_tracking").await;
            assert!(commits <= 2, "one group takes at most two commits, took {commits}");
        }
    }

    async fn keys_replay_conflict_and_stay_free_after_a_refusal_within_a_group(db: &Db) {
        budgets::set_limits(db, "p", &limit(dec!(1))).await.unwrap();
        let ledger = ledger(db, 64);
        let keyed = |amount, key| (cost("p", amount).idempotency_key(key), true);
        let calls = [
            keyed(dec!(2), "big"),      // refused: the key stays free
            keyed(dec!(0.5), "half"),   // charged
            keyed(dec!(0.5), "half"),   // the same request again: replayed
            keyed(dec!(0.4), "half"),   // another request with the key: conflict
            keyed(dec!(2), "big"),      // judged afresh: refused again
        ];
        let answers = in_order(&ledger, &calls).await;
        assert!(refused(&answers[0]) && refused(&answers[4]), "{answers:?}");
        let (first, again) = (answers[1].as_ref().unwrap(), answers[2].as_ref().unwrap());
        assert!(!first.replayed && again.replayed);
        assert_eq!(CostOutcome { replayed: false, ..again.clone() }, *first);
        assert!(matches!(&answers[3], Err(Error::Conflict(Conflict::IdempotencyKeyReused { key })) if key == "half"));
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 1);
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_idempotency_keys").await, 1, "only the charged key is used");
        budgets::set_limits(db, "p", &limit(dec!(3))).await.unwrap();
        let big = ledger.charge(&calls[0].0).await.unwrap();
        assert!(!big.replayed && big.daily_spent == dec!(2.5));
    }

    async fn bad_input_is_refused_and_writes_nothing(db: &Db) {
        let ledger = ledger(db, 64);
        let bad = [
            cost("", dec!(1)),
            cost("p", dec!(-1)),
            cost("p", dec!(0.0000001)),
            NewCost::new("p", "r", "c"),
            cost("p", dec!(1)).at(CLOCK.now() + time::Duration::hours(1)),
            cost("p", dec!(1)).metadata(serde_json::json!([1])),
        ];
        for c in &bad {
            assert!(matches!(ledger.charge(c).await, Err(Error::Validation { .. })), "{c:?}");
            assert!(matches!(ledger.record(c).await, Err(Error::Validation { .. })), "{c:?}");
        }
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 0);
        assert_eq!(scalar(db, "SELECT count(*) FROM principal_budgets").await, 0);
        // In one group with good calls: each bad one is refused, the good ones are charged.
        let mut calls: Vec<(NewCost, bool)> = bad.iter().map(|c| (c.clone(), true)).collect();
        calls.insert(3, (cost("good", dec!(1)), true));
        calls.push((cost("good", dec!(2)), false));
        let answers = in_order(&ledger, &calls).await;
        for ((call, _), answer) in calls.iter().zip(&answers) {
            match (call.principal_id.as_str(), answer) {
                ("good", Ok(_)) | (_, Err(Error::Validation { .. })) => {}
                _ => panic!("{call:?}: {answer:?}"),
            }
        }
        assert_eq!(spent(&answers[calls.len() - 1]), dec!(3));
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 2);
    }

    async fn concurrent_charges_share_commits_and_never_overspend(db: &Db) {
        budgets::set_limits(db, "hot", &limit(dec!(1))).await.unwrap();
        let ledger = ledger(db, 4);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let ledger = ledger.clone();
                tokio::spawn(async move { ledger.charge(&cost("hot", dec!(0.1))).await })
            })
            .collect();
        let mut spent = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(outcome) => spent.push(outcome.daily_spent),
                Err(Error::BudgetExceeded { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        spent.sort();
        let expected: Vec<Decimal> = (1..=10).map(|i| Decimal::new(i, 1)).collect();
        assert_eq!(spent, expected, "ten charges of 0.1 fit in 1, each seeing the ones before it");
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 10);
        if is_pg(db) {
            // Rows of one transaction share its xmin: at most 4 a transaction.
            let most = scalar(db, "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM cost_tracking GROUP BY xmin::text) g").await;
            assert!((1..=4).contains(&most), "{most} rows in one transaction");
        }
    }
}

/// Terminates every connection named `application` every 20–60 ms until `done`; returns how
/// many it terminated.
pub(crate) fn killer(
    db: &Db,
    application: &'static str,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    let db = db.clone();
    tokio::spawn(async move {
        let mut kills = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1";
            let stmt =
                sea_orm::Statement::from_sql_and_values(db.get_database_backend(), sql, [application.into()]);
            kills += db.query_all_raw(stmt).await.unwrap().len();
            tokio::time::sleep(Duration::from_millis(fastrand::u64(20..60))).await;
        }
        kills
    })
}

/// Waits for `tasks` (each answers what it settled and how many of its calls failed and went
/// again), then stops the `killer` that `done` stops: everything settled, the failures, the kills.
pub(crate) async fn gather<T>(
    tasks: Vec<tokio::task::JoinHandle<(Vec<T>, usize)>>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    killer: tokio::task::JoinHandle<usize>,
) -> (Vec<T>, usize, usize) {
    let (mut settled, mut failures) = (Vec::new(), 0);
    for task in tasks {
        let (s, f) = task.await.unwrap();
        settled.extend(s);
        failures += f;
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    (settled, failures, killer.await.unwrap())
}

/// Terminates the ledger's connections every few milliseconds while 32 tasks charge with keys
/// and retry what failed, one hot principal and three others (a group that lost its connection
/// goes again split by principal, or in halves when one principal's); in the end every
/// successful key has one ledger row, counters equal the ledger, and no principal's day holds
/// more than its limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
async fn killed_connections_lose_or_double_no_charge() {
    let t = TestDb::new(Backend::Postgres, Schema::Migrated).await;
    let db = &t.db;
    let daily = dec!(6);
    let principals = ["hot", "p1", "p2", "p3"];
    for principal in principals {
        budgets::set_limits(db, principal, &limit(daily)).await.unwrap();
    }
    let url = format!("{}?application_name=sark_killed", t.url);
    let pool = sark_db::connect(&url).await.unwrap();
    let ledger = Ledger::new(pool.with_clock(CLOCK), GroupCommit::default());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = killer(db, "sark_killed", done.clone());
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let (mut charged, mut failures) = (Vec::new(), 0);
                for i in 0..10 {
                    let principal = if i % 2 == 0 { "hot" } else { principals[1 + (task + i) % 3] };
                    let request = cost(principal, dec!(0.07)).idempotency_key(format!("t{task}-{i}"));
                    loop {
                        match ledger.charge(&request).await {
                            Ok(outcome) => {
                                break charged
                                    .push((request.idempotency_key.clone().unwrap(), outcome.cost_id));
                            }
                            Err(Error::BudgetExceeded { .. }) => break,
                            Err(Error::Db(_)) => failures += 1,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                (charged, failures)
            })
        })
        .collect();
    let (charged, failures, kills) = gather(tasks, done, killer).await;
    eprintln!(
        "{kills} connections killed, {failures} calls failed and were retried, {} charged",
        charged.len()
    );
    assert!(kills > 0, "the test must kill connections under load");
    let rows = scalar(db, "SELECT count(*) FROM cost_tracking").await;
    assert_eq!(rows, charged.len() as i64, "one ledger row per successful key, none for a failure");
    let keyed = scalar(db, "SELECT count(*) FROM cost_tracking c JOIN cost_idempotency_keys k ON k.outcome::jsonb->>'cost_id' = c.id::text").await;
    assert_eq!(keyed, rows, "every row is the outcome of its key");
    for (key, cost_id) in &charged {
        let stored = scalar(
            db,
            &format!(
                "SELECT (outcome::jsonb->>'cost_id')::bigint FROM cost_idempotency_keys WHERE key = '{key}'"
            ),
        )
        .await;
        assert_eq!(stored, *cost_id, "{key}");
    }
    for principal in principals {
        let sum = scalar(db, &format!("SELECT coalesce(sum(actual_cost_micros), 0)::bigint FROM cost_tracking WHERE principal_id = '{principal}'")).await;
        assert!(sum <= micros(daily), "{principal}: {sum} spent of {daily}");
    }
    let sum = scalar(db, "SELECT coalesce(sum(actual_cost_micros), 0)::bigint FROM cost_tracking").await;
    assert_eq!(sum, micros(dec!(0.07)) * rows);
    let now = CLOCK.now();
    assert!(
        budgets::reconcile(db, now - time::Duration::days(1), now + time::Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
}

on_all! {
    async fn concurrent_appends_share_commits_and_each_is_stored_once(db: &Db) {
        let ledger = ledger(db, 256);
        let tasks: Vec<_> = (0..32)
            .map(|t| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    for i in 0..25 {
                        let event = NewAuditEvent { correlation_id: Some(format!("t{t}-{i}")), ..NewAuditEvent::new("call") };
                        let stored = ledger.append(&event.clone()).await.unwrap();
                        assert_eq!((stored.correlation_id, stored.event_type), (event.correlation_id, event.event_type));
                        ids.push(stored.id);
                    }
                    ids
                })
            })
            .collect();
        let mut acknowledged = Vec::new();
        for task in tasks {
            acknowledged.extend(task.await.unwrap());
        }
        // Every acknowledged event is stored, once; nothing else is.
        let stored = common::strings(db, "SELECT id FROM audit_events ORDER BY id").await;
        acknowledged.sort();
        assert_eq!(stored, acknowledged);
        assert_eq!(stored.len(), 800);
        let citus = is_pg(db) && scalar(db, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'").await == 1;
        if is_pg(db) && !citus {
            // A transaction's rows share its xmin: 800 events took far fewer commits.
            let commits = scalar(db, "SELECT count(DISTINCT xmin::text) FROM audit_events").await;
            assert!(commits < 400, "800 events took {commits} commits");
        }
    }

    async fn each_grouped_append_gets_its_own_outcome(db: &Db) {
        let at = |minutes: i64| CLOCK.now() - time::Duration::hours(2) + time::Duration::minutes(minutes);
        let event = |id: &str, minutes| NewAuditEvent { id: Some(id.into()), timestamp: at(minutes), ..NewAuditEvent::new("x") };
        audit::append(&db.with_clock(CLOCK), &event("taken", 70)).await.unwrap();
        audit::seal(&db.with_clock(CLOCK), at(60)).await.unwrap();
        let ledger = ledger(db, 64);
        let calls = [
            event("a", 80),
            event("sealed", 30),                                              // inside the sealed range
            NewAuditEvent { event_type: " ".into(), ..event("blank", 81) },   // bad input
            event("taken", 70),                                               // its id and timestamp exist
            event("b", 82),
        ];
        let answers = futures::future::join_all(calls.iter().map(|e| ledger.append(e))).await;
        assert_eq!(answers[0].as_ref().unwrap().id, "a");
        assert!(matches!(&answers[1], Err(Error::Conflict(Conflict::Sealed { id })) if id == "sealed"), "{:?}", answers[1]);
        assert!(matches!(&answers[2], Err(Error::Validation { field: "event_type", .. })), "{:?}", answers[2]);
        assert!(matches!(&answers[3], Err(Error::Conflict(Conflict::Exists { entity: Entity::AuditEvent, id })) if id == "taken"), "{:?}", answers[3]);
        assert_eq!(answers[4].as_ref().unwrap().id, "b");
        let stored = common::strings(db, "SELECT id FROM audit_events ORDER BY id").await;
        assert_eq!(stored, ["a", "b", "taken"], "exactly the acknowledged events, and the one stored before");
    }
}

on_all! {
    async fn grouped_events_are_stored_with_every_field_as_given(db: &Db) {
        let ledger = ledger(db, 64);
        let at = CLOCK.now() - time::Duration::hours(1);
        let mut events: Vec<_> =
            (0..6).map(|i| common::every_field(&format!("full-{i}"), at + time::Duration::nanoseconds(1_234_567 * i))).collect();
        events.push(NewAuditEvent { id: Some("sparse".into()), timestamp: at, ..NewAuditEvent::new("denied") });
        // Queued together, before the flusher runs: one group.
        let answers = futures::future::join_all(events.iter().map(|e| ledger.append(e))).await;
        for (event, answer) in events.iter().zip(answers) {
            // What the caller gave, as the log promises to keep it: UTC at microseconds, costs
            // in micro-units.
            let expected = audit_event::Model {
                id: event.id.clone().unwrap(),
                timestamp: at + time::Duration::microseconds((event.timestamp - at).whole_microseconds() as i64),
                event_type: event.event_type.clone(),
                severity: event.severity.clone(),
                user_id: event.user_id.clone(),
                user_email: event.user_email.clone(),
                server_id: event.server_id.clone(),
                tool_name: event.tool_name.clone(),
                decision: event.decision.clone(),
                policy_id: event.policy_id.clone(),
                ip_address: event.ip_address.clone(),
                user_agent: event.user_agent.clone(),
                request_id: event.request_id.clone(),
                details: event.details.clone(),
                principal_org: event.principal_org.clone(),
                resource_protocol: event.resource_protocol,
                capability_id: event.capability_id.clone(),
                correlation_id: event.correlation_id.clone(),
                source_node: event.source_node.clone(),
                target_node: event.target_node.clone(),
                estimated_cost_micros: event.estimated_cost.map(micros),
                actual_cost_micros: event.actual_cost.map(micros),
            };
            assert_eq!(answer.unwrap(), expected, "the answer");
            assert_eq!(audit::get(db, &expected.id).await.unwrap(), expected, "as stored");
        }
        if is_pg(db) && scalar(db, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'").await == 0 {
            assert_eq!(scalar(db, "SELECT count(DISTINCT xmin::text) FROM audit_events").await, 1, "one commit");
        }
    }
}

/// Terminates the ledger's connections every few milliseconds while 32 tasks append audit
/// events through it, retrying what failed with the same id and timestamp: every event answered
/// Ok is found right away on another connection, and in the end each event is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
async fn killed_connections_lose_or_double_no_event() {
    let t = TestDb::new(Backend::Postgres, Schema::Migrated).await;
    let db = &t.db;
    let url = format!("{}?application_name=sark_killed_audit", t.url);
    let ledger = Ledger::new(sark_db::connect(&url).await.unwrap().with_clock(CLOCK), GroupCommit::default());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = killer(db, "sark_killed_audit", done.clone());
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let (ledger, db) = (ledger.clone(), db.clone());
            tokio::spawn(async move {
                let mut failures = 0;
                for i in 0..15 {
                    let id = format!("t{task}-{i}");
                    let event = NewAuditEvent {
                        id: Some(id.clone()),
                        timestamp: CLOCK.now(),
                        ..NewAuditEvent::new("call")
                    };
                    let mut retried = false;
                    loop {
                        match ledger.append(&event).await {
                            Ok(stored) => {
                                assert_eq!(
                                    audit::get(&db, &id).await.unwrap(),
                                    stored,
                                    "acknowledged, so committed"
                                );
                                break;
                            }
                            // Stored by an attempt whose answer was lost.
                            Err(Error::Conflict(Conflict::Exists { .. })) if retried => break,
                            Err(Error::Db(_)) => {
                                failures += 1;
                                retried = true;
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                failures
            })
        })
        .collect();
    let mut failures = 0;
    for task in tasks {
        failures += task.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let kills = killer.await.unwrap();
    eprintln!("{kills} connections killed, {failures} appends failed and were retried");
    // A group that loses its connection goes again, so few calls (or none) see a failure.
    assert!(kills > 0, "the test must kill connections under load");
    assert_eq!(scalar(db, "SELECT count(*) FROM audit_events").await, 32 * 15, "each event once");
    assert_eq!(scalar(db, "SELECT count(DISTINCT id) FROM audit_events").await, 32 * 15);
}
