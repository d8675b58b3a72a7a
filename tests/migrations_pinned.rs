//! Landed migrations are frozen: every migration runs, one at a time, on a fresh SQLite file and
//! on a fresh PostgreSQL database, and the statements it executes — every one the driver runs,
//! prepared or not, as sqlx logs it — are compared with its golden file in
//! `migration/golden/<backend>/`. What depends on the day the test runs (dates, the months of
//! partitions made ahead) is normalised, and the migration table's own bookkeeping is left out.
//! A missing golden file fails the test; `SARK_BLESS=1` writes it — only ever for a new
//! migration, in the commit that adds it.

#[path = "integration/common/mod.rs"]
mod common;

use common::{Backend, Schema, TestDb};
use migration::{Migrator, MigratorTrait};
use sark_db::PoolOptions;
use std::path::PathBuf;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// The statements sqlx ran since the last take.
static RAN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records the SQL of every `sqlx::query` event: the whole text (`db.statement`) when sqlx
/// shortened its summary, else the summary, which is then the whole text.
struct Recorder;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        #[derive(Default)]
        struct Sql {
            summary: String,
            statement: String,
        }
        impl Visit for Sql {
            fn record_str(&mut self, field: &Field, value: &str) {
                match field.name() {
                    "summary" => self.summary = value.to_owned(),
                    "db.statement" => self.statement = value.to_owned(),
                    _ => {}
                }
            }
            fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
        }
        let mut sql = Sql::default();
        event.record(&mut sql);
        let text = if sql.statement.trim().is_empty() { sql.summary } else { sql.statement };
        RAN.lock().unwrap().push(text.trim().to_owned());
    }
}

/// `text` with what depends on today replaced: dates and instants, and the year and month in
/// partition names (`_p2026_12`).
fn normalised(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let digits =
        |from: usize, n: usize| chars.get(from..from + n).is_some_and(|s| s.iter().all(char::is_ascii_digit));
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if digits(i, 4)
            && chars.get(i + 4) == Some(&'-')
            && digits(i + 5, 2)
            && chars.get(i + 7) == Some(&'-')
            && digits(i + 8, 2)
        {
            out.push_str("<date>");
            i += 10;
            while i < chars.len() && (chars[i].is_ascii_digit() || ":.T+Z".contains(chars[i])) {
                i += 1;
            }
        } else if chars[i] == 'p'
            && i > 0
            && chars[i - 1] == '_'
            && digits(i + 1, 4)
            && chars.get(i + 5) == Some(&'_')
            && digits(i + 6, 2)
        {
            out.push_str("p<month>");
            i += 8;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// What ran since the last take, as a golden file holds it.
fn take() -> String {
    let ran = std::mem::take(&mut *RAN.lock().unwrap());
    ran.iter()
        .filter(|sql| !sql.contains("seaql_migrations") && !sql.is_empty())
        .map(|sql| format!("{};\n\n", normalised(sql)))
        .collect()
}

/// Runs every migration on a fresh database of `backend`, one at a time, and returns the
/// migrations whose statements differ from their golden file (writing missing ones with
/// `SARK_BLESS=1`).
async fn differing(backend: Backend, folder: &str) -> Vec<String> {
    let t = TestDb::new(backend, Schema::Empty).await;
    let options = PoolOptions { log_statements: true, max_connections: Some(1), ..PoolOptions::default() };
    let db = sark_db::connect_with(&t.url, &options).await.unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migration/golden").join(folder);
    let bless = std::env::var("SARK_BLESS").is_ok_and(|v| v == "1");
    let mut differ = Vec::new();
    take();
    for migration in Migrator::migrations() {
        Migrator::up(db.pool(), Some(1)).await.unwrap_or_else(|e| panic!("{}: {e}", migration.name()));
        let executed = take();
        let file = dir.join(format!("{}.sql", migration.name()));
        match std::fs::read_to_string(&file) {
            Ok(golden) if golden == executed => {}
            Ok(_) => differ.push(format!(
                "{folder}: {} executes other statements than {}",
                migration.name(),
                file.display()
            )),
            Err(_) if bless => {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&file, &executed).unwrap();
            }
            Err(e) => differ.push(format!(
                "{folder}: {}: no golden file {} ({e})",
                migration.name(),
                file.display()
            )),
        }
    }
    db.close().await.unwrap();
    differ
}

/// One test for both backends, one after the other: the recorder sees every statement of the
/// process, so nothing else may run meanwhile.
#[test]
#[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
fn landed_migrations_execute_what_they_executed_when_they_landed() {
    let subscriber = tracing_subscriber::registry().with(Recorder);
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut differ = runtime.block_on(differing(Backend::Sqlite, "sqlite"));
    differ.extend(runtime.block_on(differing(Backend::Postgres, "postgres")));
    assert!(differ.is_empty(), "a landed migration changed what it executes:\n{}", differ.join("\n"));
}
