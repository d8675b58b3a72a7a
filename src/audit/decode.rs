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
    use sea_orm::sqlx::Row;
    use sea_orm::{ActiveEnum, RuntimeErr};
    let decode = |e| DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(e)));
    let protocol: Option<String> = row.try_get(15).map_err(decode)?;
    Ok(audit_event::Model {
        id: row.try_get(0).map_err(decode)?,
        timestamp: row.try_get(1).map_err(decode)?,
        event_type: row.try_get(2).map_err(decode)?,
        severity: row.try_get(3).map_err(decode)?,
        user_id: row.try_get(4).map_err(decode)?,
        user_email: row.try_get(5).map_err(decode)?,
        server_id: row.try_get(6).map_err(decode)?,
        tool_name: row.try_get(7).map_err(decode)?,
        decision: row.try_get(8).map_err(decode)?,
        policy_id: row.try_get(9).map_err(decode)?,
        ip_address: row.try_get(10).map_err(decode)?,
        user_agent: row.try_get(11).map_err(decode)?,
        request_id: row.try_get(12).map_err(decode)?,
        details: row.try_get(13).map_err(decode)?,
        principal_org: row.try_get(14).map_err(decode)?,
        resource_protocol: protocol.as_ref().map(Protocol::try_from_value).transpose()?,
        capability_id: row.try_get(16).map_err(decode)?,
        correlation_id: row.try_get(17).map_err(decode)?,
        source_node: row.try_get(18).map_err(decode)?,
        target_node: row.try_get(19).map_err(decode)?,
        estimated_cost_micros: row.try_get(20).map_err(decode)?,
        actual_cost_micros: row.try_get(21).map_err(decode)?,
    })
}
