//! The library's integration tests, in one test binary: one build and one link instead of one
//! per file, one migrated template database shared by every test, and every test free to run
//! beside any other (`.cargo/config.toml` sets the number of test threads). Each module holds
//! the tests of one part of the library; `common` is the harness (one body, every backend).
//! Two test files are binaries of their own, as they watch their whole process through
//! `tracing`: `tests/migrations_pinned.rs` records every statement its process runs, and
//! `tests/spans.rs` installs subscribers, whose interest in each callsite `tracing` keeps for the
//! whole process, so that other tests' threads would race with them.

#[macro_use]
mod common;

mod audit;
mod bad_input;
mod bad_input_generated;
mod budget_windows;
mod budgets;
mod connect;
mod costs;
mod federation;
mod governed;
mod group_commit;
mod maintenance;
mod plans;
mod privileges;
mod resources;
mod schema;
mod seals;
mod serialization;
mod summaries;
mod timestamps;
mod transactions;
mod v1;

/// A fresh seed for a randomized test, or `SARK_SEED`'s to replay one; printed, so that a
/// failure can be replayed. (Not in `common`, which the CLI's tests share without `fastrand`.)
fn seed(test: &str) -> u64 {
    let seed =
        std::env::var("SARK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("{test}: seed {seed} (replay with SARK_SEED={seed})");
    seed
}

/// The statements `call` runs on `db`, as sea-orm hands them to the driver.
pub(crate) async fn statements(
    db: &sark_db::Db,
    call: impl AsyncFnOnce(&sark_db::Db),
) -> Vec<sea_orm::Statement> {
    use sark_db::Conn;
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut pool = db.pool().clone();
    let sink = Arc::clone(&seen);
    pool.set_metric_callback(move |info| sink.lock().unwrap().push(info.statement.clone()));
    let spy = sark_db::Db::new(pool).await.unwrap().with_clock(*db.clock());
    seen.lock().unwrap().clear(); // the handle's one question at connect: which server
    call(&spy).await;
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the call ran no statement");
    seen
}
