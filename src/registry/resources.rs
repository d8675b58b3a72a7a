//! `resources`: the registry of governed MCP servers, HTTP APIs and gRPC services.

use crate::Conn;
use crate::error::write_error;
use crate::limits::{MAX_ENDPOINT_CHARS, MAX_NAME_CHARS};
use crate::page::{self, Page};
use crate::trace::{self, operation, traced};
use crate::{Entity, Error, Result, id, timestamp, validate};
use entity::{Protocol, SensitivityLevel, capability, resource};
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::sea_query::{ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

/// A resource to register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewResource {
    /// Its id; a UUIDv7 when `None`.
    pub id: Option<String>,
    /// Human-readable name.
    pub name: String,
    /// Protocol it speaks.
    pub protocol: Protocol,
    /// URL or command line it is reached at.
    pub endpoint: String,
    /// Sensitivity of the resource as a whole.
    pub sensitivity_level: SensitivityLevel,
    /// Protocol-specific data, a JSON object.
    pub metadata: Json,
}

impl NewResource {
    /// A resource of medium sensitivity with empty metadata and a generated id.
    pub fn new(name: impl Into<String>, protocol: Protocol, endpoint: impl Into<String>) -> Self {
        NewResource {
            id: None,
            name: name.into(),
            protocol,
            endpoint: endpoint.into(),
            sensitivity_level: SensitivityLevel::default(),
            metadata: json!({}),
        }
    }

    fn validate(&self) -> Result<()> {
        validate::label("id", self.id.as_deref())?;
        validate::name("name", &self.name)?;
        validate::text("endpoint", &self.endpoint, MAX_ENDPOINT_CHARS)?;
        validate::json_object("metadata", &self.metadata)
    }
}

/// A partial update: the fields that are `Some` change, the rest stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourcePatch {
    /// New name.
    pub name: Option<String>,
    /// New protocol.
    pub protocol: Option<Protocol>,
    /// New endpoint.
    pub endpoint: Option<String>,
    /// New sensitivity.
    pub sensitivity_level: Option<SensitivityLevel>,
    /// New metadata object (replaces the old one).
    pub metadata: Option<Json>,
}

impl ResourcePatch {
    fn validate(&self) -> Result<()> {
        validate::label("name", self.name.as_deref())?;
        if let Some(endpoint) = &self.endpoint {
            validate::text("endpoint", endpoint, MAX_ENDPOINT_CHARS)?;
        }
        self.metadata.as_ref().map_or(Ok(()), |m| validate::json_object("metadata", m))
    }
}

/// Which resources [`list`] returns, and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceFilter {
    /// Only this protocol.
    pub protocol: Option<Protocol>,
    /// Only this sensitivity.
    pub sensitivity_level: Option<SensitivityLevel>,
    /// Only names starting with this (case-sensitive; `%` and `_` are plain characters).
    pub name_prefix: Option<String>,
    /// Continue after this id (the `next` of the previous page).
    pub after: Option<String>,
    /// Page size, 1 to 1,000; 100 when `None`.
    pub limit: Option<u64>,
}

/// A resource with its capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceWithCapabilities {
    /// The resource.
    pub resource: resource::Model,
    /// Its capabilities, by name.
    pub capabilities: Vec<capability::Model>,
}

/// Registers a resource. An id that exists already is a [`Error::Conflict`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// # let db = sark_db::connect("sqlite::memory:").await?;
/// # sark_db::migrate(&db).await?;
/// use sark_db::entity::Protocol;
/// use sark_db::registry::resources::{self, NewResource};
///
/// let files = resources::create(&db, &NewResource::new("Files", Protocol::Mcp, "npx @acme/files")).await?;
/// assert_eq!(resources::get(&db, &files.id).await?, files);
/// let again = NewResource { id: Some(files.id.clone()), ..NewResource::new("Files", Protocol::Mcp, "npx @acme/files") };
/// assert!(matches!(resources::create(&db, &again).await, Err(sark_db::Error::Conflict(_))));
/// # Ok(())
/// # }
/// ```
pub async fn create<C: Conn>(db: &C, new: &NewResource) -> Result<resource::Model> {
    traced(operation!(INFO, "resources::create", resource_id = new.id.as_deref(), name = %new.name), async {
        new.validate()?;
        let id = id::or_new(new.id.as_deref());
        let now = timestamp::now();
        resource::ActiveModel {
            id: Set(id.clone()),
            name: Set(new.name.clone()),
            protocol: Set(new.protocol),
            endpoint: Set(new.endpoint.clone()),
            sensitivity_level: Set(new.sensitivity_level),
            metadata: Set(new.metadata.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .map_err(|e| write_error(e, Entity::Resource, &id, None))
    })
    .await
}

/// The resource with `id`.
pub async fn get<C: Conn>(db: &C, id: &str) -> Result<resource::Model> {
    traced(operation!(DEBUG, "resources::get", resource_id = id), async {
        validate::key("id", id)?;
        resource::Entity::find_by_id(id).one(db).await?.ok_or_else(|| Error::not_found(Entity::Resource, id))
    })
    .await
}

/// The resource with `id` and its capabilities, read in one query.
pub async fn get_with_capabilities<C: Conn>(db: &C, id: &str) -> Result<ResourceWithCapabilities> {
    traced(operation!(DEBUG, "resources::get_with_capabilities", resource_id = id), async {
        validate::key("id", id)?;
        let found = resource::Entity::find_by_id(id).find_with_related(capability::Entity).all(db).await?;
        let (resource, mut capabilities) =
            found.into_iter().next().ok_or_else(|| Error::not_found(Entity::Resource, id))?;
        capabilities.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(ResourceWithCapabilities { resource, capabilities })
    })
    .await
}

/// One page of resources matching `filter`, in id order.
pub async fn list<C: Conn>(db: &C, filter: &ResourceFilter) -> Result<Page<resource::Model, String>> {
    traced(operation!(DEBUG, "resources::list"), async {
        let limit = page::limit(filter.limit)?;
        validate::optional_key("name_prefix", filter.name_prefix.as_deref())?;
        validate::optional_key("after", filter.after.as_deref())?;
        let mut query = resource::Entity::find();
        if let Some(protocol) = filter.protocol {
            query = query.filter(resource::Column::Protocol.eq(protocol));
        }
        if let Some(level) = filter.sensitivity_level {
            query = query.filter(resource::Column::SensitivityLevel.eq(level));
        }
        if let Some(prefix) = &filter.name_prefix {
            // No name is longer than MAX_NAME_CHARS, so a longer prefix matches nothing either way.
            let chars = prefix.chars().count().min(MAX_NAME_CHARS + 1) as i32;
            let head = Func::cust("SUBSTR").arg(resource::Column::Name.into_expr()).arg(1).arg(chars);
            query = query.filter(head.eq(prefix.as_str()));
        }
        if let Some(after) = &filter.after {
            query = query.filter(resource::Column::Id.gt(after.as_str()));
        }
        let rows = query.order_by_asc(resource::Column::Id).limit(limit + 1).all(db).await?;
        let page = Page::from_rows(rows, limit, |r| r.id.clone());
        trace::rows(page.items.len());
        Ok(page)
    })
    .await
}

/// Applies `patch` and sets `updated_at`; returns the resource as it is now.
pub async fn update<C: Conn>(db: &C, id: &str, patch: &ResourcePatch) -> Result<resource::Model> {
    traced(operation!(INFO, "resources::update", resource_id = id), async {
        validate::key("id", id)?;
        patch.validate()?;
        let mut row = resource::ActiveModel {
            id: Unchanged(id.to_owned()),
            updated_at: Set(timestamp::now()),
            ..Default::default()
        };
        if let Some(name) = &patch.name {
            row.name = Set(name.clone());
        }
        if let Some(protocol) = patch.protocol {
            row.protocol = Set(protocol);
        }
        if let Some(endpoint) = &patch.endpoint {
            row.endpoint = Set(endpoint.clone());
        }
        if let Some(level) = patch.sensitivity_level {
            row.sensitivity_level = Set(level);
        }
        if let Some(metadata) = &patch.metadata {
            row.metadata = Set(metadata.clone());
        }
        row.update(db).await.map_err(|e| match e {
            sea_orm::DbErr::RecordNotUpdated => Error::not_found(Entity::Resource, id),
            e => e.into(),
        })
    })
    .await
}

/// Deletes the resource and its capabilities; returns what was removed.
pub async fn delete<C: Conn>(db: &C, id: &str) -> Result<ResourceWithCapabilities> {
    traced(operation!(INFO, "resources::delete", resource_id = id), async {
        validate::key("id", id)?;
        let txn = db.begin_write().await?;
        let resource = lock(&txn, id).await?;
        let mut capabilities = capability::Entity::delete_many()
            .filter(capability::Column::ResourceId.eq(id))
            .exec_with_returning(&txn)
            .await?;
        capabilities.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        resource::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        trace::rows(1 + capabilities.len());
        Ok(ResourceWithCapabilities { resource, capabilities })
    })
    .await
}

/// Reads the resource with `id` and, on PostgreSQL, locks it until the transaction ends, so
/// that no capability is added to it meanwhile (SQLite writers are serialised anyway).
pub(crate) async fn lock<C: ConnectionTrait>(txn: &C, id: &str) -> Result<resource::Model> {
    resource::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found(Entity::Resource, id))
}
