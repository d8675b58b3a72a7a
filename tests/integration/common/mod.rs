//! Test harness: one test body, two backends (DESIGN §7), three where Citus is asked for.
//!
//! `on_both!` turns `async fn name(db: &Db) { … }` into a module with a
//! `sqlite` and a `postgres` test; `on_all!` adds a `citus` test. SQLite runs on a fresh file;
//! PostgreSQL on a fresh database cloned from a template migrated once per test binary, dropped
//! by a guard when the test ends (also when it fails). `SARK_TEST_PG` is the admin URL (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); `SARK_TEST_PG=off` compiles the PostgreSQL
//! tests as ignored (`build.rs` sets `cfg(sark_pg_off)`), so they show as ignored, never as
//! passed; an unreachable server fails the test with a hint.
//!
//! `SARK_TEST_CITUS` is the admin URL of a Citus coordinator whose workers are registered in
//! that admin database. Each Citus test gets a fresh database on the coordinator and on every
//! worker, with the extension and the nodes set up, then migrated (a cluster's databases cannot
//! be cloned from a template). Without `SARK_TEST_CITUS` at build time the Citus tests are
//! compiled as ignored (`cfg(sark_citus_off)`).
//!
//! `SARK_TEST_TIMESCALE` is the admin URL of a PostgreSQL server with TimescaleDB preloaded
//! (`shared_preload_libraries = 'timescaledb'`). Every body of `on_both!` and `on_all!` gets a
//! `timescale` test too: a fresh database there, migrated (migration 7 makes the hypertables).
//! Without `SARK_TEST_TIMESCALE` at build time they are compiled as ignored
//! (`cfg(sark_timescale_off)`).
#![allow(dead_code)]

pub mod certs;

use sark_db::Db;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
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
    /// A fresh database on a Citus coordinator and its workers.
    Citus,
    /// A fresh database on a server with TimescaleDB preloaded.
    Timescale,
}

/// Whether the fresh database gets the full schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// All migrations applied.
    Migrated,
    /// Nothing at all.
    Empty,
}

/// A fresh database, removed when dropped (a PostgreSQL database left by a killed process is
/// swept by a later run once it is an hour old).
pub struct TestDb {
    /// The connection the body uses.
    pub db: Db,
    /// The URL it was opened with.
    pub url: String,
    /// What to remove afterwards.
    place: Place,
}

enum Place {
    Sqlite(tempfile::TempDir),
    /// The database `name` on the server of each admin URL (one, or a Citus cluster's nodes).
    Postgres {
        admin_urls: Vec<String>,
        name: String,
        backend: Backend,
    },
}

static COUNTER: AtomicU32 = AtomicU32::new(0);
static TEMPLATE: OnceCell<String> = OnceCell::const_new();
/// The migrated SQLite file of this test process, copied for each test.
static SQLITE_TEMPLATE: OnceCell<(tempfile::TempDir, std::path::PathBuf)> = OnceCell::const_new();

/// Databases of this harness older than this, with nobody connected, are leftovers.
const LEFTOVER_AFTER_SECS: u64 = 3_600;

fn admin_url() -> String {
    match std::env::var("SARK_TEST_PG") {
        Ok(v) if v == "off" => {
            panic!("SARK_TEST_PG=off at run time but not at build time: rebuild the tests")
        }
        Ok(v) => v,
        Err(_) => DEFAULT_PG.to_owned(),
    }
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A new database name: prefix, creation time, process, counter.
fn fresh_name(kind: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX}{kind}_{}_{}_{n}", unix_secs(), std::process::id())
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

async fn admin(admin_url: &str) -> Db {
    sark_db::connect(admin_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {admin_url} is unreachable ({e}). Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, point \
             SARK_TEST_PG at another server, or set SARK_TEST_PG=off to run SQLite only"
        )
    })
}

async fn exec(db: &Db, sql: &str) {
    db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Drops databases of this harness that are over an hour old (by the time in their name) and
/// have nobody connected: left behind by killed runs, on this machine or another.
async fn sweep(admin: &Db) {
    let rows = admin
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT datname FROM pg_database d WHERE datname LIKE '{PREFIX}%' \
                 AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)"
            ),
        ))
        .await
        .expect("list test databases");
    for row in rows {
        let name: String = row.try_get_by_index(0).expect("datname");
        let created = name.trim_start_matches(PREFIX).split('_').nth(1).and_then(|t| t.parse::<u64>().ok());
        if created.is_none_or(|t| t + LEFTOVER_AFTER_SECS < unix_secs()) {
            let _ =
                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
    }
}

/// The migrated template database of this test process, created on first use.
async fn template(admin_url: &str) -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = fresh_name("tpl");
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

/// The migrated SQLite file of this test process, made on first use: migrated, then closed, so
/// that its write-ahead log is checkpointed into the one file that each test copies.
async fn sqlite_template() -> &'static std::path::Path {
    let (_, path) = SQLITE_TEMPLATE
        .get_or_init(|| async {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("template.db");
            let db = sark_db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
                .await
                .expect("open sqlite");
            sark_db::migrate(&db).await.expect("migrate the SQLite template");
            db.close().await.expect("close the SQLite template");
            (dir, path)
        })
        .await;
    path
}

impl TestDb {
    /// A fresh database on `backend` with `schema`.
    pub async fn new(backend: Backend, schema: Schema) -> TestDb {
        match backend {
            Backend::Sqlite => Self::sqlite(schema).await,
            Backend::Postgres => Self::postgres(schema).await,
            Backend::Citus => Self::citus(schema).await,
            Backend::Timescale => Self::timescale(schema).await,
        }
    }

    async fn sqlite(schema: Schema) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sark.db");
        if schema == Schema::Migrated {
            std::fs::copy(sqlite_template().await, &path).expect("copy the migrated SQLite file");
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = sark_db::connect(&url).await.expect("open sqlite");
        TestDb { db, url, place: Place::Sqlite(dir) }
    }

    async fn postgres(schema: Schema) -> TestDb {
        let admin_url = admin_url();
        let source = match schema {
            Schema::Migrated => template(&admin_url).await.to_owned(),
            Schema::Empty => "template0".to_owned(),
        };
        let name = fresh_name("db");
        let admin = admin(&admin_url).await;
        // Two clones of one template at the same instant can collide; retry briefly.
        for attempt in 0.. {
            // FILE_COPY copies the template's files instead of writing every page to the WAL.
            let sql = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{source}\" STRATEGY FILE_COPY");
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
        TestDb {
            db,
            url,
            place: Place::Postgres { admin_urls: vec![admin_url], name, backend: Backend::Postgres },
        }
    }

    async fn citus(schema: Schema) -> TestDb {
        let coordinator = citus_admin_url();
        let server = admin(&coordinator).await;
        let workers = strings(
            &server,
            "SELECT node_name || ':' || node_port FROM citus_get_active_worker_nodes() ORDER BY 1",
        )
        .await;
        server.close().await.expect("close admin");
        assert!(!workers.is_empty(), "the Citus coordinator at {coordinator} has no worker registered");
        let name = fresh_name("citus");
        // One setup at a time: adding nodes in two databases at once updates the same
        // cluster-wide catalog rows on the workers ("tuple concurrently updated").
        static SETUP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _setup = SETUP.lock().await;
        let worker_urls = workers.iter().map(|node| on_node(&coordinator, node));
        let admin_urls: Vec<String> = std::iter::once(coordinator.clone()).chain(worker_urls).collect();
        for node_url in &admin_urls {
            let server = admin(node_url).await;
            sweep(&server).await;
            exec(&server, &format!("CREATE DATABASE \"{name}\"")).await;
            server.close().await.expect("close admin");
            let db = admin(&url_for(node_url, &name)).await;
            exec(&db, "CREATE EXTENSION citus").await;
            db.close().await.expect("close node");
        }
        let url = url_for(&coordinator, &name);
        let db = sark_db::connect(&url).await.expect("connect test database");
        for node in &workers {
            let (host, port) = node.split_once(':').expect("host:port");
            exec(&db, &format!("SELECT citus_add_node('{host}', {port})")).await;
        }
        if schema == Schema::Migrated {
            sark_db::migrate(&db).await.expect("migrate the Citus database");
        }
        TestDb { db, url, place: Place::Postgres { admin_urls, name, backend: Backend::Citus } }
    }

    /// A fresh database on the TimescaleDB server, migrated one by one (a template would be held
    /// open by TimescaleDB's background workers, which refuses the clone).
    async fn timescale(schema: Schema) -> TestDb {
        let admin_url = std::env::var("SARK_TEST_TIMESCALE")
            .ok()
            .filter(|v| v != "off")
            .expect("SARK_TEST_TIMESCALE unset at run time but set at build time: rebuild the tests");
        let server = admin(&admin_url).await;
        sweep(&server).await;
        let name = fresh_name("ts");
        exec(&server, &format!("CREATE DATABASE \"{name}\"")).await;
        server.close().await.expect("close admin");
        let url = url_for(&admin_url, &name);
        let db = sark_db::connect(&url).await.expect("connect test database");
        if schema == Schema::Migrated {
            sark_db::migrate(&db).await.expect("migrate the TimescaleDB database");
        }
        TestDb {
            db,
            url,
            place: Place::Postgres { admin_urls: vec![admin_url], name, backend: Backend::Timescale },
        }
    }

    /// The backend this database is on.
    pub fn backend(&self) -> Backend {
        match self.place {
            Place::Sqlite(_) => Backend::Sqlite,
            Place::Postgres { backend, .. } => backend,
        }
    }
}

fn citus_admin_url() -> String {
    std::env::var("SARK_TEST_CITUS")
        .ok()
        .filter(|v| v != "off")
        .expect("SARK_TEST_CITUS unset at run time but set at build time: rebuild the tests")
}

/// `admin_url` with its host and port replaced by `node` (`host:port`).
fn on_node(admin_url: &str, node: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("a URL");
    let (host, port) = node.split_once(':').expect("host:port");
    url.set_host(Some(host)).expect("a host");
    url.set_port(Some(port.parse().expect("a port"))).expect("a port");
    url.into()
}

impl Drop for TestDb {
    /// Removes the database, also when the test body panicked: the PostgreSQL `DROP` runs on
    /// a thread of its own, since `drop` cannot await.
    fn drop(&mut self) {
        if let Place::Postgres { admin_urls, name, .. } = &self.place {
            let (admin_urls, name) = (admin_urls.clone(), name.clone());
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    for admin_url in admin_urls {
                        let admin = admin(&admin_url).await;
                        exec(&admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                        admin.close().await.expect("close admin");
                    }
                });
            })
            .join();
            if dropped.is_err() && !std::thread::panicking() {
                panic!("could not drop the test database");
            }
        }
    }
}

/// Runs `body` on a fresh database of `backend`.
pub async fn run<F>(backend: Backend, schema: Schema, body: F)
where
    F: AsyncFnOnce(&Db),
{
    let t = TestDb::new(backend, schema).await;
    body(&t.db).await;
}

/// Declares `async fn name(db: &Db)` bodies, each run as a `sqlite`, a
/// `postgres` and a `timescale` test on a migrated database (`on_both!(empty: …)` for an empty
/// one).
#[macro_export]
macro_rules! on_both {
    ($($tests:tt)*) => { $crate::backends!([] $($tests)*); };
}

/// As [`on_both!`], plus a `citus` test of each body on a Citus cluster (`SARK_TEST_CITUS`).
#[macro_export]
macro_rules! on_all {
    ($($tests:tt)*) => { $crate::backends!([citus] $($tests)*); };
}

/// The body of [`on_both!`] and [`on_all!`]: `[citus]` or `[]` says whether a `citus` test is
/// made too.
#[macro_export]
macro_rules! backends {
    ([$($citus:ident)?] $(#[$meta:meta])* async fn $name:ident($db:ident: &Db) $body:block $($rest:tt)*) => {
        $crate::backends!(@one [$($citus)?] Migrated, $(#[$meta])* $name, $db, $body);
        $crate::backends!([$($citus)?] $($rest)*);
    };
    ([$($citus:ident)?] empty: $(#[$meta:meta])* async fn $name:ident($db:ident: &Db) $body:block $($rest:tt)*) => {
        $crate::backends!(@one [$($citus)?] Empty, $(#[$meta])* $name, $db, $body);
        $crate::backends!([$($citus)?] $($rest)*);
    };
    (@one [$($citus:ident)?] $schema:ident, $(#[$meta:meta])* $name:ident, $db:ident, $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            pub(super) async fn body($db: &sark_db::Db) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::run($crate::common::Backend::Sqlite, $crate::common::Schema::$schema, body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
            async fn postgres() {
                $crate::common::run($crate::common::Backend::Postgres, $crate::common::Schema::$schema, body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(sark_timescale_off, ignore = "SARK_TEST_TIMESCALE unset: no TimescaleDB server, not run")]
            async fn timescale() {
                $crate::common::run($crate::common::Backend::Timescale, $crate::common::Schema::$schema, body).await;
            }

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(sark_citus_off, ignore = "SARK_TEST_CITUS unset: no Citus cluster, not run")]
                async fn $citus() {
                    $crate::common::run($crate::common::Backend::Citus, $crate::common::Schema::$schema, body).await;
                }
            )?
        }
    };
    ([$($citus:ident)?]) => {};
}

/// Turns an empty database into a v1 SARK deployment: the v1 tables (as migration 1 makes
/// them) and no sark-db migration bookkeeping, as if sark-db had never run there.
pub async fn v1_database(db: &Db) {
    use migration::MigratorTrait;
    V1Tables::up(db.pool(), None).await.expect("create the v1 tables");
    exec(db, "DROP TABLE seaql_migrations").await;
}

/// Migration 1 alone.
struct V1Tables;

#[async_trait::async_trait]
impl migration::MigratorTrait for V1Tables {
    fn migrations() -> Vec<Box<dyn migration::MigrationTrait>> {
        vec![<sark_db::Migrator as migration::MigratorTrait>::migrations().swap_remove(1)]
    }
}

/// Whether `db` is PostgreSQL.
pub fn is_pg(db: &Db) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// Whether `db` runs TimescaleDB (the extension is installed in it).
pub async fn is_timescale(db: &Db) -> bool {
    is_pg(db) && scalar(db, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").await > 0
}

/// Runs a query and returns its single `i64` result.
pub async fn scalar(db: &Db, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get_by_index::<i64>(0).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs a query and returns its first column as strings, in the order returned.
pub async fn strings(db: &Db, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap_or_else(|e| panic!("{sql}: {e}")))
        .collect()
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

/// An audit event `id` stamped `timestamp` with every field set, each to a value of its own:
/// JSON details nested, with quotes; an IPv6 address; costs below a cent.
pub fn every_field(id: &str, timestamp: time::OffsetDateTime) -> sark_db::audit::NewAuditEvent {
    use sark_db::audit::NewAuditEvent;
    NewAuditEvent {
        id: Some(id.into()),
        timestamp,
        severity: "high".into(),
        user_id: Some("u-1".into()),
        user_email: Some("ada@example.org".into()),
        server_id: Some("r-1".into()),
        tool_name: Some("read".into()),
        decision: Some("allow".into()),
        policy_id: Some("p-7".into()),
        ip_address: Some("2001:db8::1".into()),
        user_agent: Some("claude/1.0".into()),
        request_id: Some("req-9".into()),
        details: serde_json::json!({"args": {"path": "/etc/hosts"}, "quote": "it's \"fine\"; --"}),
        principal_org: Some("acme".into()),
        resource_protocol: Some(sark_db::entity::Protocol::Grpc),
        capability_id: Some("c-1".into()),
        correlation_id: Some("corr-1".into()),
        source_node: Some("acme".into()),
        target_node: Some("globex".into()),
        estimated_cost: Some(rust_decimal::dec!(0.0003)),
        actual_cost: Some(rust_decimal::dec!(1.000001)),
        ..NewAuditEvent::new("tool_invoked")
    }
}
