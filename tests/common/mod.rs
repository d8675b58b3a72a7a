//! Test harness: one test body, two backends (DESIGN §7).
//!
//! `on_both!` turns `async fn name(db: &DatabaseConnection) { … }` into a module with a
//! `sqlite` and a `postgres` test. SQLite runs on a fresh file; PostgreSQL on a fresh database
//! cloned from a template migrated once per test binary. `SARK_TEST_PG` is the admin URL
//! (default `postgres://postgres@127.0.0.1:5432/postgres`); `SARK_TEST_PG=off` skips PostgreSQL
//! on purpose, and an unreachable server fails the test with a hint.
#![allow(dead_code)]

pub mod certs;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::OnceCell;

/// Default admin URL of the test PostgreSQL server.
const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Prefix of every database the harness creates.
const PREFIX: &str = "sark_test_";

/// The backend a test body runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// Whether the fresh database gets the full schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// All migrations applied.
    Migrated,
    /// Nothing at all.
    Empty,
}

/// A fresh database that is removed by [`TestDb::finish`] (or swept by a later run after a
/// panic).
pub struct TestDb {
    /// The connection the body uses.
    pub db: DatabaseConnection,
    /// The URL it was opened with.
    pub url: String,
    /// What to remove afterwards.
    place: Place,
}

enum Place {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

static COUNTER: AtomicU32 = AtomicU32::new(0);
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

fn admin_url() -> Option<String> {
    match std::env::var("SARK_TEST_PG") {
        Ok(v) if v == "off" => None,
        Ok(v) => Some(v),
        Err(_) => Some(DEFAULT_PG.to_owned()),
    }
}

/// `admin_url` with its database replaced by `name`.
fn url_for(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn admin(admin_url: &str) -> DatabaseConnection {
    sark_db::connect(admin_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {admin_url} is unreachable ({e}). Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, point \
             SARK_TEST_PG at another server, or set SARK_TEST_PG=off to run SQLite only"
        )
    })
}

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Drops databases left behind by test processes that no longer run.
async fn sweep(admin: &DatabaseConnection) {
    let rows = admin
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'"),
        ))
        .await
        .expect("list test databases");
    for row in rows {
        let name: String = row.try_get_by_index(0).expect("datname");
        let pid = name.trim_start_matches(PREFIX).split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            let _ =
                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
    }
}

/// The migrated template database of this test process, created on first use.
async fn template(admin_url: &str) -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("{PREFIX}tpl_{}", std::process::id());
            let admin = admin(admin_url).await;
            sweep(&admin).await;
            exec(&admin, &format!("CREATE DATABASE \"{name}\"")).await;
            let db = sark_db::connect(&url_for(admin_url, &name)).await.expect("connect template");
            sark_db::migrate(&db).await.expect("migrate template");
            db.close().await.expect("close template");
            admin.close().await.expect("close admin");
            name
        })
        .await
}

impl TestDb {
    /// A fresh database on `backend` with `schema`.
    pub async fn new(backend: Backend, schema: Schema) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite(schema).await),
            Backend::Postgres => Self::postgres(schema).await,
        }
    }

    async fn sqlite(schema: Schema) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("sark.db").display());
        let db = sark_db::connect(&url).await.expect("open sqlite");
        if schema == Schema::Migrated {
            sark_db::migrate(&db).await.expect("migrate sqlite");
        }
        TestDb { db, url, place: Place::Sqlite(dir) }
    }

    async fn postgres(schema: Schema) -> Option<TestDb> {
        let admin_url = admin_url()?;
        let source = match schema {
            Schema::Migrated => template(&admin_url).await.to_owned(),
            Schema::Empty => "template0".to_owned(),
        };
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}db_{}_{n}", std::process::id());
        let admin = admin(&admin_url).await;
        // Two clones of one template at the same instant can collide; retry briefly.
        for attempt in 0.. {
            let sql = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{source}\"");
            match admin.execute_unprepared(&sql).await {
                Ok(_) => break,
                Err(e) if attempt < 50 && e.to_string().contains("being accessed by other users") => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{sql}: {e}"),
            }
        }
        admin.close().await.expect("close admin");
        let url = url_for(&admin_url, &name);
        let db = sark_db::connect(&url).await.expect("connect test database");
        Some(TestDb { db, url, place: Place::Postgres { admin_url, name } })
    }

    /// The backend this database is on.
    pub fn backend(&self) -> Backend {
        match self.place {
            Place::Sqlite(_) => Backend::Sqlite,
            Place::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Closes the connection and removes the database.
    pub async fn finish(self) {
        self.db.close().await.expect("close test database");
        if let Place::Postgres { admin_url, name } = self.place {
            let admin = admin(&admin_url).await;
            exec(&admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
            admin.close().await.expect("close admin");
        }
    }
}

/// Runs `body` on a fresh database of `backend`; prints a notice when PostgreSQL is off.
pub async fn run<F>(backend: Backend, schema: Schema, body: F)
where
    F: AsyncFnOnce(&DatabaseConnection),
{
    let Some(t) = TestDb::new(backend, schema).await else {
        eprintln!("SARK_TEST_PG=off: PostgreSQL test skipped");
        return;
    };
    body(&t.db).await;
    t.finish().await;
}

/// Declares `async fn name(db: &DatabaseConnection)` bodies, each run as a `sqlite` and a
/// `postgres` test on a migrated database (`on_both!(empty: …)` for an empty one).
#[macro_export]
macro_rules! on_both {
    ($(#[$meta:meta])* async fn $name:ident($db:ident: &DatabaseConnection) $body:block $($rest:tt)*) => {
        $crate::on_both!(@one Migrated, $(#[$meta])* $name, $db, $body);
        $crate::on_both!($($rest)*);
    };
    (empty: $(#[$meta:meta])* async fn $name:ident($db:ident: &DatabaseConnection) $body:block $($rest:tt)*) => {
        $crate::on_both!(@one Empty, $(#[$meta])* $name, $db, $body);
        $crate::on_both!($($rest)*);
    };
    (@one $schema:ident, $(#[$meta:meta])* $name:ident, $db:ident, $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            pub(super) async fn body($db: &sea_orm::DatabaseConnection) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::run($crate::common::Backend::Sqlite, $crate::common::Schema::$schema, body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::run($crate::common::Backend::Postgres, $crate::common::Schema::$schema, body).await;
            }
        }
    };
    () => {};
}

/// Whether `db` is PostgreSQL.
pub fn is_pg(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// Runs a query and returns its single `i64` result.
pub async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get_by_index::<i64>(0).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs a query and returns its first column as strings, in the order returned.
pub async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap_or_else(|e| panic!("{sql}: {e}")))
        .collect()
}

/// The query plan of `query`, one line per step, with sequential scans discouraged on
/// PostgreSQL so that a usable index shows up even on a small table.
pub async fn plan(db: &DatabaseConnection, query: &str) -> Vec<String> {
    use sea_orm::TransactionTrait;
    let txn = db.begin().await.expect("begin");
    let (sql, column) = if is_pg(db) {
        txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.expect("enable_seqscan");
        (format!("EXPLAIN {query}"), 0)
    } else {
        (format!("EXPLAIN QUERY PLAN {query}"), 3)
    };
    let rows = txn
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    rows.iter().map(|r| r.try_get_by_index::<String>(column).expect("plan line")).collect()
}

/// `amount` in micro-units (10⁻⁶), as the ledger stores it; panics on more than six decimals.
pub fn micros(amount: rust_decimal::Decimal) -> i64 {
    let micros = amount * rust_decimal::Decimal::from(1_000_000);
    assert!(micros.fract().is_zero(), "{amount} has more than six decimals");
    i64::try_from(micros).expect("fits i64")
}

/// `micros` micro-units as an amount.
pub fn from_micros(micros: i64) -> rust_decimal::Decimal {
    rust_decimal::Decimal::new(micros, 6)
}

/// A clock fixed far ahead of every timestamp the tests write, so that explicit stamps in
/// any year up to 2099 are "the past" (the tolerance check is tested on its own).
pub const CLOCK: sark_db::Clock = sark_db::Clock::fixed(time::macros::datetime!(2100-01-01 0:00 UTC));
