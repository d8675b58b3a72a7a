//! The built `sark-db` binary, end to end, against a SQLite file and a PostgreSQL database.

#[path = "../../tests/integration/common/mod.rs"]
mod common;

use common::certs;

use rust_decimal::{Decimal, dec};
use sark_db::ConnectionTrait;
use sark_db::audit::{self, NewAuditEvent};
use sark_db::ledger::costs::{self, NewCost};
use serde_json::{Value, json};
use std::process::{Command, Output};
use time::macros::datetime;

/// Runs `sark-db --database-url url args…`.
fn sark(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sark-db"))
        .arg("--database-url")
        .arg(url)
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("the binary runs")
}

/// Runs a command that must succeed with exit code `code`, and returns its stdout as JSON.
fn json_of(url: &str, args: &[&str], code: i32) -> Value {
    let out = sark(url, &[args, &["--json"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs a command and returns its exit code, stdout and stderr.
fn run(url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = sark(url, args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A decimal printed as JSON text.
fn amount(value: &Value) -> Decimal {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not a decimal: {value}"))
}

/// The `(key, amount, count)` of each total of a `cost summary`.
fn totals(value: &Value) -> Vec<(&str, Decimal, i64)> {
    let rows = value.as_array().unwrap_or_else(|| panic!("not an array: {value}"));
    rows.iter()
        .map(|t| (t["key"].as_str().unwrap(), amount(&t["amount"]), t["count"].as_i64().unwrap()))
        .collect()
}

/// The application role the PostgreSQL session grants (dropped with the test).
fn app_role() -> String {
    format!("sark_cli_app_{}", std::process::id())
}

/// Everything an operator does, on the database at `url` (empty at first).
async fn operator_session(url: &str) {
    // Migrations.
    let status = json_of(url, &["migrate", "up"], 0);
    let migrations = status.as_array().unwrap();
    assert!(migrations.len() >= 16, "{status}");
    assert!(migrations.iter().all(|m| m["status"] == "Applied"), "{status}");
    assert_eq!(json_of(url, &["migrate", "status"], 0), status);

    // Budgets.
    let set = json_of(url, &["budget", "set", "ann", "--daily", "1", "--monthly", "10"], 0);
    let numbers = [&set["daily"]["limit"], &set["monthly"]["limit"], &set["daily"]["spent"]].map(amount);
    assert_eq!(numbers, [dec!(1), dec!(10), dec!(0)]);
    let (code, text, _) = run(url, &["budget", "status", "ann"]);
    assert_eq!(code, Some(0));
    assert!(text.contains("ann (USD)") && text.contains("daily") && text.contains("monthly"), "{text}");

    // Costs written by a service, then read by the operator.
    let db = sark_db::connect(url).await.unwrap();
    let at = datetime!(2026-11-20 10:00 UTC);
    for (principal, amount) in [("ann", dec!(0.4)), ("ann", dec!(0.35)), ("bob", dec!(2))] {
        costs::record(
            &db,
            &NewCost { timestamp: at, ..NewCost::new(principal, "search-api", "query").actual(amount) },
        )
        .await
        .unwrap();
    }
    let by_principal = json_of(url, &["cost", "summary", "--by", "principal"], 0);
    assert_eq!(totals(&by_principal), [("ann", dec!(0.75), 2), ("bob", dec!(2), 1)]);
    let by_day = json_of(
        url,
        &["cost", "summary", "--principal", "ann", "--from", "2026-11-01", "--to", "2026-12-01"],
        0,
    );
    assert_eq!(totals(&by_day), [("2026-11-20", dec!(0.75), 2)]);

    // Reconciliation: clean, then a counter that disagrees with the ledger exits 1.
    let window = ["budget", "reconcile", "--from", "2026-11-01", "--to", "2026-12-01"];
    assert_eq!(json_of(url, &window, 0), json!([]));
    db.execute_unprepared(
        "UPDATE principal_budgets SET daily_spent_micros = daily_spent_micros + 1 WHERE principal_id = 'ann'",
    )
    .await
    .unwrap();
    let drift = json_of(url, &window, 1);
    assert_eq!(drift.as_array().unwrap().len(), 1, "{drift}");
    assert_eq!((&drift[0]["principal_id"], &drift[0]["window"]), (&json!("ann"), &json!("daily")));

    // The audit log.
    for (event, minute) in [("tool_invoked", 1), ("policy_denied", 2)] {
        let timestamp = datetime!(2026-11-20 10:00 UTC) + time::Duration::minutes(minute);
        audit::append(
            &db,
            &NewAuditEvent { correlation_id: Some("req-1".into()), timestamp, ..NewAuditEvent::new(event) },
        )
        .await
        .unwrap();
    }
    let hops = json_of(url, &["audit", "trace", "req-1"], 0);
    let types: Vec<&Value> = hops.as_array().unwrap().iter().map(|e| &e["event_type"]).collect();
    assert_eq!(types, [&json!("tool_invoked"), &json!("policy_denied")]);
    let denied =
        json_of(url, &["audit", "query", "--from", "2026-11-20", "--event-type", "policy_denied"], 0);
    assert_eq!(denied.as_array().unwrap().len(), 1);
    let limited = json_of(url, &["audit", "query", "--from", "2026-11-20", "--limit", "1"], 0);
    assert_eq!(limited.as_array().unwrap().len(), 1);

    // Seals: clean, then an event changed past the database's rules exits 1.
    let seal = json_of(url, &["audit", "seal", "--until", "2026-11-21"], 0);
    assert_eq!((&seal["seq"], &seal["event_count"]), (&json!(1), &json!(2)), "{seal}");
    assert_eq!(json_of(url, &["audit", "verify"], 0)["seals"].as_array().unwrap().len(), 1);
    // Anchors: a key pair, the seal signed into a file outside the database, checked clean.
    let keys = tempfile::tempdir().unwrap();
    let file = |name: &str| keys.path().join(name).display().to_string();
    let (key, public, anchors) = (file("anchor.pem"), file("anchor.pub.pem"), file("anchors.jsonl"));
    let made = json_of(url, &["audit", "keygen", "--key", &key, "--public-key", &public], 0);
    assert_eq!(made["public_key"], json!(public));
    let (code, _, stderr) = run(url, &["audit", "keygen", "--key", &key, "--public-key", &public]);
    assert_eq!(code, Some(3), "a key is never overwritten: {stderr}");
    let anchored = json_of(url, &["audit", "anchor", "--key", &key, "--out", &anchors], 0);
    assert_eq!(anchored.as_array().map(|a| a.len()), Some(1), "{anchored}");
    assert_eq!(
        json_of(url, &["audit", "anchor", "--key", &key, "--out", &anchors], 0),
        json!([]),
        "nothing new"
    );
    assert_eq!(std::fs::read_to_string(&anchors).unwrap().lines().count(), 1);
    let with_anchors = ["audit", "verify", "--anchors", &anchors, "--public-key", &public];
    assert_eq!(json_of(url, &with_anchors, 0)["anchors"]["last_anchored"], json!(1));
    let (code, _, stderr) = run(url, &["audit", "anchor", "--key", &public, "--out", &anchors]);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("not a PKCS#8 PEM Ed25519 private key"), "{stderr}");

    let tamper = if url.starts_with("postgres") {
        "SET session_replication_role = replica; UPDATE audit_events SET severity = 'none'; SET session_replication_role = DEFAULT"
    } else {
        "DROP TRIGGER audit_events_no_update; UPDATE audit_events SET severity = 'none'"
    };
    db.execute_unprepared(tamper).await.unwrap();
    let (code, report, _) = run(url, &["audit", "verify", "--from", "2026-11-01"]);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("changed") && report.contains("tampering found"), "{report}");
    // The seal replaced by one over the changed log: verify alone is satisfied, the anchor is not.
    let reseal = if url.starts_with("postgres") {
        "SET session_replication_role = replica; DELETE FROM audit_seal_entries; DELETE FROM audit_seals; SET session_replication_role = DEFAULT"
    } else {
        "DROP TRIGGER audit_seal_entries_no_delete; DROP TRIGGER audit_seals_no_delete; DELETE FROM audit_seal_entries; DELETE FROM audit_seals"
    };
    db.execute_unprepared(reseal).await.unwrap();
    json_of(url, &["audit", "seal", "--until", "2026-11-21"], 0);
    assert_eq!(run(url, &["audit", "verify"]).0, Some(0), "verify alone sees a self-consistent chain");
    let (code, report, _) = run(url, &with_anchors);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("anchored seal replaced: seal 1"), "{report}");

    // The v1 copy of a database without v1 rows agrees with v2.
    let (code, report, stderr) = run(url, &["v1", "verify"]);
    assert_eq!(code, Some(0), "{report}{stderr}");
    // A v1 server that arrived after the copy is missing in v2: exit 1 with the report.
    db.execute_unprepared("INSERT INTO mcp_servers (id, name, transport, command) VALUES ('srv-late', 'Late', 'stdio', 'npx late')")
        .await
        .unwrap();
    let (code, report, _) = run(url, &["v1", "verify"]);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("missing in v2: 1") && report.contains("srv-late"), "{report}");

    // Maintenance and the application role (PostgreSQL only).
    let maintained = json_of(url, &["maintenance", "run", "--keep-audit-days", "3650"], 0);
    assert_eq!(maintained["removed"], json!([]), "{maintained}");
    let (code, _, stderr) = run(url, &["privileges", "grant", &app_role()]);
    if url.starts_with("postgres") {
        assert_eq!(code, Some(0), "{stderr}");
        let role = app_role();
        db.execute_unprepared(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).await.unwrap();
    } else {
        assert_eq!(code, Some(3));
        assert!(stderr.contains("SQLite has no roles"), "{stderr}");
    }

    // Refusals: invalid input and bad usage, with nothing written.
    let (code, _, stderr) = run(url, &["budget", "set", " ", "--daily", "1"]);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("invalid principal_id"), "{stderr}");
    let (code, _, stderr) = run(url, &["budget", "set", "cy", "--daily=-1"]);
    assert_eq!(code, Some(3), "{stderr}");
    let untouched = json_of(url, &["budget", "status", "cy"], 0);
    assert_eq!(
        (&untouched["daily"]["limit"], &untouched["monthly"]["limit"]),
        (&Value::Null, &Value::Null),
        "{untouched}"
    );
    assert_eq!(run(url, &["budget", "frobnicate"]).0, Some(2));
    assert_eq!(run(url, &["audit", "query", "--from", "yesterday"]).0, Some(2));
}

/// The audit-seams reproduction: 120 days of events, retention keeps 30, a seal over what is
/// left, one event changed past the database's rules: `audit verify` exits 1 naming it.
async fn retention_then_seal(url: &str) {
    json_of(url, &["migrate", "up"], 0);
    let db = sark_db::connect(url).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let events: Vec<_> = (1..=120)
        .map(|g| NewAuditEvent {
            id: Some(format!("e{g}")),
            timestamp: now - time::Duration::days(g),
            ..NewAuditEvent::new("x")
        })
        .collect();
    audit::append_many(&db, &events).await.unwrap();
    let maintained = json_of(url, &["maintenance", "run", "--keep-audit-days", "30"], 0);
    assert!(!maintained["removed"].as_array().unwrap().is_empty(), "{maintained}");
    json_of(url, &["audit", "seal"], 0);
    assert_eq!(run(url, &["audit", "verify"]).0, Some(0));
    let tamper = if url.starts_with("postgres") {
        "SET session_replication_role = replica; UPDATE audit_events SET severity = 'critical' WHERE id = 'e5'; SET session_replication_role = DEFAULT"
    } else {
        "DROP TRIGGER audit_events_no_update; UPDATE audit_events SET severity = 'critical' WHERE id = 'e5'"
    };
    db.execute_unprepared(tamper).await.unwrap();
    let (code, report, _) = run(url, &["audit", "verify"]);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("changed: e5 at"), "{report}");
}

/// The registry and federation commands, on the database at `url` (empty at first).
async fn registry_and_federation(url: &str) {
    use sark_db::entity::{Protocol, SensitivityLevel};
    use sark_db::registry::capabilities::{self, NewCapability};
    use sark_db::registry::resources::{self, NewResource};
    json_of(url, &["migrate", "up"], 0);
    let db = sark_db::connect(url).await.unwrap();

    // Resources: filters, keyset pages, show, delete.
    for (id, name, protocol, level) in [
        ("r1", "Files", Protocol::Mcp, SensitivityLevel::Low),
        ("r2", "Filings API", Protocol::Http, SensitivityLevel::High),
        ("r3", "Ledger", Protocol::Grpc, SensitivityLevel::High),
    ] {
        let new = NewResource {
            id: Some(id.into()),
            sensitivity_level: level,
            ..NewResource::new(name, protocol, "npx x")
        };
        resources::create(&db, &new).await.unwrap();
    }
    capabilities::create(&db, "r1", &NewCapability::new("read")).await.unwrap();
    capabilities::create(&db, "r1", &NewCapability::new("write")).await.unwrap();
    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(&json_of(url, &["resource", "list"], 0)), ["r1", "r2", "r3"]);
    assert_eq!(ids(&json_of(url, &["resource", "list", "--protocol", "http"], 0)), ["r2"]);
    assert_eq!(ids(&json_of(url, &["resource", "list", "--sensitivity", "high"], 0)), ["r2", "r3"]);
    assert_eq!(ids(&json_of(url, &["resource", "list", "--name-prefix", "Fil"], 0)), ["r1", "r2"]);
    let first = json_of(url, &["resource", "list", "--limit", "2"], 0);
    assert_eq!((ids(&first), &first["next"]), (vec!["r1".to_owned(), "r2".to_owned()], &json!("r2")));
    let rest = json_of(url, &["resource", "list", "--limit", "2", "--after", "r2"], 0);
    assert_eq!((ids(&rest), &rest["next"]), (vec!["r3".to_owned()], &Value::Null));
    let (code, text, _) = run(url, &["resource", "list", "--limit", "2"]);
    assert_eq!(code, Some(0));
    assert!(text.contains("Filings API") && text.contains("more: --after r2"), "{text}");
    let (code, _, stderr) = run(url, &["resource", "list", "--protocol", "ftp"]);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("protocol"), "{stderr}");
    let shown = json_of(url, &["resource", "show", "r1"], 0);
    let names: Vec<&Value> = shown["capabilities"].as_array().unwrap().iter().map(|c| &c["name"]).collect();
    assert_eq!((&shown["resource"]["name"], names), (&json!("Files"), vec![&json!("read"), &json!("write")]));
    let (code, _, stderr) = run(url, &["resource", "delete", "r1"]);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(
        json_of(url, &["resource", "show", "r1"], 0)["capabilities"].as_array().unwrap().len(),
        2,
        "nothing deleted"
    );
    let removed = json_of(url, &["resource", "delete", "r1", "--yes"], 0);
    assert_eq!(
        (&removed["resource"]["id"], removed["capabilities"].as_array().unwrap().len()),
        (&json!("r1"), 2)
    );
    let (code, _, stderr) = run(url, &["resource", "show", "r1"]);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("not found"), "{stderr}");
    assert_eq!(run(url, &["resource", "delete", "r1", "--yes"]).0, Some(3));

    // Federation: register, list with days left, check, rotate, enable and disable.
    let dir = tempfile::tempdir().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let pem_file = |name: &str, pem: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    };
    let cert = |cn: &str, days: i64| {
        certs::certificate_valid(cn, now - time::Duration::days(30), now + time::Duration::days(days)).0
    };
    let year = pem_file("year.pem", cert("year", 365));
    let soon = pem_file("soon.pem", cert("soon", 10));
    let key = pem_file("key.pem", certs::private_key());
    for (node, file, extra) in [
        ("globex", &year, None),
        ("initech", &soon, None),
        ("umbrella", &year, None),
        ("hooli", &soon, Some("--disabled")),
    ] {
        let endpoint = format!("https://sark.{node}.example");
        let mut args =
            vec!["federation", "register", node, "--name", node, "--endpoint", &endpoint, "--cert", file];
        args.extend(extra);
        let registered = json_of(url, &args, 0);
        assert_eq!(
            (&registered["node"]["node_id"], &registered["node"]["enabled"]),
            (&json!(node), &json!(extra.is_none()))
        );
    }
    // Time passes for umbrella: its anchor expired 23 hours ago (written as the owner could);
    // days left are rounded down, so an expired anchor has fewer than 0.
    let expired =
        certs::certificate_valid("old", now - time::Duration::days(400), now - time::Duration::hours(23)).0;
    let update = sark_db::sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE federation_nodes SET trust_anchor_cert = $1 WHERE node_id = 'umbrella'",
        [expired.into()],
    );
    db.execute_raw(update).await.unwrap();
    let listed = json_of(url, &["federation", "list"], 0);
    let days: Vec<(&str, i64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["node"]["node_id"].as_str().unwrap(), n["days_left"].as_i64().unwrap()))
        .collect();
    assert_eq!(days, [("globex", 364), ("hooli", 9), ("initech", 9), ("umbrella", -1)], "{listed:#}");
    let (code, text, _) = run(url, &["federation", "list"]);
    assert_eq!(code, Some(0));
    assert!(text.contains("anchor sha-256") && text.contains("initech"), "{text}");
    let checked = |within: &str, code: i32| -> Vec<String> {
        let found = json_of(url, &["federation", "check", "--within", within], code);
        found.as_array().unwrap().iter().map(|n| n["node"]["node_id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        checked("30d", 1),
        ["initech", "umbrella"],
        "enabled nodes expiring within 30 days or expired"
    );
    assert_eq!(checked("5d", 1), ["umbrella"]);
    assert_eq!(checked("1w", 1), ["umbrella"]);
    assert_eq!(checked("240h", 1), ["initech", "umbrella"]);
    let (code, text, _) = run(url, &["federation", "check", "--within", "30d"]);
    assert_eq!(code, Some(1));
    assert!(text.contains("umbrella") && !text.contains("hooli"), "{text}");
    json_of(url, &["federation", "disable", "umbrella"], 0);
    let rotated = json_of(url, &["federation", "rotate", "initech", "--cert", &year], 0);
    assert_eq!(rotated["days_left"], json!(364));
    assert_eq!(checked("30d", 0), Vec::<String>::new());
    let enabled = json_of(url, &["federation", "enable", "hooli"], 0);
    assert_eq!(enabled["node"]["enabled"], json!(true));
    assert_eq!(checked("30d", 1), ["hooli"]);
    let shown = json_of(url, &["federation", "show", "globex"], 0);
    let anchor = &shown["anchor"];
    assert_eq!(anchor["subject"], json!("CN=year"));
    assert_eq!(anchor["fingerprint_sha256"].as_str().map(str::len), Some(64));

    // Refusals: exit 3 (2 for usage), nothing written.
    let register = |node: &'static str, endpoint: &'static str, cert: &str| {
        vec!["federation", "register", node, "--name", "X", "--endpoint", endpoint, "--cert"]
            .into_iter()
            .map(str::to_owned)
            .chain([cert.to_owned()])
            .collect::<Vec<String>>()
    };
    let words = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<String>>();
    for (args, says) in [
        (register("x", "http://example.com", &year), "endpoint"),
        (register("x", "https://x.example", &key), "PRIVATE KEY"),
        (register("globex", "https://x.example", &year), "exists"),
        (words(&["federation", "rotate", "globex", "--cert", &key]), "PRIVATE KEY"),
        (words(&["federation", "enable", "nobody"]), "not found"),
        (words(&["federation", "show", "nobody"]), "not found"),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, stderr) = run(url, &args);
        assert_eq!(code, Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert_eq!(json_of(url, &["federation", "list"], 0).as_array().unwrap().len(), 4);
    assert_eq!(json_of(url, &["federation", "show", "globex"], 0)["anchor"], *anchor, "globex unchanged");
    for bad in ["30", "30x", "-3d", "d"] {
        assert_eq!(run(url, &["federation", "check", "--within", bad]).0, Some(2), "{bad}");
    }
}

#[test]
fn the_registry_and_federation_commands_explain_themselves() {
    for (args, says) in [
        (["resource", "list", "--help"], "--name-prefix"),
        (["resource", "delete", "--help"], "--yes"),
        (["federation", "check", "--help"], "monitoring"),
        (["federation", "register", "--help"], "--cert"),
        (["audit", "anchor", "--help"], "--key"),
    ] {
        let (code, text, _) = run("sqlite::memory:", &args);
        assert_eq!(code, Some(0), "{args:?}");
        assert!(text.contains(says), "{args:?}: {text}");
    }
}

#[test]
fn a_url_of_another_scheme_is_refused_naming_it() {
    let (code, _, stderr) = run("nonsense://x", &["budget", "status", "ann"]);
    assert_eq!(code, Some(3));
    assert!(
        stderr.contains("\"nonsense\"") && stderr.contains("sqlite:, postgres:, postgresql:"),
        "{stderr}"
    );
    assert!(!stderr.contains("lookup"), "{stderr}");
}

/// Each session as a `sqlite` and a `postgres` test, on a fresh empty database of the
/// library's test harness (dropped when the test ends, also when it fails).
macro_rules! sessions {
    ($($session:ident),*) => {$(
        mod $session {
            use super::common::{Backend, Schema, TestDb};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = TestDb::new(Backend::Sqlite, Schema::Empty).await;
                super::$session(&t.url).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
            async fn postgres() {
                let t = TestDb::new(Backend::Postgres, Schema::Empty).await;
                super::$session(&t.url).await;
            }
        }
    )*};
}

sessions!(operator_session, registry_and_federation, retention_then_seal);

#[test]
fn an_unreachable_database_fails_at_once_with_its_cause() {
    let started = std::time::Instant::now();
    let (code, _, stderr) = run("postgres://postgres@127.0.0.1:1/none", &["budget", "status", "ann"]);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
