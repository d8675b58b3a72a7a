//! Recomputes the copy's mapping in Rust, independently of its SQL, and compares.

use super::report::{Counts, Missing, Report};
use crate::Conn;
use crate::Result;
use crate::timestamp;
use crate::trace::{operation, traced};
use entity::{capability, mcp_server, mcp_tool, resource};
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use serde_json::{Map, Value as Json, json};
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The metadata key that holds v1 metadata which could not be merged (migration 10's rule).
const V1_METADATA_KEY: &str = "v1_metadata";

/// Compares v1 with v2 under the copy's mapping. Needs migration 10 applied.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// # let db = sark_db::connect("sqlite::memory:").await?;
/// # sark_db::migrate(&db).await?;
/// let report = sark_db::v1::verify(&db).await?;
/// assert!(report.is_clean(), "{report}");
/// # Ok(())
/// # }
/// ```
pub async fn verify<C: Conn>(db: &C) -> Result<Report> {
    traced(operation!(DEBUG, "v1::verify"), async {
        let servers = mcp_server::Entity::find().all(db).await?;
        let tools = mcp_tool::Entity::find().all(db).await?;
        let resources: HashMap<String, resource::Model> =
            resource::Entity::find().all(db).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
        let capabilities: HashMap<String, capability::Model> =
            capability::Entity::find().all(db).await?.into_iter().map(|c| (c.id.clone(), c)).collect();
        let mut report = Report {
            counts: Counts {
                servers: servers.len() as u64,
                resources: resources.len() as u64,
                tools: tools.len() as u64,
                capabilities: capabilities.len() as u64,
            },
            ..Report::default()
        };
        for server in &servers {
            report.compare("resources", &server.id, expected_resource(server), resources.get(&server.id))?;
        }
        for tool in &tools {
            report.compare(
                "capabilities",
                &tool.id,
                expected_capability(tool),
                capabilities.get(&tool.id),
            )?;
        }
        report.missing_in_v1 = orphans(db).await?;
        Ok(report)
    })
    .await
}

/// Copied rows whose v1 row no longer exists.
async fn orphans<C: ConnectionTrait>(db: &C) -> Result<Vec<Missing>> {
    let sql = "SELECT l.entity, l.id FROM v1_copied_rows l \
        WHERE (l.entity = 'resource' AND NOT EXISTS (SELECT 1 FROM mcp_servers s WHERE s.id = l.id)) \
        OR (l.entity = 'capability' AND NOT EXISTS (SELECT 1 FROM mcp_tools t WHERE t.id = l.id)) \
        ORDER BY l.entity, l.id";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    rows.iter()
        .map(|row| {
            let entity: String = row.try_get_by_index(0)?;
            let table = if entity == "resource" { "mcp_servers" } else { "mcp_tools" };
            Ok(Missing { table, id: row.try_get_by_index(1)? })
        })
        .collect()
}

/// The v2 fields the mapping gives for a v1 server.
fn expected_resource(s: &mcp_server::Model) -> Map<String, Json> {
    let extras = Map::from_iter([
        ("transport".to_owned(), json!(s.transport)),
        ("command".to_owned(), json!(s.command)),
        ("args".to_owned(), json!(s.args)),
        ("env".to_owned(), json!(s.env)),
        ("endpoint".to_owned(), json!(s.endpoint)),
        ("description".to_owned(), json!(s.description)),
    ]);
    Map::from_iter([
        ("name".to_owned(), json!(s.name)),
        ("protocol".to_owned(), json!("mcp")),
        ("endpoint".to_owned(), json!(s.command.as_ref().or(s.endpoint.as_ref()))),
        ("sensitivity_level".to_owned(), sensitivity(s.sensitivity_level.as_deref())),
        ("metadata".to_owned(), carry(s.metadata.as_ref(), extras)),
        ("created_at".to_owned(), instant(s.created_at)),
        ("updated_at".to_owned(), instant(s.updated_at)),
    ])
}

/// `t` as v2 stores and serialises it: UTC, microseconds, RFC 3339.
fn instant(t: OffsetDateTime) -> Json {
    timestamp::normalize(t).format(&Rfc3339).map_or(Json::Null, Json::String)
}

/// The v2 fields the mapping gives for a v1 tool.
fn expected_capability(t: &mcp_tool::Model) -> Map<String, Json> {
    let extras = Map::from_iter([("requires_approval".to_owned(), json!(t.requires_approval))]);
    Map::from_iter([
        ("resource_id".to_owned(), json!(t.server_id)),
        ("name".to_owned(), json!(t.name)),
        ("description".to_owned(), json!(t.description)),
        ("input_schema".to_owned(), t.input_schema.clone().unwrap_or_else(|| json!({}))),
        ("output_schema".to_owned(), json!({})),
        ("sensitivity_level".to_owned(), sensitivity(t.sensitivity_level.as_deref())),
        ("metadata".to_owned(), carry(t.metadata.as_ref(), extras)),
    ])
}

fn sensitivity(v1: Option<&str>) -> Json {
    json!(v1.map_or_else(|| "medium".to_owned(), |s| s.trim().to_lowercase()))
}

/// v1 metadata with `extras` merged in; kept whole under [`V1_METADATA_KEY`] when it is not
/// an object or already uses one of their keys (or that key).
fn carry(v1: Option<&Json>, mut extras: Map<String, Json>) -> Json {
    match v1 {
        None => Json::Object(extras),
        Some(Json::Object(m)) if !m.keys().any(|k| k == V1_METADATA_KEY || extras.contains_key(k)) => {
            let mut merged = m.clone();
            merged.append(&mut extras);
            Json::Object(merged)
        }
        Some(other) => {
            extras.insert(V1_METADATA_KEY.to_owned(), other.clone());
            Json::Object(extras)
        }
    }
}
