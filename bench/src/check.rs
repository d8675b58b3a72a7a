//! What every workload must have left behind, checked on both backends after each run.

use crate::{AMOUNT, Res};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// What a run must have written.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// Ledger rows (each of [`AMOUNT`]).
    pub rows: i64,
    /// Idempotency keys.
    pub keys: i64,
    /// The most any principal may have spent today, in micro-units.
    pub limit: Option<i64>,
    /// Whether the budget counters must equal the ledger (not for raw `COPY`).
    pub counters: bool,
}

impl Expect {
    /// `rows` unkeyed rows, counted in the budgets, no limit reached.
    pub fn rows(rows: i64) -> Expect {
        Expect { rows, keys: 0, limit: None, counters: true }
    }
}

/// Fails naming `who` and `workload` when the database differs from `expect`.
pub async fn ledger(db: &DatabaseConnection, workload: &str, who: &str, expect: Expect) -> Res<()> {
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
    let per_principal = "SELECT principal_id, CAST(sum(actual_cost_micros) AS BIGINT) AS spent FROM cost_tracking GROUP BY principal_id";
    let most =
        single(db, &format!("SELECT CAST(coalesce(max(spent), 0) AS BIGINT) FROM ({per_principal}) s"))
            .await?;
    if expect.limit.is_some_and(|limit| most > limit) {
        return fail(format!("a principal spent {most}, over the limit {:?}", expect.limit));
    }
    if expect.counters {
        let drift = format!(
            "SELECT count(*) FROM principal_budgets b LEFT JOIN ({per_principal}) s ON s.principal_id = b.principal_id \
             WHERE b.daily_spent_micros <> coalesce(s.spent, 0) OR b.monthly_spent_micros <> coalesce(s.spent, 0)"
        );
        let drifted = single(db, &drift).await?;
        if drifted > 0 {
            return fail(format!("{drifted} budget counters differ from the ledger"));
        }
    }
    Ok(())
}

/// The number of ledger rows.
pub async fn rows(db: &DatabaseConnection) -> Res<i64> {
    single(db, "SELECT count(*) FROM cost_tracking").await
}

/// The two integers of the one row `sql` returns.
async fn pair(db: &DatabaseConnection, sql: &str) -> Res<(i64, i64)> {
    let row =
        db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?.ok_or("no row")?;
    Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
}

/// The integer `sql` returns.
async fn single(db: &DatabaseConnection, sql: &str) -> Res<i64> {
    let row =
        db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?.ok_or("no row")?;
    Ok(row.try_get_by_index(0)?)
}
