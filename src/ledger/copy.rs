//! PostgreSQL bulk ingest through `COPY`: the budget changes and the rows in one transaction
//! on one pooled connection, the rows streamed in PostgreSQL's text format.

use super::cost::Valid;
use super::locked;
use super::spend::Spend;
use crate::copy_text::{Rows, escaped};
use crate::error::sqlx_error;
use crate::{Result, timestamp};
use sea_orm::sea_query::Values;
use sea_orm::sqlx::{self, PgPool, Postgres};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement};
use sea_query_sqlx::SqlxValues;
use std::fmt::Write;
use time::OffsetDateTime;
use tokio::sync::Mutex;

/// The columns a row is copied into, in the order [`line`] writes them.
const COPY: &str = r#"COPY cost_tracking ("timestamp", principal_id, resource_id, capability_id,
    estimated_cost_micros, actual_cost_micros, metadata) FROM STDIN"#;

/// Applies `spends` together ([`locked::add_all`]), then copies `rows`, and commits. `false`,
/// with nothing written, when a spend is older than the windows its budget row counts: then
/// take the general path.
pub(super) async fn record(
    pool: &PgPool,
    spends: &[Spend<'_>],
    rows: &[&Valid<'_>],
    now: OffsetDateTime,
) -> Result<bool> {
    let txn = InCopy(Mutex::new(pool.begin().await.map_err(db_error)?));
    if !locked::add_all(&txn, spends, now).await? {
        return Ok(false);
    }
    let mut txn = txn.0.into_inner();
    let mut copy = Rows::new(txn.copy_in_raw(COPY).await.map_err(db_error)?);
    for row in rows {
        line(copy.line(), row);
        copy.end_line().await?;
    }
    copy.finish().await?;
    txn.commit().await.map_err(db_error)?;
    Ok(true)
}

/// The sqlx transaction `COPY` writes in, as a sea-orm connection: the budget statements run
/// in it before the rows are copied.
struct InCopy(Mutex<sqlx::Transaction<'static, Postgres>>);

#[async_trait::async_trait]
impl ConnectionTrait for InCopy {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> std::result::Result<ExecResult, DbErr> {
        let mut txn = self.0.lock().await;
        let query = sqlx::query_with(
            sqlx::AssertSqlSafe(stmt.sql.as_str()),
            SqlxValues(stmt.values.unwrap_or(Values(Vec::new()))),
        );
        Ok(query.execute(&mut **txn).await.map_err(sqlx_error)?.into())
    }

    async fn execute_unprepared(&self, sql: &str) -> std::result::Result<ExecResult, DbErr> {
        let mut txn = self.0.lock().await;
        Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut **txn)
            .await
            .map_err(sqlx_error)?
            .into())
    }

    async fn query_one_raw(&self, stmt: Statement) -> std::result::Result<Option<QueryResult>, DbErr> {
        Ok(self.query_all_raw(stmt).await?.into_iter().next())
    }

    async fn query_all_raw(&self, stmt: Statement) -> std::result::Result<Vec<QueryResult>, DbErr> {
        let mut txn = self.0.lock().await;
        let query = sqlx::query_with(
            sqlx::AssertSqlSafe(stmt.sql.as_str()),
            SqlxValues(stmt.values.unwrap_or(Values(Vec::new()))),
        );
        let rows = query.fetch_all(&mut **txn).await.map_err(sqlx_error)?;
        Ok(rows.into_iter().map(QueryResult::from).collect())
    }
}

/// Appends one row in `COPY`'s text format: tab-separated, `\N` for NULL.
fn line(text: &mut String, v: &Valid<'_>) {
    let amount = |text: &mut String, micros: Option<i64>| match micros {
        Some(m) => write!(text, "{m}").expect("writing to a String"),
        None => text.push_str("\\N"),
    };
    timestamp::write_text(text, v.at);
    for field in [&v.cost.principal_id, &v.cost.resource_id, &v.cost.capability_id] {
        text.push('\t');
        escaped(text, field);
    }
    text.push('\t');
    amount(text, v.estimated);
    text.push('\t');
    amount(text, v.actual);
    text.push('\t');
    match v.cost.metadata.as_object() {
        Some(empty) if empty.is_empty() => text.push_str("{}"),
        _ => escaped(text, &v.cost.metadata.to_string()),
    }
}

fn db_error(e: sqlx::Error) -> crate::Error {
    sqlx_error(e).into()
}
