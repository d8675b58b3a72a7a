//! Sealing: tamper evidence for the audit log.
//!
//! [`seal`] closes the time range from the end of the last seal up to `until`: it hashes every
//! event of the range in its canonical form (see `canonical`), stores each hash in
//! `audit_seal_entries`, chains every `retention_log` entry recorded since the previous seal
//! (`audit_seal_removals`), and writes one `audit_seals` row whose digest covers the previous
//! seal's digest, the range, the event hashes and the removal hashes: a chain. From then on
//! the database refuses any event stamped inside a sealed range.
//!
//! A seal proves that the events of its range are the ones that were there when it was made,
//! unchanged, and that the removals it chains are the ones recorded until then. It cannot
//! prove that an event removed before its range was sealed ever existed.

use super::canonical::{ALGORITHM, Chain, event_hash, removal_hash};
use super::decode;
use super::statistics;
use crate::Conn;
use crate::db::is_postgres;
use crate::timestamp;
use crate::trace::{self, operation, traced};
use crate::{Error, Result, Server};
use entity::{audit_event, audit_seal, audit_seal_entry, audit_seal_removal, retention_entry};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{ArrayType, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement, Value,
};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::sync::mpsc;

/// The previous digest of the first seal.
pub(super) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the first seal starts.
pub(super) const BEGINNING: OffsetDateTime = datetime!(0001-01-01 00:00 UTC);

/// PostgreSQL (not Citus): a page of entries by one statement, one array a column.
const INSERT_ENTRIES: &str = include_str!("sql/insert_seal_entries.pg.sql");

/// Events read and hashed at a time: memory stays bounded however large the range.
pub(super) const PAGE: u64 = 5_000;

/// Seals the audit log up to `until` (exclusive), from the end of the last seal; returns the
/// new seal, whose `digest` an operator may publish or sign elsewhere as an external anchor.
/// `until` must lie at least the clock's tolerance in the past (appends may be stamped up to
/// that far from now) and after the last seal's end; otherwise [`Error::Validation`].
///
/// While it runs, appends, other seals and maintenance wait (PostgreSQL: maintenance's advisory
/// lock, then the table locked in `SHARE ROW EXCLUSIVE` mode; SQLite: the write lock), so that
/// every event is either in the seal or after it, every removal is chained by exactly one seal,
/// and seals follow one another. Events are read and
/// their hashes written a page at a time: memory stays bounded. On PostgreSQL, audit tables
/// never analyzed (a log loaded in bulk before autovacuum came by) are analyzed first where this
/// role owns them, so that each page is read by its index.
pub async fn seal<C: Conn>(db: &C, until: OffsetDateTime) -> Result<audit_seal::Model> {
    let clock = db.clock();
    traced(operation!(INFO, "audit::seal"), async {
        let until = timestamp::normalize(until);
        if until > clock.now() - clock.tolerance() {
            return Err(Error::validation("until", "must lie at least the clock's tolerance in the past"));
        }
        statistics::analyze_if_never(db).await?;
        let txn = db.begin_write().await?;
        let tx = &txn;
        if is_postgres(tx) {
            // Maintenance first (it takes the same lock before its own table locks), then the
            // table: conflicts with every insert and with another seal; reads go on.
            tx.execute_raw(Statement::from_sql_and_values(
                tx.get_database_backend(),
                "SELECT pg_advisory_xact_lock($1)",
                [crate::maintenance::LOCK_KEY.into()],
            ))
            .await?;
            tx.execute_unprepared("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE").await?;
        }
        let last = audit_seal::Entity::find().order_by_desc(audit_seal::Column::Seq).one(tx).await?;
        let (seq, start, previous) = match last {
            Some(s) => (s.seq + 1, s.range_end, s.digest),
            None => (1, BEGINNING, GENESIS.to_owned()),
        };
        if until <= start {
            return Err(Error::validation("until", "is not after the end of the last seal"));
        }
        // The entries go in page by page under the seal's number (no other seal can take it:
        // this transaction holds the write lock), the seal row last, once its digest is known.
        // On a PostgreSQL pool the pages are read (and hashed) on another pooled connection
        // while the entries of the page before are written: under this transaction's lock no
        // event can be added or removed, so that connection reads the rows this transaction
        // would.
        let mut chain = Chain::new(ALGORITHM, &previous, start, until);
        let range = Range { seq, start, until, server: db.server() };
        let (pages, hashed) = mpsc::channel(1);
        let stored = range.store(tx, hashed, &mut chain);
        let (read, stored) = if spare_reader(db) {
            tokio::join!(range.read(db, pages), stored)
        } else {
            tokio::join!(range.read(tx, pages), stored)
        };
        read.and(stored)?;
        let removals = chain_removals(tx, seq).await?;
        let (count, digest) = chain.finish(Some(&removals));
        let seal = audit_seal::ActiveModel {
            seq: Set(seq),
            range_start: Set(start),
            range_end: Set(until),
            event_count: Set(count),
            digest: Set(digest),
            previous_digest: Set(previous),
            algorithm: Set(ALGORITHM.to_owned()),
            sealed_at: Set(timestamp::now()),
        }
        .insert(tx)
        .await?;
        txn.commit().await?;
        trace::rows(count);
        Ok(seal)
    })
    .await
}

/// Whether `db` is a PostgreSQL pool (not Citus) with a connection to spare beside the seal's
/// transaction, to read the events on.
#[cfg(feature = "postgres")]
fn spare_reader<C: Conn>(db: &C) -> bool {
    let pool = db.as_pool().filter(|_| db.server() == Server::Postgres);
    pool.is_some_and(|pool| pool.get_postgres_connection_pool().options().get_max_connections() > 1)
}

/// Without PostgreSQL: never.
#[cfg(not(feature = "postgres"))]
fn spare_reader<C: Conn>(_: &C) -> bool {
    false
}

/// A page of events and their hashes.
type Hashed = (Vec<audit_event::Model>, Vec<String>);

/// The range a seal covers, and the seal's number.
#[derive(Clone, Copy)]
struct Range {
    seq: i64,
    start: OffsetDateTime,
    until: OffsetDateTime,
    server: Server,
}

impl Range {
    /// Reads the range's events a page at a time on `reader`, hashes them and sends each page
    /// to `pages` (which holds one: memory stays bounded).
    async fn read<R: ConnectionTrait>(self, reader: &R, pages: mpsc::Sender<Hashed>) -> Result<()> {
        let mut after = None;
        loop {
            let events = page(reader, self.start, self.until, after.as_ref()).await?;
            let Some(last) = events.last() else { return Ok(()) };
            after = Some((last.timestamp, last.id.clone()));
            let hashes = events.iter().map(event_hash).collect();
            if pages.send((events, hashes)).await.is_err() {
                return Ok(()); // the writer stopped on an error: that is the answer
            }
        }
    }

    /// Adds the hashes of the pages `hashed` brings to `chain` and stores their entries on
    /// `writer`.
    async fn store<W: ConnectionTrait>(
        self,
        writer: &W,
        mut hashed: mpsc::Receiver<Hashed>,
        chain: &mut Chain,
    ) -> Result<()> {
        while let Some((events, hashes)) = hashed.recv().await {
            hashes.iter().for_each(|hash| chain.add(hash));
            insert_entries(writer, self.server, self.seq, &events, hashes).await?;
        }
        Ok(())
    }
}

/// Stores the entries of `events`, whose hashes are `hashes`, under seal `seq`: on PostgreSQL
/// by one statement of fixed text (`sql/insert_seal_entries.pg.sql`), elsewhere by one
/// multi-row `INSERT`.
async fn insert_entries<C: ConnectionTrait>(
    tx: &C,
    server: Server,
    seq: i64,
    events: &[audit_event::Model],
    hashes: Vec<String>,
) -> Result<()> {
    if server == Server::Postgres {
        let array = |ty, values: Vec<Value>| Value::Array(ty, Some(Box::new(values)));
        let values = [
            seq.into(),
            array(ArrayType::TimeDateTimeWithTimeZone, events.iter().map(|e| e.timestamp.into()).collect()),
            array(ArrayType::String, events.iter().map(|e| e.id.clone().into()).collect()),
            array(ArrayType::String, hashes.into_iter().map(Value::from).collect()),
        ];
        tx.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, INSERT_ENTRIES, values)).await?;
        return Ok(());
    }
    let entries = events.iter().zip(hashes).map(|(event, hash)| audit_seal_entry::ActiveModel {
        seal_seq: Set(seq),
        timestamp: Set(event.timestamp),
        event_id: Set(event.id.clone()),
        hash: Set(hash),
    });
    audit_seal_entry::Entity::insert_many(entries).exec_without_returning(tx).await?;
    Ok(())
}

/// Records every `retention_log` entry that no seal chains yet as chained by seal `seq`;
/// returns their hashes in id order.
async fn chain_removals<C: ConnectionTrait>(db: &C, seq: i64) -> Result<Vec<String>> {
    use audit_seal_removal::Column as R;
    let chained = Query::select().column(R::RemovalId).from(audit_seal_removal::Entity).to_owned();
    let mut removals = retention_entry::Entity::find()
        .filter(retention_entry::Column::Id.not_in_subquery(chained))
        .all(db)
        .await?;
    removals.sort_by(|a, b| a.id.cmp(&b.id));
    let hashes: Vec<String> = removals.iter().map(removal_hash).collect();
    let rows = removals.iter().zip(&hashes).map(|(removal, hash)| audit_seal_removal::ActiveModel {
        seal_seq: Set(seq),
        removal_id: Set(removal.id.clone()),
        hash: Set(hash.clone()),
    });
    if !hashes.is_empty() {
        audit_seal_removal::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    Ok(hashes)
}

/// Up to [`PAGE`] events of `[start, until)` after the `(timestamp, id)` cursor, in that order.
pub(super) async fn page<C: ConnectionTrait>(
    db: &C,
    start: OffsetDateTime,
    until: OffsetDateTime,
    after: Option<&(OffsetDateTime, String)>,
) -> Result<Vec<audit_event::Model>> {
    use audit_event::Column as A;
    let mut select =
        audit_event::Entity::find().filter(A::Timestamp.gte(start)).filter(A::Timestamp.lt(until));
    if let Some((t, id)) = after {
        select = select.filter(after_key(A::Timestamp, A::Id, *t, id));
    }
    let select = select.order_by_asc(A::Timestamp).order_by_asc(A::Id).limit(PAGE);
    let rows = db.query_all_raw(select.build(db.get_database_backend())).await?;
    Ok(rows.iter().map(decode::event).collect::<std::result::Result<_, _>>()?)
}

/// `(timestamp, id) > (t, id)` as one row comparison, which the `(timestamp, id)` index serves
/// directly (an `OR` of the two cases made each page of a seal scan from the start of its
/// range). Also the cursor of `audit::query`.
pub(super) fn after_key(
    timestamp: impl ColumnTrait,
    id_column: impl ColumnTrait,
    t: OffsetDateTime,
    id: &str,
) -> Expr {
    Expr::tuple([Expr::col(timestamp), Expr::col(id_column)]).gt(Expr::tuple([Expr::val(t), Expr::val(id)]))
}
