//! Governed calls: a charge and its audit event are committed together or not at all.
//!
//! The oracles come from the promise: every call answered `Charged` has its cost row and its
//! event stored, once, and nothing else of it; every call answered `Refused` has its refusal's
//! event stored and no cost row; any other answer stored neither; no day's charged sum passes
//! its limit.

use crate::common;
use crate::group_commit::{gather, killer};

use common::{Backend, CLOCK, Schema, TestDb, is_pg, micros, scalar};
use rust_decimal::{Decimal, dec};
use sark_db::Db;
use sark_db::audit::{self, NewAuditEvent};
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::NewCost;
use sark_db::ledger::{Governed, GovernedCall, GroupCommit, Ledger};
use sark_db::{Conflict, Error};
use std::time::Duration;

fn ledger(db: &Db) -> Ledger {
    let options =
        GroupCommit { max_calls: 64, max_wait: Duration::from_millis(20), ..GroupCommit::default() };
    Ledger::new(db.with_clock(CLOCK), options)
}

fn limit(daily: Decimal) -> Limits {
    Limits { daily: Some(daily), monthly: None, currency: "USD".into() }
}

/// A call of `principal` for `amount`, its events named after `name`.
fn call(principal: &str, amount: Decimal, name: &str) -> GovernedCall {
    let event = |kind: &str| NewAuditEvent {
        id: Some(format!("{name}-{kind}")),
        timestamp: CLOCK.now(),
        user_id: Some(principal.into()),
        decision: Some(kind.into()),
        actual_cost: Some(amount),
        ..NewAuditEvent::new("tool_invoked")
    };
    GovernedCall {
        cost: NewCost::new(principal, "r", "c").actual(amount).at(CLOCK.now()),
        charged: event("allow"),
        refused: Some(event("deny")),
    }
}

/// The ids of the stored events, sorted.
async fn event_ids(db: &Db) -> Vec<String> {
    common::strings(db, "SELECT id FROM audit_events ORDER BY id").await
}

/// Whether `db` is one PostgreSQL server (not Citus), where a transaction's rows share its xmin.
async fn one_server(db: &Db) -> bool {
    is_pg(db) && scalar(db, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'").await == 0
}

on_all! {
    async fn a_charge_and_its_event_commit_together_and_a_refusal_appends_its_own(db: &Db) {
        budgets::set_limits(db, "p", &limit(dec!(1))).await.unwrap();
        let ledger = ledger(db);
        let calls = [
            call("p", dec!(0.6), "a"),
            call("p", dec!(0.6), "b"), // 1.2 > 1: refused
            call("q", dec!(2), "c"),   // no budget: unlimited
            call("p", dec!(0.4), "d"), // 1.0: the limit, reached exactly
            GovernedCall { refused: None, ..call("p", dec!(0.1), "e") }, // refused, no event
        ];
        let answers = futures::future::join_all(calls.iter().map(|c| ledger.govern(c))).await;
        let mut expected_events = Vec::new();
        for (call, answer) in calls.iter().zip(&answers) {
            match answer.as_ref().unwrap() {
                Governed::Charged { outcome, event } => {
                    let event = event.as_ref().unwrap();
                    assert_eq!((event.id.as_str(), event.decision.as_deref()), (call.charged.id.as_deref().unwrap(), Some("allow")));
                    assert_eq!(audit::get(db, &event.id).await.unwrap(), *event, "acknowledged, so stored");
                    let stored = scalar(db, &format!("SELECT actual_cost_micros FROM cost_tracking WHERE id = {}", outcome.cost_id)).await;
                    assert_eq!(stored, micros(call.cost.actual.unwrap()));
                    if one_server(db).await {
                        let cost_tx = common::strings(db, &format!("SELECT xmin::text FROM cost_tracking WHERE id = {}", outcome.cost_id)).await;
                        let event_tx = common::strings(db, &format!("SELECT xmin::text FROM audit_events WHERE id = '{}'", event.id)).await;
                        assert_eq!(cost_tx, event_tx, "the charge and its event share one commit");
                    }
                    expected_events.push(event.id.clone());
                }
                Governed::Refused { refusal, event } => {
                    assert!(matches!(refusal, Error::BudgetExceeded { .. }));
                    if let Some(event) = event {
                        assert_eq!(event.decision.as_deref(), Some("deny"));
                        assert_eq!(audit::get(db, &event.id).await.unwrap(), *event);
                        expected_events.push(event.id.clone());
                    } else {
                        assert!(call.refused.is_none());
                    }
                }
            }
        }
        let kinds: Vec<bool> = answers.iter().map(|a| matches!(a, Ok(Governed::Charged { .. }))).collect();
        assert_eq!(kinds, [true, false, true, true, false]);
        expected_events.sort();
        assert_eq!(event_ids(db).await, expected_events, "exactly the events of the answers");
        assert_eq!(expected_events, ["a-allow", "b-deny", "c-allow", "d-allow"]);
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 3);
        assert_eq!(scalar(db, "SELECT daily_spent_micros FROM principal_budgets WHERE principal_id = 'p'").await, micros(dec!(1)));
    }

    async fn a_retried_keyed_call_neither_charges_nor_appends_twice(db: &Db) {
        budgets::set_limits(db, "p", &limit(dec!(1))).await.unwrap();
        let ledger = ledger(db);
        // Events without ids: a keyed call's are the same for every try.
        let keyed = |amount, key: &str| {
            let c = call("p", amount, key);
            GovernedCall {
                cost: c.cost.idempotency_key(key),
                charged: NewAuditEvent { id: None, ..c.charged },
                refused: c.refused.map(|e| NewAuditEvent { id: None, ..e }),
            }
        };
        let (half, big) = (keyed(dec!(0.5), "half"), keyed(dec!(2), "big"));
        let answers = futures::future::join_all([&half, &half, &big, &big].map(|c| ledger.govern(c))).await;
        let Ok(Governed::Charged { outcome: first, event: Some(event) }) = &answers[0] else { panic!("{answers:?}") };
        assert!(!first.replayed);
        assert!(matches!(&answers[1], Ok(Governed::Charged { outcome, event: None }) if outcome.replayed && outcome.cost_id == first.cost_id), "{answers:?}");
        for answer in &answers[2..] {
            assert!(matches!(answer, Ok(Governed::Refused { event: Some(_), .. })), "{answers:?}");
        }
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 1);
        assert_eq!(scalar(db, "SELECT count(*) FROM audit_events WHERE decision = 'allow'").await, 1);
        assert_eq!(scalar(db, "SELECT count(*) FROM audit_events WHERE decision = 'deny'").await, 1, "the retried refusal is stored once");
        assert_eq!(audit::get(db, &event.id).await.unwrap(), *event);
        // Once the budget allows it, the refused key is charged, with its own event.
        budgets::set_limits(db, "p", &limit(dec!(3))).await.unwrap();
        assert!(matches!(ledger.govern(&big).await.unwrap(), Governed::Charged { event: Some(_), .. }));
        assert!(matches!(ledger.govern(&big).await.unwrap(), Governed::Charged { event: None, .. }));
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 2);
        assert_eq!(scalar(db, "SELECT count(*) FROM audit_events").await, 3);
    }

    async fn an_event_the_log_refuses_refuses_its_charge_too(db: &Db) {
        let at = |minutes: i64| CLOCK.now() - time::Duration::hours(2) + time::Duration::minutes(minutes);
        audit::seal(&db.with_clock(CLOCK), at(60)).await.unwrap();
        let ledger = ledger(db);
        let sealed = |name: &str| {
            let c = call("p", dec!(1), name);
            GovernedCall { charged: NewAuditEvent { timestamp: at(30), ..c.charged }, ..c }
        };
        let blank = |name: &str| {
            let c = call("p", dec!(1), name);
            GovernedCall { refused: Some(NewAuditEvent { event_type: " ".into(), ..c.refused.unwrap() }), ..c }
        };
        let bad_cost = |name: &str| {
            let c = call("p", dec!(1), name);
            GovernedCall { cost: c.cost.actual(dec!(-1)), ..c }
        };
        let calls = [call("p", dec!(1), "a"), sealed("s"), blank("v"), bad_cost("w"), call("p", dec!(2), "b")];
        let answers = futures::future::join_all(calls.iter().map(|c| ledger.govern(c))).await;
        assert!(matches!(&answers[0], Ok(Governed::Charged { .. })), "{answers:?}");
        assert!(matches!(&answers[1], Err(Error::Conflict(Conflict::Sealed { id })) if id == "s-allow"), "{answers:?}");
        assert!(matches!(&answers[2], Err(Error::Validation { field: "event_type", .. })), "{answers:?}");
        assert!(matches!(&answers[3], Err(Error::Validation { .. })), "{answers:?}");
        assert!(matches!(&answers[4], Ok(Governed::Charged { .. })), "{answers:?}");
        assert_eq!(event_ids(db).await, ["a-allow", "b-allow"], "no event of a refused call");
        assert_eq!(scalar(db, "SELECT CAST(coalesce(sum(actual_cost_micros), 0) AS BIGINT) FROM cost_tracking").await, micros(dec!(3)), "no charge of a refused call");
        // Alone, the same.
        assert!(matches!(ledger.govern(&sealed("s2")).await, Err(Error::Conflict(Conflict::Sealed { .. }))));
        assert_eq!(scalar(db, "SELECT count(*) FROM cost_tracking").await, 2);
    }

    async fn a_group_that_fits_commits_its_charges_and_events_at_once_and_a_sealed_event_takes_none_down(db: &Db) {
        let at = |minutes: i64| CLOCK.now() - time::Duration::hours(2) + time::Duration::minutes(minutes);
        audit::seal(&db.with_clock(CLOCK), at(60)).await.unwrap();
        for p in ["p", "q"] {
            budgets::set_limits(db, p, &limit(dec!(10))).await.unwrap();
        }
        // Budget rows that count today and calls within their limits: on PostgreSQL the group
        // is settled by one statement, charges and events together.
        let fitting = [call("p", dec!(1), "a"), call("q", dec!(2), "b"), call("p", dec!(3), "c")];
        let ran = crate::statements(db, async |spy| {
            let ledger = ledger(spy);
            let answers = futures::future::join_all(fitting.iter().map(|c| ledger.govern(c))).await;
            for (c, answer) in fitting.iter().zip(answers) {
                let Ok(Governed::Charged { event: Some(event), .. }) = answer else { panic!("{answer:?}") };
                assert_eq!(Some(&event.id), c.charged.id.as_ref());
            }
        })
        .await;
        if one_server(db).await {
            assert_eq!(ran.len(), 1, "{ran:#?}");
            let commits = scalar(db, "SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM cost_tracking UNION SELECT xmin::text FROM audit_events) AS t").await;
            assert_eq!(commits, 1, "three charges and their events in one commit");
        }
        assert_eq!(event_ids(db).await, ["a-allow", "b-allow", "c-allow"]);
        // One event in a sealed range among them: its call is refused and charges nothing; the
        // others are charged with their events.
        let sealed = GovernedCall { charged: NewAuditEvent { timestamp: at(30), ..call("q", dec!(1), "s").charged }, ..call("q", dec!(1), "s") };
        let mixed = [call("p", dec!(1), "d"), sealed, call("q", dec!(1), "e")];
        let ledger = ledger(db);
        let answers = futures::future::join_all(mixed.iter().map(|c| ledger.govern(c))).await;
        assert!(matches!(&answers[0], Ok(Governed::Charged { .. })), "{answers:?}");
        assert!(matches!(&answers[1], Err(Error::Conflict(Conflict::Sealed { id })) if id == "s-allow"), "{answers:?}");
        assert!(matches!(&answers[2], Ok(Governed::Charged { .. })), "{answers:?}");
        assert_eq!(event_ids(db).await, ["a-allow", "b-allow", "c-allow", "d-allow", "e-allow"]);
        for (p, spent) in [("p", dec!(5)), ("q", dec!(3))] {
            let sum = format!("SELECT CAST(sum(actual_cost_micros) AS BIGINT) FROM cost_tracking WHERE principal_id = '{p}'");
            assert_eq!(scalar(db, &sum).await, micros(spent), "{p}: no charge of the refused call");
            let counter = format!("SELECT daily_spent_micros FROM principal_budgets WHERE principal_id = '{p}'");
            assert_eq!(scalar(db, &counter).await, micros(spent));
        }
    }

    async fn concurrent_governed_calls_never_overspend_and_store_each_answer_once(db: &Db) {
        let seed = crate::seed("concurrent governed calls");
        let mut rng = fastrand::Rng::with_seed(seed);
        let daily: Vec<Decimal> = (0..4).map(|_| Decimal::new(rng.i64(5..40), 1)).collect();
        for (p, limit_) in daily.iter().enumerate() {
            budgets::set_limits(db, &format!("p{p}"), &limit(*limit_)).await.unwrap();
        }
        let ledger = ledger(db);
        let tasks: Vec<_> = (0..32)
            .map(|t| {
                let (ledger, mut rng) = (ledger.clone(), fastrand::Rng::with_seed(seed.wrapping_add(t)));
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    for i in 0..12 {
                        let c = call(&format!("p{}", rng.usize(..4)), Decimal::new(rng.i64(1..10), 1), &format!("t{t}-{i}"));
                        let answer = ledger.govern(&c).await.unwrap();
                        answers.push((c, matches!(answer, Governed::Charged { .. })));
                    }
                    answers
                })
            })
            .collect();
        let mut expected = Vec::new();
        let mut charged_micros = [0; 4];
        for task in tasks {
            for (c, charged) in task.await.unwrap() {
                let event = if charged { &c.charged } else { c.refused.as_ref().unwrap() };
                expected.push(event.id.clone().unwrap());
                if charged {
                    charged_micros[c.cost.principal_id[1..].parse::<usize>().unwrap()] += micros(c.cost.actual.unwrap());
                }
            }
        }
        expected.sort();
        assert_eq!(event_ids(db).await, expected, "seed {seed}: each answer's event, once");
        for (p, limit_) in daily.iter().enumerate() {
            let sum = scalar(db, &format!("SELECT CAST(coalesce(sum(actual_cost_micros), 0) AS BIGINT) FROM cost_tracking WHERE principal_id = 'p{p}'")).await;
            assert_eq!(sum, charged_micros[p], "seed {seed}: p{p}'s ledger holds what was answered charged");
            assert!(sum <= micros(*limit_), "seed {seed}: p{p} spent {sum} of {limit_}");
        }
        if one_server(db).await {
            let commits = scalar(db, "SELECT count(DISTINCT xmin::text) FROM audit_events").await;
            assert!(commits < 32 * 12 / 2, "{} calls took {commits} commits", 32 * 12);
        }
    }
}

/// Terminates the ledger's connections every 20–60 ms while 32 tasks make keyed governed calls
/// and retry what failed: every call answered charged has one cost row and one event, each
/// refused call one refusal event at most, and nothing else is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
async fn killed_connections_lose_or_double_no_governed_call() {
    let t = TestDb::new(Backend::Postgres, Schema::Migrated).await;
    let db = &t.db;
    let daily = dec!(15);
    budgets::set_limits(db, "hot", &limit(daily)).await.unwrap();
    let url = format!("{}?application_name=sark_killed_governed", t.url);
    let ledger = Ledger::new(sark_db::connect(&url).await.unwrap().with_clock(CLOCK), GroupCommit::default());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = killer(db, "sark_killed_governed", done.clone());
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let (ledger, db) = (ledger.clone(), db.clone());
            tokio::spawn(async move {
                let (mut answered, mut failures) = (Vec::new(), 0);
                for i in 0..10 {
                    let key = format!("t{task}-{i}");
                    let mut c = call("hot", dec!(0.07), &key);
                    c.cost = c.cost.idempotency_key(&key);
                    loop {
                        match ledger.govern(&c).await {
                            Ok(answer) => {
                                let event = match &answer {
                                    Governed::Charged { event, .. } | Governed::Refused { event, .. } => {
                                        event
                                    }
                                };
                                if let Some(event) = event {
                                    assert_eq!(
                                        audit::get(&db, &event.id).await.unwrap(),
                                        *event,
                                        "acknowledged, so committed"
                                    );
                                }
                                break answered.push((key, matches!(answer, Governed::Charged { .. })));
                            }
                            Err(Error::Db(_)) => failures += 1,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                (answered, failures)
            })
        })
        .collect();
    let (answered, failures, kills) = gather(tasks, done, killer).await;
    eprintln!("{kills} connections killed, {failures} governed calls failed and were retried");
    // A group that loses its connection goes again, so few calls (or none) see a failure.
    assert!(kills > 0, "the test must kill connections under load");
    let charged: Vec<&String> = answered.iter().filter(|(_, c)| *c).map(|(k, _)| k).collect();
    assert_eq!(
        scalar(db, "SELECT count(*) FROM cost_tracking").await,
        charged.len() as i64,
        "one row per charged call"
    );
    let mut allowed =
        common::strings(db, "SELECT id FROM audit_events WHERE decision = 'allow' ORDER BY id").await;
    allowed.sort();
    let mut expected: Vec<String> = charged.iter().map(|k| format!("{k}-allow")).collect();
    expected.sort();
    assert_eq!(allowed, expected, "one event per charged call, none for another");
    let denied = common::strings(db, "SELECT id FROM audit_events WHERE decision = 'deny'").await;
    for id in &denied {
        let key = id.trim_end_matches("-deny");
        assert!(
            answered.iter().any(|(k, c)| k == key && !c),
            "{id}: a refusal's event for a call answered charged"
        );
    }
    let sum =
        scalar(db, "SELECT CAST(coalesce(sum(actual_cost_micros), 0) AS BIGINT) FROM cost_tracking").await;
    assert!(sum <= micros(daily), "{sum} spent of {daily}");
}
