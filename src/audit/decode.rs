//! Audit events decoded from the rows of `audit_event::Entity::find()`, for the reads that go
//! through whole ranges (sealing, verifying). On PostgreSQL a row is read by position through
//! sqlx: sea-orm's derived decoding looks each of the 22 columns up by name and, for every NULL
//! one, formats the error message that it then discards — most of an event's columns are
//! usually NULL, and this was about a sixth of the client's time in a run of `sark-bench --seal`
//! (docs/benchmarks.md).

use entity::audit_event;
use sea_orm::{DbErr, FromQueryResult, QueryResult};

/// The event of `row`, a row of `audit_event::Entity::find()` (every column, in the entity's
/// order).
pub(super) fn event(row: &QueryResult) -> Result<audit_event::Model, DbErr> {
    #[cfg(feature = "postgres")]
    if let Some(row) = row.try_as_pg_row() {
        return by_position(row);
    }
    audit_event::Model::from_query_result(row, "")
}

/// The event of a PostgreSQL `row`, its columns in the entity's order.
#[cfg(feature = "postgres")]
fn by_position(row: &sea_orm::sqlx::postgres::PgRow) -> Result<audit_event::Model, DbErr> {
    use entity::Protocol;
    use sea_orm::ActiveEnum;
    let protocol: Option<String> = column(row, 15)?;
    Ok(audit_event::Model {
        id: column(row, 0)?,
        timestamp: column(row, 1)?,
        event_type: column(row, 2)?,
        severity: column(row, 3)?,
        user_id: column(row, 4)?,
        user_email: column(row, 5)?,
        server_id: column(row, 6)?,
        tool_name: column(row, 7)?,
        decision: column(row, 8)?,
        policy_id: column(row, 9)?,
        ip_address: column(row, 10)?,
        user_agent: column(row, 11)?,
        request_id: column(row, 12)?,
        details: column(row, 13)?,
        principal_org: column(row, 14)?,
        resource_protocol: protocol.as_ref().map(Protocol::try_from_value).transpose()?,
        capability_id: column(row, 16)?,
        correlation_id: column(row, 17)?,
        source_node: column(row, 18)?,
        target_node: column(row, 19)?,
        estimated_cost_micros: column(row, 20)?,
        actual_cost_micros: column(row, 21)?,
    })
}

/// Column `index` of a PostgreSQL `row`.
#[cfg(feature = "postgres")]
fn column<'r, T>(row: &'r sea_orm::sqlx::postgres::PgRow, index: usize) -> Result<T, DbErr>
where
    T: sea_orm::sqlx::Decode<'r, sea_orm::sqlx::Postgres> + sea_orm::sqlx::Type<sea_orm::sqlx::Postgres>,
{
    use sea_orm::sqlx::Row;
    row.try_get(index).map_err(crate::error::sqlx_error)
}
