//! The events of a group ([`Ledger::append`](crate::ledger::Ledger::append)) on a PostgreSQL
//! pool: one statement of fixed text that takes one typed array a column. The server reads
//! binary arrays element by element; a JSON document of the same events it must parse and
//! convert field by field from text, which cost it about a third of each event's time.

use crate::error::{acquire_error, sqlx_error};
use entity::audit_event::{self, Column};
use sea_orm::sea_query::ValueType;
use sea_orm::sqlx::postgres::{PgArguments, PgHasArrayType};
use sea_orm::sqlx::{self, Arguments, Encode, PgPool, Postgres, Type};
use sea_orm::{ActiveModelTrait, DbErr, Iterable, Value};
use time::OffsetDateTime;

/// Every column, in the entity's order, from one array each.
const INSERT_EVENTS: &str = include_str!("sql/insert_events.pg.sql");

/// Inserts `rows` (every column set) by one statement, its own transaction.
pub(super) async fn insert(pool: &PgPool, rows: &[audit_event::ActiveModel]) -> Result<(), DbErr> {
    let mut args = PgArguments::default();
    for column in Column::iter() {
        let values = rows.iter().map(|row| row.get(column).into_value());
        let values = values.collect::<Option<Vec<Value>>>().ok_or_else(|| invalid(column, "not set"))?;
        match values.first() {
            Some(Value::String(_)) => add::<String>(&mut args, column, values)?,
            Some(Value::BigInt(_)) => add::<i64>(&mut args, column, values)?,
            Some(Value::Json(_)) => add::<serde_json::Value>(&mut args, column, values)?,
            Some(Value::TimeDateTimeWithTimeZone(_)) => add::<OffsetDateTime>(&mut args, column, values)?,
            other => return Err(invalid(column, format!("{other:?}"))),
        }
    }
    // Taken apart from the statement, as sea-orm does: a connection not had says nothing was sent.
    let mut conn = pool.acquire().await.map_err(acquire_error)?;
    sqlx::query_with(INSERT_EVENTS, args).execute(&mut *conn).await.map_err(sqlx_error)?;
    Ok(())
}

/// Binds `values` (of `column`) as one array of `T`, a NULL element for NULL.
fn add<T>(args: &mut PgArguments, column: Column, values: Vec<Value>) -> Result<(), DbErr>
where
    Option<T>: ValueType + for<'q> Encode<'q, Postgres> + Type<Postgres> + PgHasArrayType,
{
    let array: Vec<Option<T>> = values
        .into_iter()
        .map(<Option<T> as ValueType>::try_from)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(column, e))?;
    args.add(array).map_err(|e| invalid(column, e))
}

/// The error of a column that cannot be bound.
fn invalid(column: Column, why: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("audit event column {column:?}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::INSERT_EVENTS;
    use entity::audit_event;
    use sea_orm::{IdenStatic, Iterable};

    /// The statement names every column, in the order `insert` binds their arrays.
    #[test]
    fn the_statement_names_every_column_in_the_entity_s_order() {
        let sql: String = INSERT_EVENTS.lines().filter(|l| !l.starts_with("--")).collect();
        let listed = sql.split(['(', ')']).nth(1).unwrap();
        let listed: Vec<String> = listed.split(',').map(|c| c.trim().trim_matches('"').to_owned()).collect();
        let columns: Vec<String> = audit_event::Column::iter().map(|c| c.as_str().to_owned()).collect();
        assert_eq!(listed, columns);
    }
}
