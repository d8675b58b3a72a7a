//! Bulk recording ([`costs::record_many`](super::costs::record_many)): costs that already
//! happened, many at once, in one transaction. Not a route of a charge: nothing is refused
//! for a limit, so the budget changes go one per principal and UTC day, oldest first —
//! together under the rows' lock on PostgreSQL ([`locked::add_all`]), else each by the spend
//! statement or the locked route — then the rows in chunks below the bind limit; on the
//! PostgreSQL pool the rows are streamed by `COPY` ([`copy`]).

#[cfg(feature = "postgres")]
use super::copy;
use super::cost::{Valid, insert_unnest};
use super::locked;
use super::spend::Spend;
use super::stepwise;
use crate::db::is_postgres;
use crate::trace;
use crate::{Conn, Error, Result, Server, Window};
use entity::cost_record;
use sea_orm::ConnectionTrait;
use sea_orm::EntityTrait;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Rows per `INSERT` in bulk recording: 7 values a row stays below SQLite's 32 766 binds.
const CHUNK_ROWS: usize = 4_000;

/// Rows per `INSERT … SELECT FROM UNNEST` on PostgreSQL, which binds one array per column.
const PG_CHUNK_ROWS: usize = 50_000;

/// Records `valid` (validated, unkeyed) on `db`; returns the number of rows written.
pub(super) async fn record<C: Conn>(db: &C, valid: &[Valid<'_>]) -> Result<u64> {
    let clock = db.clock();
    let mut groups: BTreeMap<(OffsetDateTime, &str), Vec<&Valid<'_>>> = BTreeMap::new();
    for v in valid {
        groups.entry((Window::Daily.start(v.at), v.cost.principal_id.as_str())).or_default().push(v);
    }
    let now = clock.now();
    let spends = day_spends(&groups, now)?;
    let server = db.server();
    let rows: Vec<&Valid<'_>> = groups.into_values().flatten().collect();
    // PostgreSQL: all budget changes in one statement unless a day is older than its row's
    // windows (a back-fill: then they would not apply together in a second try either);
    // on the pool with the rows by COPY.
    #[cfg(feature = "postgres")]
    let copy_tried = match db.as_pool().filter(|_| server == Server::Postgres) {
        Some(pool) if copy::record(pool.get_postgres_connection_pool(), &spends, &rows, now).await? => {
            trace::rows(rows.len());
            return Ok(rows.len() as u64);
        }
        Some(_) => true,
        None => false,
    };
    #[cfg(not(feature = "postgres"))]
    let copy_tried = false;
    let txn = db.begin_write().await?;
    let tx = &txn;
    if !(server == Server::Postgres && !copy_tried && locked::add_all(tx, &spends, now).await?) {
        for spend in &spends {
            if stepwise::counted(tx, spend).await?.is_none() {
                locked::spend(tx, spend).await?;
            }
        }
    }
    insert_rows(tx, &rows).await?;
    txn.commit().await?;
    trace::rows(rows.len());
    Ok(rows.len() as u64)
}

/// Inserts `rows` in chunks below the bind limit.
async fn insert_rows<C: ConnectionTrait>(txn: &C, rows: &[&Valid<'_>]) -> Result<()> {
    if is_postgres(txn) {
        for chunk in rows.chunks(PG_CHUNK_ROWS) {
            insert_unnest(txn, chunk).await?;
        }
    } else {
        for chunk in rows.chunks(CHUNK_ROWS) {
            cost_record::Entity::insert_many(chunk.iter().map(|v| v.row()))
                .exec_without_returning(txn)
                .await?;
        }
    }
    Ok(())
}

/// One budget change per principal and UTC day of `groups`, oldest first, each knowing what
/// the earlier days of its month add; refused when a sum would pass the largest storable.
fn day_spends<'a>(
    groups: &BTreeMap<(OffsetDateTime, &'a str), Vec<&'a Valid<'a>>>,
    now: OffsetDateTime,
) -> Result<Vec<Spend<'a>>> {
    let mut unrecorded: BTreeMap<(OffsetDateTime, &str), i64> = BTreeMap::new();
    let mut spends = Vec::with_capacity(groups.len());
    for ((day, principal), rows) in groups {
        let overflow = || {
            Error::validation(rows[0].field, "the costs of one principal sum past the largest storable sum")
        };
        let amount = rows.iter().try_fold(0i64, |sum, v| sum.checked_add(v.amount)).ok_or_else(overflow)?;
        let month = unrecorded.entry((Window::Monthly.start(*day), principal)).or_default();
        spends.push(Spend { amount, unrecorded_in_month: *month, ..rows[0].spend(false, now) });
        *month = month.checked_add(amount).ok_or_else(overflow)?;
    }
    Ok(spends)
}
