//! Bad input, generated: every public write function, fed arbitrary strings, JSON and
//! decimals, either stores the input so that it reads back equal, or refuses it with a typed
//! `Validation` error and writes nothing — and SQLite and PostgreSQL give the same outcome for
//! every input. Plus the regressions that once crashed the process or wrote before failing.

use crate::common;

use common::{Backend, CLOCK, Schema, TestDb, certs, scalar};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use rust_decimal::Decimal;
use sark_db::Db;
use sark_db::audit::{self, NewAuditEvent};
use sark_db::entity::{Protocol, cost_record};
use sark_db::federation::{self, NewNode};
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::{self, NewCost};
use sark_db::ledger::summaries::{self, CostFilter};
use sark_db::registry::capabilities::{self, NewCapability};
use sark_db::registry::discovery;
use sark_db::registry::resources::{self, NewResource};
use sark_db::{Conflict, Error, Result};
use sea_orm::EntityTrait;
use serde_json::{Map, Value as Json, json};
use time::macros::datetime;

/// Seeds of past failures, replayed on every run after a fresh one.
const PAST_FAILURES: &[u64] = &[10055442937814311533, 15044424028259857392];

/// Cases per seed.
const CASES: u32 = 48;

/// Every table a write could touch.
const TABLES: [&str; 7] = [
    "resources",
    "capabilities",
    "federation_nodes",
    "audit_events",
    "cost_tracking",
    "principal_budgets",
    "cost_idempotency_keys",
];

/// One generated input, fed to every write function.
#[derive(Debug, Clone)]
struct Input {
    a: String,
    b: String,
    json: Json,
    amount: Decimal,
}

/// What a write did, comparable across backends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Stored, and read back equal.
    Stored,
    /// Refused before writing, naming this field.
    Refused(&'static str),
    /// Refused because an earlier case stored the same key (generated strings repeat).
    Exists(sark_db::Entity),
}

fn strings() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        3 => "[a-z][a-z0-9 _.-]{0,20}",
        1 => (prop_oneof![Just('x'), Just('é'), Just('😀')], 250usize..=258).prop_map(|(c, n)| c.to_string().repeat(n)),
        2 => prop_oneof![
            Just(String::new()),
            Just(" \t\n".to_owned()),
            Just("a\0b".to_owned()),
            Just("\0".to_owned()),
            Just("e\u{301}\u{302}\u{303}".to_owned()),
            Just("\u{202E}txet lacigol\u{202C}".to_owned()),
            Just("שלום עולם".to_owned()),
            Just("'; DROP TABLE resources; --".to_owned()),
            Just("%_\\".to_owned()),
            Just("\u{7}\u{1b}[31m\u{7f}".to_owned()),
        ],
    ]
}

fn json_leaf() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_filter_map("finite", |x| serde_json::Number::from_f64(x).map(Json::Number)),
        strings().prop_map(Json::String),
    ]
}

fn json_any() -> impl Strategy<Value = Json> {
    json_leaf().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::btree_map(strings(), inner, 0..6)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// An object `depth` levels deep, built without recursion (`json!` would copy the value it
/// wraps, recursively, at every level).
fn nested(depth: usize) -> Json {
    let mut value = Json::Object(Map::new());
    for _ in 1..depth {
        value = Json::Object(Map::from_iter([("a".to_owned(), value)]));
    }
    value
}

fn json_fields() -> impl Strategy<Value = Json> {
    prop_oneof![
        6 => proptest::collection::btree_map(strings(), json_any(), 0..6)
            .prop_map(|m| Json::Object(m.into_iter().collect())),
        1 => json_any(),
        1 => prop_oneof![Just(63usize), Just(64), Just(65), Just(200)].prop_map(nested),
        1 => prop_oneof![Just(1_000usize), Just(120_000)].prop_map(|n| {
            Json::Object((0..n).map(|i| (format!("key-{i:06}"), json!(i))).collect::<Map<_, _>>())
        }),
    ]
}

fn decimals() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (0i64..=10_000_000, 0u32..=8).prop_map(|(m, s)| Decimal::new(m, s)),
        (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
        Just(sark_db::ledger::MAX_AMOUNT),
        Just(Decimal::MAX),
    ]
}

fn inputs() -> impl Strategy<Value = Input> {
    (strings(), strings(), json_fields(), decimals()).prop_map(|(a, b, json, amount)| Input {
        a,
        b,
        json,
        amount,
    })
}

async fn counts(db: &Db) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push(scalar(db, &format!("SELECT count(*) FROM {table}")).await);
    }
    counts
}

/// Runs one write; a refusal must be a `Validation` that left every table as it was, and a
/// success must read back equal through `read_back`.
async fn judge<T>(
    db: &Db,
    what: &str,
    write: impl AsyncFnOnce() -> Result<T>,
    read_back: impl AsyncFnOnce(T) -> std::result::Result<(), String>,
) -> std::result::Result<Outcome, TestCaseError> {
    let before = counts(db).await;
    match write().await {
        Ok(value) => {
            read_back(value)
                .await
                .map_err(|e| TestCaseError::fail(format!("{what}: stored but read back {e}")))?;
            Ok(Outcome::Stored)
        }
        Err(Error::Validation { field, .. }) => {
            prop_assert_eq!(&before, &counts(db).await, "{}: refused on {} but wrote", what, field);
            Ok(Outcome::Refused(field))
        }
        Err(Error::Conflict(Conflict::Exists { entity, .. } | Conflict::NameTaken { entity, .. })) => {
            prop_assert_eq!(&before, &counts(db).await, "{}: a conflict on {} but wrote", what, entity);
            Ok(Outcome::Exists(entity))
        }
        Err(e) => Err(TestCaseError::fail(format!("{what}: neither stored nor a validation error: {e}"))),
    }
}

fn same<T: PartialEq + std::fmt::Debug>(
    field: &str,
    written: &T,
    read: &T,
) -> std::result::Result<(), String> {
    if written == read { Ok(()) } else { Err(format!("{field}: wrote {written:?}, read {read:?}")) }
}

/// Every write function on `db` with `input`; one outcome each.
async fn write_all(db: &Db, input: &Input, pem: &str) -> std::result::Result<Vec<Outcome>, TestCaseError> {
    let Input { a, b, json, amount } = input;
    let mut out = Vec::new();
    let resource =
        NewResource { metadata: json.clone(), ..NewResource::new(a.clone(), Protocol::Http, b.clone()) };
    out.push(
        judge(
            db,
            "resources::create",
            async || resources::create(db, &resource).await,
            async |r| {
                let read = resources::get(db, &r.id).await.map_err(|e| e.to_string())?;
                same("name", a, &read.name)?;
                same("endpoint", b, &read.endpoint)?;
                same("metadata", json, &read.metadata)
            },
        )
        .await?,
    );
    let capability = NewCapability {
        description: Some(b.clone()),
        input_schema: json.clone(),
        ..NewCapability::new(a.clone())
    };
    out.push(
        judge(
            db,
            "capabilities::create",
            async || capabilities::create(db, "base", &capability).await,
            async |c| {
                let read = capabilities::get(db, &c.id).await.map_err(|e| e.to_string())?;
                same("name", a, &read.name)?;
                same("description", &Some(b.clone()), &read.description)?;
                same("input_schema", json, &read.input_schema)
            },
        )
        .await?,
    );
    let found = [NewCapability { metadata: json.clone(), ..NewCapability::new(a.clone()) }];
    out.push(
        judge(
            db,
            "discovery::sync",
            async || discovery::sync(db, "synced", &found).await,
            async |_| {
                let read = capabilities::list_by_resource(db, "synced").await.map_err(|e| e.to_string())?;
                same("names", &vec![a.clone()], &read.iter().map(|c| c.name.clone()).collect())?;
                same("metadata", json, &read[0].metadata)
            },
        )
        .await?,
    );
    let node = NewNode {
        metadata: json.clone(),
        ..NewNode::new(a.clone(), b.clone(), "https://partner.example", pem)
    };
    out.push(
        judge(
            db,
            "federation::register",
            async || federation::register(db, &node).await,
            async |n| {
                let read = federation::get(db, &n.node_id).await.map_err(|e| e.to_string())?;
                same("node_id", a, &read.node_id)?;
                same("name", b, &read.name)?;
                same("metadata", json, &read.metadata)
            },
        )
        .await?,
    );
    let event = NewAuditEvent {
        user_id: Some(b.clone()),
        correlation_id: Some(b.clone()),
        details: json.clone(),
        estimated_cost: Some(*amount),
        ..NewAuditEvent::new(a.clone())
    };
    out.push(
        judge(
            db,
            "audit::append",
            async || audit::append(&db.with_clock(CLOCK), &event).await,
            async |e| {
                let read = audit::get(db, &e.id).await.map_err(|e| e.to_string())?;
                same("event_type", a, &read.event_type)?;
                same("user_id", &Some(b.clone()), &read.user_id)?;
                same("details", json, &read.details)?;
                let traced = audit::trace(db, b).await.map_err(|e| e.to_string())?;
                same("trace", &true, &traced.iter().any(|t| t.id == e.id))
            },
        )
        .await?,
    );
    let batch = [event.clone(), NewAuditEvent { user_id: Some(a.clone()), ..event.clone() }];
    out.push(
        judge(
            db,
            "audit::append_many",
            async || audit::append_many(&db.with_clock(CLOCK), &batch).await,
            async |_| Ok(()),
        )
        .await?,
    );
    let cost = NewCost::new(a.clone(), b.clone(), "cap")
        .actual(*amount)
        .metadata(json.clone())
        .at(datetime!(2026-11-28 12:00 UTC));
    for (name, enforce) in [("costs::charge", true), ("costs::record", false)] {
        let write = async || {
            if enforce {
                costs::charge(&db.with_clock(CLOCK), &cost).await
            } else {
                costs::record(&db.with_clock(CLOCK), &cost).await
            }
        };
        out.push(
            judge(db, name, write, async |o| {
                let row =
                    cost_record::Entity::find_by_id(o.cost_id).one(db).await.map_err(|e| e.to_string())?;
                let row = row.ok_or("no ledger row")?;
                same("principal_id", a, &row.principal_id)?;
                same("resource_id", b, &row.resource_id)?;
                same("metadata", json, &row.metadata)?;
                same("amount", &amount.normalize(), &o.amount.normalize())?;
                let filter = CostFilter {
                    principal_id: Some(a.clone()),
                    resource_id: Some(b.clone()),
                    ..Default::default()
                };
                let total = summaries::total(db, &filter).await.map_err(|e| e.to_string())?;
                same("count", &true, &(total.count >= 1))
            })
            .await?,
        );
    }
    out.push(
        judge(
            db,
            "costs::record_many",
            async || costs::record_many(&db.with_clock(CLOCK), std::slice::from_ref(&cost)).await,
            async |_| Ok(()),
        )
        .await?,
    );
    let limits = Limits { daily: Some(*amount), monthly: None, currency: b.clone() };
    out.push(
        judge(
            db,
            "budgets::set_limits",
            async || budgets::set_limits(db, a, &limits).await,
            async |_| {
                let status = budgets::status(db, a, datetime!(2026-11-28 12:00 UTC))
                    .await
                    .map_err(|e| e.to_string())?;
                same("daily limit", &Some(amount.normalize()), &status.daily.limit.map(|l| l.normalize()))?;
                same("currency", b, &status.currency)
            },
        )
        .await?,
    );
    Ok(out)
}

/// Two fresh databases, one per backend, with the two resources the writes attach to.
async fn databases() -> [TestDb; 2] {
    let mut dbs = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let t = TestDb::new(backend, Schema::Migrated).await;
        for id in ["base", "synced"] {
            resources::create(
                &t.db,
                &NewResource { id: Some(id.into()), ..NewResource::new(id, Protocol::Mcp, "npx x") },
            )
            .await
            .unwrap();
        }
        dbs.push(t);
    }
    dbs.try_into().unwrap_or_else(|_| unreachable!())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
async fn every_write_stores_exactly_or_refuses_the_same_way_on_both_backends() {
    let [sqlite, postgres] = databases().await;
    let (pem, _) = certs::certificate("partner.example.org");
    let fresh =
        std::env::var("SARK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    let handle = tokio::runtime::Handle::current();
    for seed in std::iter::once(fresh).chain(PAST_FAILURES.iter().copied()) {
        eprintln!("generated bad input: seed {seed} (replay with SARK_SEED={seed})");
        let config = Config {
            cases: CASES,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(seed),
            ..Config::default()
        };
        let result = TestRunner::new(config).run(&inputs(), |input| {
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let on_sqlite = write_all(&sqlite.db, &input, &pem).await?;
                    let on_postgres = write_all(&postgres.db, &input, &pem).await?;
                    prop_assert_eq!(on_sqlite, on_postgres, "the backends disagree");
                    Ok(())
                })
            })
        });
        if let Err(e) = result {
            panic!("seed {seed} (replay with SARK_SEED={seed}): {e}");
        }
    }
}

/// A task that writes with a JSON value and hands the value back.
type WithJson<T> = tokio::task::JoinHandle<(Result<T>, Json)>;

/// Runs `write` with `cost`, built and dropped on a thread with a large stack (dropping a
/// 100,000-deep `serde_json::Value` recurses), from an ordinary tokio task.
async fn with_deep_json<T: Send + 'static>(db: &Db, write: fn(Db, Json) -> WithJson<T>) -> Result<T> {
    let big = || std::thread::Builder::new().stack_size(1 << 30);
    let deep = big().spawn(|| nested(100_000)).unwrap().join().unwrap();
    let (result, deep) = write(db.clone(), deep).await.unwrap();
    big().spawn(move || drop(deep)).unwrap().join().unwrap();
    result
}

on_all! {
    async fn json_100000_levels_deep_is_refused_without_crashing(db: &Db) {
        let refused = |r: &Result<_>, field| matches!(r, Err(Error::Validation { field: f, .. }) if *f == field);
        let charge = with_deep_json(db, |db, deep| tokio::spawn(async move {
            let cost = NewCost::new("p", "r", "c").actual(Decimal::ONE).metadata(deep);
            (costs::charge(&db.with_clock(CLOCK), &cost).await, cost.metadata)
        })).await;
        assert!(refused(&charge.map(drop), "metadata"));
        let record = with_deep_json(db, |db, deep| tokio::spawn(async move {
            let cost = NewCost::new("p", "r", "c").actual(Decimal::ONE).metadata(deep);
            (costs::record(&db.with_clock(CLOCK), &cost).await, cost.metadata)
        })).await;
        assert!(refused(&record.map(drop), "metadata"));
        let resource = with_deep_json(db, |db, deep| tokio::spawn(async move {
            let new = NewResource { metadata: deep, ..NewResource::new("r", Protocol::Mcp, "npx r") };
            (resources::create(&db, &new).await, new.metadata)
        })).await;
        assert!(refused(&resource.map(drop), "metadata"));
        let event = with_deep_json(db, |db, deep| tokio::spawn(async move {
            let event = NewAuditEvent { details: deep, ..NewAuditEvent::new("x") };
            (audit::append(&db, &event).await, event.details)
        })).await;
        assert!(refused(&event.map(drop), "details"));
        assert_eq!(counts(db).await, vec![0; TABLES.len()]);
    }

    async fn json_200_levels_deep_is_refused_before_anything_is_written(db: &Db) {
        let deep = nested(200);
        let resource = NewResource { metadata: deep.clone(), ..NewResource::new("r", Protocol::Mcp, "npx r") };
        assert!(matches!(resources::create(db, &resource).await, Err(Error::Validation { field: "metadata", .. })));
        let event = NewAuditEvent { details: deep.clone(), ..NewAuditEvent::new("x") };
        assert!(matches!(audit::append(db, &event).await, Err(Error::Validation { field: "details", .. })));
        let cost = NewCost::new("p", "r", "c").actual(Decimal::ONE).metadata(deep);
        assert!(matches!(costs::charge(db, &cost).await, Err(Error::Validation { field: "metadata", .. })));
        assert_eq!(counts(db).await, vec![0; TABLES.len()]);
        // The deepest accepted reads back through the entities on both backends.
        let deepest = NewResource { metadata: nested(64), ..NewResource::new("r", Protocol::Mcp, "npx r") };
        let stored = resources::create(db, &deepest).await.unwrap();
        assert_eq!(resources::get(db, &stored.id).await.unwrap().metadata, nested(64));
    }

    async fn nul_is_refused_by_field_on_both_backends(db: &Db) {
        let field = |r: Result<()>| match r {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        let cost = |p: &str| NewCost::new(p, "r", "c").actual(Decimal::ONE);
        assert_eq!(field(costs::charge(db, &cost("a\0b")).await.map(drop)), "principal_id");
        assert_eq!(field(resources::create(db, &NewResource::new("a\0", Protocol::Mcp, "npx")).await.map(drop)), "name");
        assert_eq!(field(audit::append(db, &NewAuditEvent::new("ev\0")).await.map(drop)), "event_type");
        let in_json = cost("p").metadata(json!({"k": "v\0"}));
        assert_eq!(field(costs::record(db, &in_json).await.map(drop)), "metadata");
        let in_key = NewAuditEvent { details: json!({"k\0": 1}), ..NewAuditEvent::new("x") };
        assert_eq!(field(audit::append(db, &in_key).await.map(drop)), "details");
        assert_eq!(field(resources::get(db, "a\0").await.map(drop)), "id");
        assert_eq!(field(federation::get(db, "a\0").await.map(drop)), "node_id");
        assert_eq!(field(budgets::status(db, "a\0", datetime!(2026-11-28 0:00 UTC)).await.map(drop)), "principal_id");
        assert_eq!(counts(db).await, vec![0; TABLES.len()]);
    }

    async fn a_float_postgres_would_return_as_an_integer_is_refused(db: &Db) {
        let refused = NewResource { metadata: json!({"n": 1e16}), ..NewResource::new("r", Protocol::Mcp, "npx r") };
        assert!(matches!(resources::create(db, &refused).await, Err(Error::Validation { field: "metadata", .. })));
        let kept = json!({"small": 0.1, "big": 1.5e300, "int": u64::MAX, "neg": i64::MIN, "tiny": 5e-324, "just_below": 9.0e15});
        let stored = resources::create(db, &NewResource { metadata: kept.clone(), ..NewResource::new("r", Protocol::Mcp, "npx r") }).await.unwrap();
        assert_eq!(resources::get(db, &stored.id).await.unwrap().metadata, kept);
    }
}
