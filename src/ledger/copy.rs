//! PostgreSQL bulk ingest through `COPY`: the budget changes and the rows in one transaction
//! on one pooled connection, the rows streamed in PostgreSQL's text format.

use super::costs::Valid;
use super::spend::{SPEND, Spend};
use crate::{Result, timestamp};
use sea_orm::sea_query::Values;
use sea_orm::sqlx::{self, PgPool};
use sea_orm::{DbErr, RuntimeErr};
use sea_query_sqlx::SqlxValues;
use std::fmt::Write;
use std::sync::Arc;

/// The columns a row is copied into, in the order [`line`] writes them.
const COPY: &str = r#"COPY cost_tracking ("timestamp", principal_id, resource_id, capability_id,
    estimated_cost_micros, actual_cost_micros, metadata) FROM STDIN"#;

/// Bytes of rows sent to the server at a time.
const SEND_BYTES: usize = 1 << 20;

/// Applies every spend on its fast path, then copies `rows`, and commits. `false`, with
/// nothing written, when a spend is not on the fast path (a cost older than the windows its
/// budget row counts): then take the general path.
pub(super) async fn record(pool: &PgPool, spends: &[Spend<'_>], rows: &[&Valid<'_>]) -> Result<bool> {
    let mut txn = pool.begin().await.map_err(db_error)?;
    for spend in spends {
        let values = SqlxValues(Values(spend.values(true)));
        if sqlx::query_with(SPEND, values).fetch_optional(&mut *txn).await.map_err(db_error)?.is_none() {
            return Ok(false);
        }
    }
    let mut sink = txn.copy_in_raw(COPY).await.map_err(db_error)?;
    let mut text = String::with_capacity(SEND_BYTES + 4096);
    for row in rows {
        line(&mut text, row);
        if text.len() >= SEND_BYTES {
            sink.send(text.as_bytes()).await.map_err(db_error)?;
            text.clear();
        }
    }
    sink.send(text.as_bytes()).await.map_err(db_error)?;
    sink.finish().await.map_err(db_error)?;
    txn.commit().await.map_err(db_error)?;
    Ok(true)
}

/// Appends one row in `COPY`'s text format: tab-separated, `\N` for NULL, a newline.
fn line(text: &mut String, v: &Valid<'_>) {
    let amount = |text: &mut String, micros: Option<i64>| match micros {
        Some(m) => write!(text, "{m}").expect("writing to a String"),
        None => text.push_str("\\N"),
    };
    text.push_str(&timestamp::text(v.at));
    for field in [&v.cost.principal_id, &v.cost.resource_id, &v.cost.capability_id] {
        text.push('\t');
        escaped(text, field);
    }
    text.push('\t');
    amount(text, v.estimated);
    text.push('\t');
    amount(text, v.actual);
    text.push('\t');
    escaped(text, &v.cost.metadata.to_string());
    text.push('\n');
}

/// Appends `field` with the characters `COPY`'s text format gives a meaning escaped.
fn escaped(text: &mut String, field: &str) {
    for c in field.chars() {
        match c {
            '\\' => text.push_str("\\\\"),
            '\t' => text.push_str("\\t"),
            '\n' => text.push_str("\\n"),
            '\r' => text.push_str("\\r"),
            c => text.push(c),
        }
    }
}

fn db_error(e: sqlx::Error) -> crate::Error {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e))).into()
}
