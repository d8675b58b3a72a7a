//! Opening connections and applying migrations.

use crate::Result;
use crate::handle::Db;
use crate::trace::{operation, traced};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbErr, RuntimeErr, Statement};
use std::time::Duration;

/// How [`connect_with`] opens a pool. `PoolOptions::default()` is what [`connect`] uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most open connections: by default 4 on SQLite (readers run in parallel under WAL,
    /// writers take turns), 10 on PostgreSQL.
    pub max_connections: Option<u32>,
    /// Connections kept open while idle (default 0).
    pub min_connections: u32,
    /// How long the first connection may take to open; past it, or when it fails,
    /// [`connect_with`] fails at once with the cause (default 10 s).
    pub connect_timeout: Duration,
    /// How long a call waits for a free connection of the pool (default 30 s).
    pub acquire_timeout: Duration,
    /// Connections idle this long are closed (default 10 min; `None`: never).
    pub idle_timeout: Option<Duration>,
    /// A pooled connection idle at least this long is pinged before it is handed out, and
    /// replaced when the server or a proxy dropped it (default 1 s; zero pings on every use,
    /// which costs every pooled statement one more round trip).
    pub ping_after_idle: Duration,
    /// Log every statement through the `log` facade, at `info` (default off).
    pub log_statements: bool,
    /// SQLite: how long a writer waits for the write lock (default 30 s).
    pub sqlite_busy_timeout: Duration,
    /// SQLite: `synchronous = FULL`, so that a commit also survives a power loss, instead of
    /// `NORMAL`, under which WAL may lose the last commits then but is never corrupted
    /// (default off).
    pub sqlite_full_sync: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: None,
            min_connections: 0,
            connect_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(600)),
            ping_after_idle: Duration::from_secs(1),
            log_statements: false,
            sqlite_busy_timeout: Duration::from_secs(30),
            sqlite_full_sync: false,
        }
    }
}

/// Connections in a SQLite pool unless [`PoolOptions::max_connections`] says otherwise.
const SQLITE_POOL_SIZE: u32 = 4;

/// Opens a pool for `url` (`sqlite://…` or `postgres://…`) with [`PoolOptions::default`], and
/// its handle with the system clock.
///
/// SQLite gets WAL, foreign keys on, `synchronous = NORMAL` and a busy timeout;
/// PostgreSQL gets a pool of 10.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// let db = sark_db::connect("sqlite::memory:").await?; // or postgres://user@host/db, sqlite://sark.db?mode=rwc
/// sark_db::migrate(&db).await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<Db> {
    connect_with(url, &PoolOptions::default()).await
}

/// Opens a pool for `url` as `pool` says. One connection is opened first, so that an
/// unreachable server or an unopenable file fails within [`PoolOptions::connect_timeout`]
/// naming its cause (say, `Connection refused`), not after the pool's acquire timeout.
///
/// A URL whose scheme is not one of [`SCHEMES`] is [`crate::Error::Validation`] before anything
/// is opened.
pub async fn connect_with(url: &str, pool: &PoolOptions) -> Result<Db> {
    check_scheme(url)?;
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url);
    options
        .min_connections(pool.min_connections)
        .acquire_timeout(pool.acquire_timeout)
        .idle_timeout(pool.idle_timeout)
        .test_before_acquire_if_idle_for(pool.ping_after_idle)
        .sqlx_logging(pool.log_statements);
    if let Some(max) = pool.max_connections.or(sqlite.then_some(SQLITE_POOL_SIZE)) {
        options.max_connections(max);
    }
    #[cfg(feature = "sqlite")]
    if sqlite {
        use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
        let synchronous =
            if pool.sqlite_full_sync { SqliteSynchronous::Full } else { SqliteSynchronous::Normal };
        let busy_timeout = pool.sqlite_busy_timeout;
        options.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .foreign_keys(true)
                .busy_timeout(busy_timeout)
        });
    }
    match tokio::time::timeout(pool.connect_timeout, first_connection(url)).await {
        Ok(Ok(())) => Db::new(Database::connect(options).await?).await,
        Ok(Err(e)) => Err(e),
        Err(_) => Err(DbErr::Conn(RuntimeErr::Internal(format!(
            "no connection to the database within {:?}",
            pool.connect_timeout
        )))
        .into()),
    }
}

/// The URL schemes [`connect_with`] opens.
pub const SCHEMES: [&str; 3] = ["sqlite", "postgres", "postgresql"];

/// Refuses a URL whose scheme is not one of [`SCHEMES`], naming it and them (a driver would
/// take it for a host name and report a failed address lookup).
fn check_scheme(url: &str) -> Result<()> {
    let accepted = SCHEMES.map(|s| format!("{s}:")).join(", ");
    match url.split_once(':') {
        Some((scheme, _)) if SCHEMES.contains(&scheme) => Ok(()),
        Some((scheme, _)) => Err(crate::Error::validation(
            "url",
            format!("the scheme {scheme:?} is not one sark-db opens; use {accepted}"),
        )),
        None => Err(crate::Error::validation("url", format!("has no scheme; use {accepted}"))),
    }
}

/// Opens and closes one connection to `url`, outside any pool (which would retry until its
/// acquire timeout and then report only that), and says why it could not.
async fn first_connection(url: &str) -> Result<()> {
    let opened = if url.starts_with("sqlite:") {
        open_once::sqlite(url).await
    } else {
        open_once::postgres(url).await
    };
    opened.map_err(|e| DbErr::Conn(RuntimeErr::Internal(format!("cannot open the database: {e}"))).into())
}

/// One connection opened and closed per backend; a backend left out of the build says so.
mod open_once {
    /// Opens and closes one connection of type `$connection` to `url`.
    macro_rules! open_and_close {
        ($connection:ty, $url:expr) => {{
            use sea_orm::sqlx::Connection;
            match <$connection>::connect($url).await {
                Ok(connection) => connection.close().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }};
    }

    #[cfg(feature = "sqlite")]
    pub(super) async fn sqlite(url: &str) -> Result<(), String> {
        open_and_close!(sea_orm::sqlx::SqliteConnection, url)
    }

    #[cfg(not(feature = "sqlite"))]
    pub(super) async fn sqlite(_url: &str) -> Result<(), String> {
        Err("this build of sark-db has no `sqlite` feature".to_owned())
    }

    #[cfg(feature = "postgres")]
    pub(super) async fn postgres(url: &str) -> Result<(), String> {
        open_and_close!(sea_orm::sqlx::PgConnection, url)
    }

    #[cfg(not(feature = "postgres"))]
    pub(super) async fn postgres(_url: &str) -> Result<(), String> {
        Err("this build of sark-db has no `postgres` feature".to_owned())
    }
}

/// Applies every pending migration. When none is pending it only reads the migration table,
/// so a role without DDL rights (see [`crate::privileges`]) may call it at start-up.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// let db = sark_db::connect("sqlite::memory:").await?;
/// sark_db::migrate(&db).await?; // at start-up: applies what is pending
/// sark_db::migrate(&db).await?; // and nothing the second time
/// # Ok(())
/// # }
/// ```
pub async fn migrate(db: &Db) -> Result<()> {
    traced(operation!(INFO, "migrate"), async {
        if !pending(db).await? {
            return Ok(());
        }
        Ok(Migrator::up(db.pool(), None).await?)
    })
    .await
}

/// Whether a migration of this build is not applied yet, read with a plain `SELECT`, so that a
/// role without DDL rights (see [`crate::privileges`]) may call [`migrate`] when all is applied.
async fn pending(db: &Db) -> Result<bool> {
    let sql = Statement::from_string(db.get_database_backend(), "SELECT version FROM seaql_migrations");
    let Ok(rows) = db.query_all_raw(sql).await else {
        return Ok(true); // no migration table yet
    };
    let applied: std::collections::HashSet<String> =
        rows.iter().map(|r| r.try_get::<String>("", "version")).collect::<std::result::Result<_, _>>()?;
    Ok(Migrator::migrations().iter().any(|m| !applied.contains(m.name())))
}

/// Whether `db` talks to PostgreSQL.
pub(crate) fn is_postgres<C: ConnectionTrait>(db: &C) -> bool {
    db.get_database_backend() == sea_orm::DbBackend::Postgres
}
