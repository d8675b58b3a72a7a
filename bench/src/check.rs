//! What every workload must have left behind, checked on both backends after each run.

use crate::{AMOUNT, Res};
use sark_db::Db;
use sark_db::Window;
use sark_db::entity::{cost_record, principal_budget};
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect, Statement};
use std::collections::HashMap;
use time::OffsetDateTime;

/// What a run must have written.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// Ledger rows (each of [`AMOUNT`]).
    pub rows: i64,
    /// Idempotency keys.
    pub keys: i64,
    /// The most any principal may have spent in a UTC day, in micro-units.
    pub limit: Option<i64>,
    /// Whether the budget counters must equal the ledger's sums of the day and month they
    /// count (not for raw `COPY`, which maintains no budgets).
    pub counters: bool,
}

impl Expect {
    /// `rows` unkeyed rows, counted in the budgets, no limit reached.
    pub fn rows(rows: i64) -> Expect {
        Expect { rows, keys: 0, limit: None, counters: true }
    }
}

/// Fails naming `who` and `workload` when the database differs from `expect`.
pub async fn ledger(db: &Db, workload: &str, who: &str, expect: Expect) -> Res<()> {
    let fail = |what: String| -> Res<()> { Err(format!("{workload}, {who}: {what}").into()) };
    let (rows, sum) =
        pair(db, "SELECT count(*), CAST(coalesce(sum(actual_cost_micros), 0) AS BIGINT) FROM cost_tracking")
            .await?;
    if rows != expect.rows || sum != rows * AMOUNT {
        return fail(format!("{rows} ledger rows summing to {sum}, expected {} of {AMOUNT}", expect.rows));
    }
    let keys = single(db, "SELECT count(*) FROM cost_idempotency_keys").await?;
    if keys != expect.keys {
        return fail(format!("{keys} idempotency keys, expected {}", expect.keys));
    }
    if expect.limit.is_none() && !expect.counters {
        return Ok(());
    }
    // Sums per principal and UTC day and month, from the ledger's rows, in Rust.
    let costs: Vec<(String, OffsetDateTime, Option<i64>)> = cost_record::Entity::find()
        .select_only()
        .columns([
            cost_record::Column::PrincipalId,
            cost_record::Column::Timestamp,
            cost_record::Column::ActualCostMicros,
        ])
        .into_tuple()
        .all(db)
        .await?;
    let mut sums: HashMap<(String, Window, OffsetDateTime), i64> = HashMap::new();
    for (principal, at, amount) in costs {
        for window in [Window::Daily, Window::Monthly] {
            *sums.entry((principal.clone(), window, window.start(at))).or_default() += amount.unwrap_or(0);
        }
    }
    let sum = |p: &str, window, start: Option<OffsetDateTime>| {
        start.map_or(0, |start| sums.get(&(p.to_owned(), window, start)).copied().unwrap_or(0))
    };
    if let Some(limit) = expect.limit {
        let over = sums.iter().find(|((_, window, _), spent)| *window == Window::Daily && **spent > limit);
        if let Some(((p, _, day), spent)) = over {
            return fail(format!("{p} spent {spent} on {day}, over the daily limit {limit}"));
        }
    }
    if expect.counters {
        for b in principal_budget::Entity::find().all(db).await? {
            let (daily, monthly) = (
                sum(&b.principal_id, Window::Daily, b.last_daily_reset),
                sum(&b.principal_id, Window::Monthly, b.last_monthly_reset),
            );
            if (b.daily_spent_micros, b.monthly_spent_micros) != (daily, monthly) {
                return fail(format!(
                    "{}: counters {} / {} against the ledger's {daily} / {monthly} for its day and month",
                    b.principal_id, b.daily_spent_micros, b.monthly_spent_micros
                ));
            }
        }
    }
    Ok(())
}

/// The number of ledger rows.
pub async fn rows(db: &Db) -> Res<i64> {
    single(db, "SELECT count(*) FROM cost_tracking").await
}

/// The two integers of the one row `sql` returns.
async fn pair(db: &Db, sql: &str) -> Res<(i64, i64)> {
    let row =
        db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?.ok_or("no row")?;
    Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
}

/// The integer `sql` returns.
async fn single(db: &Db, sql: &str) -> Res<i64> {
    let row =
        db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?.ok_or("no row")?;
    Ok(row.try_get_by_index(0)?)
}
