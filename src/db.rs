//! Opening connections and applying migrations.

use crate::Result;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use std::time::Duration;

/// How long a SQLite writer waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections in a SQLite pool: readers run in parallel under WAL, writers take turns.
const SQLITE_POOL_SIZE: u32 = 4;

/// Opens a pool for `url` (`sqlite://…` or `postgres://…`).
///
/// SQLite gets WAL, foreign keys on, `synchronous = NORMAL` and a busy timeout;
/// PostgreSQL gets sqlx's pool defaults.
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        options.max_connections(SQLITE_POOL_SIZE).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    }
    Ok(Database::connect(options).await?)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    Ok(Migrator::up(db, None).await?)
}

/// Begins a transaction that will write: `BEGIN IMMEDIATE` on SQLite, so that it takes the
/// write lock up front (waiting under the busy timeout) instead of failing with `database is
/// locked` when it first reads and then writes while another writer holds the lock; an ordinary
/// `BEGIN` on PostgreSQL. Compose several calls atomically in it, then `commit`:
///
/// ```no_run
/// # async fn example(db: &sark_db::DatabaseConnection) -> sark_db::Result<()> {
/// let txn = sark_db::begin_write(db).await?;
/// // … sark_db calls on &txn …
/// txn.commit().await?;
/// # Ok(())
/// # }
/// ```
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    Ok(db.begin_with_options(options).await?)
}

/// Whether `db` talks to PostgreSQL.
pub(crate) fn is_postgres<C: ConnectionTrait>(db: &C) -> bool {
    db.get_database_backend() == sea_orm::DbBackend::Postgres
}
