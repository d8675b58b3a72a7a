//! `federation_nodes`: trusted SARK nodes of other organisations, addressed by `node_id`.

use super::trust_anchor;
use crate::Conn;
use crate::error::write_error;
use crate::trace::{operation, traced};
use crate::{Entity, Error, Result, id, timestamp, validate};
use entity::federation_node;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use time::OffsetDateTime;

/// Requests per hour a node may make unless told otherwise.
pub const DEFAULT_RATE_LIMIT_PER_HOUR: i32 = 10_000;

/// A node to register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNode {
    /// Row id; a UUIDv7 when `None`.
    pub id: Option<String>,
    /// The node's federation identity, unique.
    pub node_id: String,
    /// Human-readable name.
    pub name: String,
    /// Absolute `https` URL (`http` only for loopback), without credentials.
    pub endpoint: String,
    /// PEM X.509 certificate that anchors trust in the node.
    pub trust_anchor_cert: String,
    /// Whether the node starts enabled.
    pub enabled: bool,
    /// Requests per hour, at least 1.
    pub rate_limit_per_hour: i32,
    /// Free-form data, a JSON object.
    pub metadata: Json,
}

impl NewNode {
    /// An enabled node with the default rate limit and empty metadata.
    pub fn new(
        node_id: impl Into<String>,
        name: impl Into<String>,
        endpoint: impl Into<String>,
        trust_anchor_cert: impl Into<String>,
    ) -> Self {
        NewNode {
            id: None,
            node_id: node_id.into(),
            name: name.into(),
            endpoint: endpoint.into(),
            trust_anchor_cert: trust_anchor_cert.into(),
            enabled: true,
            rate_limit_per_hour: DEFAULT_RATE_LIMIT_PER_HOUR,
            metadata: json!({}),
        }
    }
}

/// Registers a node. A `node_id` (or `id`) that exists already is a [`Error::Conflict`];
/// an expired certificate is refused.
pub async fn register<C: Conn>(db: &C, new: &NewNode) -> Result<federation_node::Model> {
    traced(operation!(INFO, "federation::register", node_id = %new.node_id), async {
        validate::label("id", new.id.as_deref())?;
        validate::name("node_id", &new.node_id)?;
        validate::name("name", &new.name)?;
        validate::federation_endpoint(&new.endpoint)?;
        let now = timestamp::now();
        trust_anchor::check(&new.trust_anchor_cert, now)?;
        validate::rate_limit(new.rate_limit_per_hour)?;
        validate::json_object("metadata", &new.metadata)?;
        federation_node::ActiveModel {
            id: Set(id::or_new(new.id.as_deref())),
            node_id: Set(new.node_id.clone()),
            name: Set(new.name.clone()),
            endpoint: Set(new.endpoint.clone()),
            trust_anchor_cert: Set(new.trust_anchor_cert.clone()),
            enabled: Set(new.enabled),
            trusted_since: Set(now),
            rate_limit_per_hour: Set(new.rate_limit_per_hour),
            metadata: Set(new.metadata.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .map_err(|e| write_error(e, Entity::FederationNode, &new.node_id, None))
    })
    .await
}

/// The node with `node_id`.
pub async fn get<C: Conn>(db: &C, node_id: &str) -> Result<federation_node::Model> {
    traced(operation!(DEBUG, "federation::get", node_id), async {
        validate::key("node_id", node_id)?;
        federation_node::Entity::find()
            .filter(federation_node::Column::NodeId.eq(node_id))
            .one(db)
            .await?
            .ok_or_else(|| Error::not_found(Entity::FederationNode, node_id))
    })
    .await
}

/// The enabled nodes, by `node_id`.
pub async fn list_enabled<C: Conn>(db: &C) -> Result<Vec<federation_node::Model>> {
    traced(operation!(DEBUG, "federation::list_enabled"), find(db, true)).await
}

/// Every node, enabled or not, by `node_id`.
pub async fn list<C: Conn>(db: &C) -> Result<Vec<federation_node::Model>> {
    traced(operation!(DEBUG, "federation::list"), find(db, false)).await
}

/// The nodes by `node_id`: the enabled ones, or all.
async fn find<C: ConnectionTrait>(db: &C, only_enabled: bool) -> Result<Vec<federation_node::Model>> {
    let mut select = federation_node::Entity::find();
    if only_enabled {
        select = select.filter(federation_node::Column::Enabled.eq(true));
    }
    Ok(select.order_by_asc(federation_node::Column::NodeId).all(db).await?)
}

/// A node and what its trust anchor says, as of an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeTrust {
    /// The node.
    pub node: federation_node::Model,
    /// Its trust anchor, inspected.
    pub anchor: trust_anchor::TrustAnchor,
    /// Whole days from the instant asked about to the anchor's `not_after`, rounded down;
    /// negative once it expired.
    pub days_left: i64,
}

/// Every node with its trust anchor as of `now`, by `node_id`.
pub async fn trust<C: Conn>(db: &C, now: OffsetDateTime) -> Result<Vec<NodeTrust>> {
    traced(operation!(DEBUG, "federation::trust"), async { with_anchors(find(db, false).await?, now) }).await
}

/// The enabled nodes whose trust anchor expires within `within` of `now`, or has expired, by
/// `node_id`: what to rotate before federation with them fails. A negative `within` is
/// [`Error::Validation`].
pub async fn expiring<C: Conn>(
    db: &C,
    within: time::Duration,
    now: OffsetDateTime,
) -> Result<Vec<NodeTrust>> {
    traced(operation!(DEBUG, "federation::expiring"), async {
        if within.is_negative() {
            return Err(Error::validation("within", "is negative"));
        }
        let now = timestamp::normalize(now);
        let horizon = now.checked_add(within).ok_or_else(|| Error::validation("within", "is too long"))?;
        let nodes = with_anchors(find(db, true).await?, now)?;
        Ok(nodes.into_iter().filter(|n| n.anchor.not_after <= horizon).collect())
    })
    .await
}

impl NodeTrust {
    /// `node` with its trust anchor inspected as of `now`.
    pub fn of(node: federation_node::Model, now: OffsetDateTime) -> Result<NodeTrust> {
        let now = timestamp::normalize(now);
        let anchor = trust_anchor::inspect(&node.trust_anchor_cert)?;
        // Rounded down: a day and a half left is 1; half a day past is -1.
        let days_left = (anchor.not_after - now).whole_seconds().div_euclid(86_400);
        Ok(NodeTrust { node, anchor, days_left })
    }
}

/// `nodes` with their anchors inspected as of `now`.
fn with_anchors(nodes: Vec<federation_node::Model>, now: OffsetDateTime) -> Result<Vec<NodeTrust>> {
    nodes.into_iter().map(|node| NodeTrust::of(node, now)).collect()
}

/// Enables or disables the node; the row stays either way.
pub async fn set_enabled<C: Conn>(db: &C, node_id: &str, enabled: bool) -> Result<federation_node::Model> {
    traced(operation!(INFO, "federation::set_enabled", node_id, enabled), async {
        let row = federation_node::ActiveModel { enabled: Set(enabled), ..Default::default() };
        change(db, node_id, row, timestamp::now()).await
    })
    .await
}

/// Installs a new trust anchor (validated like at registration) and restarts `trusted_since`.
pub async fn rotate_trust_anchor<C: Conn>(
    db: &C,
    node_id: &str,
    pem: &str,
) -> Result<federation_node::Model> {
    traced(operation!(INFO, "federation::rotate_trust_anchor", node_id), async {
        let now = timestamp::now();
        trust_anchor::check(pem, now)?;
        let row = federation_node::ActiveModel {
            trust_anchor_cert: Set(pem.to_owned()),
            trusted_since: Set(now),
            ..Default::default()
        };
        change(db, node_id, row, now).await
    })
    .await
}

/// Sets the node's rate limit (at least 1 per hour).
pub async fn set_rate_limit<C: Conn>(db: &C, node_id: &str, per_hour: i32) -> Result<federation_node::Model> {
    traced(operation!(INFO, "federation::set_rate_limit", node_id), async {
        validate::rate_limit(per_hour)?;
        let row = federation_node::ActiveModel { rate_limit_per_hour: Set(per_hour), ..Default::default() };
        change(db, node_id, row, timestamp::now()).await
    })
    .await
}

/// Deletes the node; returns what was removed.
pub async fn delete<C: Conn>(db: &C, node_id: &str) -> Result<federation_node::Model> {
    traced(operation!(INFO, "federation::delete", node_id), async {
        validate::key("node_id", node_id)?;
        federation_node::Entity::delete_many()
            .filter(federation_node::Column::NodeId.eq(node_id))
            .exec_with_returning(db)
            .await?
            .pop()
            .ok_or_else(|| Error::not_found(Entity::FederationNode, node_id))
    })
    .await
}

/// Writes the set fields of `row`, and `updated_at = now`, to the node with `node_id`.
async fn change<C: ConnectionTrait>(
    db: &C,
    node_id: &str,
    mut row: federation_node::ActiveModel,
    now: OffsetDateTime,
) -> Result<federation_node::Model> {
    validate::key("node_id", node_id)?;
    row.updated_at = Set(now);
    federation_node::Entity::update_many()
        .set(row)
        .filter(federation_node::Column::NodeId.eq(node_id))
        .exec_with_returning(db)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found(Entity::FederationNode, node_id))
}
