//! `append_many` on a PostgreSQL pool: the batch in one `COPY`, in a transaction of its own.

use crate::copy_text::{Rows, field};
use crate::error::sqlx_error;
use entity::audit_event;
use sea_orm::sqlx::PgPool;
use sea_orm::{ActiveModelTrait, DbErr, Iterable};

/// The columns a row is copied into: every column, in the entity's order, which [`append`]
/// writes them in.
const COPY_EVENTS: &str = r#"COPY audit_events (id, "timestamp", event_type, severity, user_id, user_email,
    server_id, tool_name, decision, policy_id, ip_address, user_agent, request_id, details, principal_org,
    resource_protocol, capability_id, correlation_id, source_node, target_node, estimated_cost_micros,
    actual_cost_micros) FROM STDIN"#;

/// Copies `rows` (every column set) and commits; returns how many. Nothing is written unless
/// every row is.
pub(super) async fn append(pool: &PgPool, rows: &[audit_event::ActiveModel]) -> Result<u64, DbErr> {
    let mut txn = pool.begin().await.map_err(sqlx_error)?;
    let mut copy = Rows::new(txn.copy_in_raw(COPY_EVENTS).await.map_err(sqlx_error)?);
    for row in rows {
        for (i, column) in audit_event::Column::iter().enumerate() {
            if i > 0 {
                copy.line().push('\t');
            }
            let value = row.get(column).into_value();
            let value =
                value.ok_or_else(|| DbErr::Custom(format!("audit event column {column:?} not set")))?;
            field(copy.line(), &value)?;
        }
        copy.end_line().await?;
    }
    let copied = copy.finish().await?;
    txn.commit().await.map_err(sqlx_error)?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::COPY_EVENTS;
    use entity::audit_event;
    use sea_orm::{IdenStatic, Iterable};

    /// The statement names every column, in the order `append` writes them.
    #[test]
    fn the_copy_names_every_column_in_the_entity_s_order() {
        let listed = COPY_EVENTS.split(['(', ')']).nth(1).unwrap();
        let listed: Vec<String> = listed.split(',').map(|c| c.trim().trim_matches('"').to_owned()).collect();
        let columns: Vec<String> = audit_event::Column::iter().map(|c| c.as_str().to_owned()).collect();
        assert_eq!(listed, columns);
    }
}
