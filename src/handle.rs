//! The crate's connection handle: [`Db`], the pool, and [`Tx`], a write transaction opened from
//! it. Every repository function takes either through [`Conn`].
//!
//! The handle knows, from the moment it connects, which [`Server`] runs its statements and
//! which [`Clock`] its writes read; a transaction inherits both. Both bind every timestamp as
//! the database stores it (on SQLite the fixed-width text of [`crate::timestamp`]), so a service
//! that writes entities through `&db` or `&tx` with sea-orm gets the stored form too.

use crate::{Clock, Result, timestamp};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};

/// What runs a handle's statements, which decides the forms the ledger's statements take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Server {
    /// SQLite.
    Sqlite,
    /// PostgreSQL (with or without TimescaleDB): a statement with modifying CTEs runs whole, at
    /// one snapshot.
    Postgres,
    /// A Citus coordinator: it plans a statement with modifying CTEs as separate steps, and a
    /// statement over many principals as many shards' work, so the ledger goes statement by
    /// statement there, each statement on one principal's shard.
    Citus,
}

/// Whether the database has the `citus` extension installed (a Citus coordinator).
const CITUS_INSTALLED: &str = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')";

impl Server {
    /// What `pool` talks to: asked once, of the server itself.
    async fn of(pool: &DatabaseConnection) -> Result<Server> {
        if pool.get_database_backend() != DbBackend::Postgres {
            return Ok(Server::Sqlite);
        }
        let citus = pool.query_one_raw(Statement::from_string(DbBackend::Postgres, CITUS_INSTALLED)).await?;
        let citus: bool = citus.map(|row| row.try_get_by_index(0)).transpose()?.unwrap_or(false);
        Ok(if citus { Server::Citus } else { Server::Postgres })
    }
}

/// A pool of connections to one database, with the [`Server`] it talks to and the [`Clock`]
/// its writes read. Cheap to clone: clones share the pool.
///
/// Made by [`crate::connect`] or [`Db::new`] (from a sea-orm pool a service already has).
/// `&db` is a sea-orm connection too, for a service's own queries and entities.
#[derive(Debug, Clone)]
pub struct Db {
    pool: DatabaseConnection,
    server: Server,
    clock: Clock,
}

impl Db {
    /// The handle of an open sea-orm pool, with the system clock. Asks the server once whether
    /// it is a Citus coordinator.
    pub async fn new(pool: DatabaseConnection) -> Result<Db> {
        let server = Server::of(&pool).await?;
        Ok(Db { pool, server, clock: Clock::default() })
    }

    /// This handle with its writes reading `clock` (tests fix the time this way); it shares
    /// the pool.
    pub fn with_clock(&self, clock: Clock) -> Db {
        Db { clock, ..self.clone() }
    }

    /// The sea-orm pool underneath, which binds timestamps as sea-orm does (on SQLite the schema
    /// refuses them in that form): for what the handle does not offer, such as migrations,
    /// streams or sea-orm's own transactions.
    pub fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    /// Closes the pool, waiting for its connections to close.
    pub async fn close(self) -> Result<()> {
        Ok(self.pool.close().await?)
    }
}

/// A write transaction opened by [`Conn::begin_write`]: what is done through it is committed
/// by [`Tx::commit`], and rolled back by [`Tx::rollback`] or when it is dropped.
#[derive(Debug)]
pub struct Tx {
    txn: DatabaseTransaction,
    server: Server,
    clock: Clock,
}

impl Tx {
    /// Commits what was done through this transaction.
    pub async fn commit(self) -> Result<()> {
        Ok(self.txn.commit().await?)
    }

    /// Rolls back what was done through this transaction.
    pub async fn rollback(self) -> Result<()> {
        Ok(self.txn.rollback().await?)
    }
}

pub(crate) mod sealed {
    use sea_orm::DatabaseConnection;

    /// What the crate asks of a [`super::Conn`] and services cannot: implemented by
    /// [`super::Db`] and [`super::Tx`] only.
    pub trait Sealed {
        /// The pool, where each statement is its own transaction (so a failed one fails only
        /// itself); `None` inside a transaction.
        fn as_pool(&self) -> Option<&DatabaseConnection>;
    }
}

/// The pool or a transaction: what every repository function takes.
pub trait Conn: ConnectionTrait + sealed::Sealed + Send + Sync {
    /// What runs the statements.
    fn server(&self) -> Server;

    /// Where the writes' "now" comes from.
    fn clock(&self) -> &Clock;

    /// Begins a transaction that will write, to compose several calls atomically: `BEGIN
    /// IMMEDIATE` on SQLite, so that it takes the write lock up front (waiting under the busy
    /// timeout) instead of failing with `database is locked` when it first reads and then
    /// writes while another writer holds the lock; an ordinary `BEGIN` on PostgreSQL. Inside a
    /// transaction it is a savepoint.
    ///
    /// ```no_run
    /// # async fn example(db: &sark_db::Db) -> sark_db::Result<()> {
    /// use sark_db::Conn;
    /// let tx = db.begin_write().await?;
    /// // … sark_db calls on &tx …
    /// tx.commit().await?;
    /// # Ok(())
    /// # }
    /// ```
    fn begin_write(&self) -> impl Future<Output = Result<Tx>> + Send;
}

impl sealed::Sealed for Db {
    fn as_pool(&self) -> Option<&DatabaseConnection> {
        Some(&self.pool)
    }
}

impl sealed::Sealed for Tx {
    fn as_pool(&self) -> Option<&DatabaseConnection> {
        None
    }
}

impl Conn for Db {
    fn server(&self) -> Server {
        self.server
    }

    fn clock(&self) -> &Clock {
        &self.clock
    }

    async fn begin_write(&self) -> Result<Tx> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = self.pool.begin_with_options(options).await?;
        Ok(Tx { txn, server: self.server, clock: self.clock })
    }
}

impl Conn for Tx {
    fn server(&self) -> Server {
        self.server
    }

    fn clock(&self) -> &Clock {
        &self.clock
    }

    async fn begin_write(&self) -> Result<Tx> {
        let txn = self.txn.begin().await?;
        Ok(Tx { txn, server: self.server, clock: self.clock })
    }
}

/// `stmt` with its timestamps bound as the database stores them: on SQLite, as the text
/// [`timestamp::text`]; PostgreSQL binds `timestamptz` and is left as it is.
fn stored(mut stmt: Statement) -> Statement {
    if stmt.db_backend == DbBackend::Sqlite {
        for value in stmt.values.iter_mut().flat_map(|v| v.0.iter_mut()) {
            if let Value::TimeDateTimeWithTimeZone(Some(t)) = value {
                *value = Value::String(Some(timestamp::text(*t)));
            }
        }
    }
    stmt
}

/// `ConnectionTrait` for a handle type whose sea-orm connection is its field `$inner`, every
/// statement bound through [`stored`].
macro_rules! stored_connection {
    ($handle:ty, $inner:ident) => {
        #[async_trait::async_trait]
        impl ConnectionTrait for $handle {
            fn get_database_backend(&self) -> DbBackend {
                self.$inner.get_database_backend()
            }

            async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
                self.$inner.execute_raw(stored(stmt)).await
            }

            async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
                self.$inner.execute_unprepared(sql).await
            }

            async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
                self.$inner.query_one_raw(stored(stmt)).await
            }

            async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
                self.$inner.query_all_raw(stored(stmt)).await
            }

            fn support_returning(&self) -> bool {
                self.$inner.support_returning()
            }
        }
    };
}

stored_connection!(Db, pool);
stored_connection!(Tx, txn);
