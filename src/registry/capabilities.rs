//! `capabilities`: the tools, endpoints and methods a resource offers.

use crate::Conn;
use crate::error::{is_unique_violation, unique_key_is, write_error};
use crate::trace::{operation, traced};
use crate::{Conflict, Entity, Error, Result, id, validate};
use entity::{SensitivityLevel, capability};
use migration::names::UQ_CAPABILITIES_RESOURCE_NAME;
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

/// A capability to create under a resource (or to sync, see [`super::discovery`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCapability {
    /// Its id; a UUIDv7 when `None`.
    pub id: Option<String>,
    /// Name, matched by discovery sync.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON Schema of the input, a JSON object.
    pub input_schema: Json,
    /// JSON Schema of the output, a JSON object.
    pub output_schema: Json,
    /// Sensitivity of this capability.
    pub sensitivity_level: SensitivityLevel,
    /// Free-form data, a JSON object.
    pub metadata: Json,
}

impl NewCapability {
    /// A capability of medium sensitivity with empty schemas and metadata and a generated id.
    pub fn new(name: impl Into<String>) -> Self {
        NewCapability {
            id: None,
            name: name.into(),
            description: None,
            input_schema: json!({}),
            output_schema: json!({}),
            sensitivity_level: SensitivityLevel::default(),
            metadata: json!({}),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        validate::label("id", self.id.as_deref())?;
        validate::name("name", &self.name)?;
        validate::description(self.description.as_deref())?;
        validate::json_object("input_schema", &self.input_schema)?;
        validate::json_object("output_schema", &self.output_schema)?;
        validate::json_object("metadata", &self.metadata)
    }

    /// The row for this capability under `resource_id`, with its own id or a fresh one.
    pub(crate) fn row(&self, resource_id: &str) -> capability::ActiveModel {
        capability::ActiveModel {
            id: Set(id::or_new(self.id.as_deref())),
            resource_id: Set(resource_id.to_owned()),
            name: Set(self.name.clone()),
            description: Set(self.description.clone()),
            input_schema: Set(self.input_schema.clone()),
            output_schema: Set(self.output_schema.clone()),
            sensitivity_level: Set(self.sensitivity_level),
            metadata: Set(self.metadata.clone()),
        }
    }
}

/// A partial update: the fields that are `Some` change, the rest stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapabilityPatch {
    /// New name.
    pub name: Option<String>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New input schema.
    pub input_schema: Option<Json>,
    /// New output schema.
    pub output_schema: Option<Json>,
    /// New sensitivity.
    pub sensitivity_level: Option<SensitivityLevel>,
    /// New metadata object (replaces the old one).
    pub metadata: Option<Json>,
}

impl CapabilityPatch {
    fn validate(&self) -> Result<()> {
        validate::label("name", self.name.as_deref())?;
        validate::description(self.description.as_ref().and_then(Option::as_deref))?;
        for (field, value) in [
            ("input_schema", &self.input_schema),
            ("output_schema", &self.output_schema),
            ("metadata", &self.metadata),
        ] {
            value.as_ref().map_or(Ok(()), |v| validate::json_object(field, v))?;
        }
        Ok(())
    }
}

/// Creates a capability of `resource_id`. A missing resource is [`Error::NotFound`] of the
/// resource; an id that exists already, or a name the resource has already, is a
/// [`Error::Conflict`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// # let db = sark_db::connect("sqlite::memory:").await?;
/// # sark_db::migrate(&db).await?;
/// use sark_db::entity::Protocol;
/// use sark_db::registry::capabilities::{self, NewCapability};
/// use sark_db::registry::resources::{self, NewResource};
///
/// let files = resources::create(&db, &NewResource::new("Files", Protocol::Mcp, "npx @acme/files")).await?;
/// capabilities::create(&db, &files.id, &NewCapability::new("read_file")).await?;
/// let names: Vec<_> = capabilities::list_by_resource(&db, &files.id).await?.into_iter().map(|c| c.name).collect();
/// assert_eq!(names, ["read_file"]);
/// # Ok(())
/// # }
/// ```
pub async fn create<C: Conn>(db: &C, resource_id: &str, new: &NewCapability) -> Result<capability::Model> {
    traced(operation!(INFO, "capabilities::create", resource_id, name = %new.name), async {
        validate::key("resource_id", resource_id)?;
        new.validate()?;
        let row = new.row(resource_id);
        let id = row.id.as_ref().clone();
        let e = match row.insert(db).await {
            Ok(created) => return Ok(created),
            Err(e) => e,
        };
        // Which unique key was taken: as the server names it, else (SQLite, Citus) the name's
        // unless a capability has this id.
        let unique = is_unique_violation(&e);
        let name_taken = unique
            && match unique_key_is(&e, UQ_CAPABILITIES_RESOURCE_NAME) {
                Some(taken) => taken,
                None => capability::Entity::find_by_id(&id).one(db).await.ok().flatten().is_none(),
            };
        if name_taken {
            return Err(name_conflict(resource_id, &new.name));
        }
        Err(write_error(e, Entity::Capability, &id, Some((Entity::Resource, resource_id))))
    })
    .await
}

/// Whether the unique violation `e` of an update is the one-name-per-resource key: an update
/// changes no id, so a unique violation whose key the server does not name is that one.
fn name_taken(e: &DbErr) -> bool {
    is_unique_violation(e) && unique_key_is(e, UQ_CAPABILITIES_RESOURCE_NAME).unwrap_or(true)
}

fn name_conflict(resource_id: &str, name: &str) -> Error {
    Conflict::NameTaken { entity: Entity::Capability, parent: resource_id.to_owned(), name: name.to_owned() }
        .into()
}

/// The capability with `id`.
pub async fn get<C: Conn>(db: &C, id: &str) -> Result<capability::Model> {
    traced(operation!(DEBUG, "capabilities::get", capability_id = id), async {
        validate::key("id", id)?;
        capability::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or_else(|| Error::not_found(Entity::Capability, id))
    })
    .await
}

/// The capabilities of `resource_id`, by name (empty when the resource has none or does not exist).
pub async fn list_by_resource<C: Conn>(db: &C, resource_id: &str) -> Result<Vec<capability::Model>> {
    traced(operation!(DEBUG, "capabilities::list_by_resource", resource_id), async {
        validate::key("resource_id", resource_id)?;
        Ok(capability::Entity::find()
            .filter(capability::Column::ResourceId.eq(resource_id))
            .order_by_asc(capability::Column::Name)
            .order_by_asc(capability::Column::Id)
            .all(db)
            .await?)
    })
    .await
}

/// Every capability called `name`, across resources, by resource id.
pub async fn find_by_name<C: Conn>(db: &C, name: &str) -> Result<Vec<capability::Model>> {
    traced(operation!(DEBUG, "capabilities::find_by_name", name), async {
        validate::key("name", name)?;
        Ok(capability::Entity::find()
            .filter(capability::Column::Name.eq(name))
            .order_by_asc(capability::Column::ResourceId)
            .order_by_asc(capability::Column::Id)
            .all(db)
            .await?)
    })
    .await
}

/// Applies `patch`; returns the capability as it is now. A new name its resource has already
/// is a [`Error::Conflict`].
pub async fn update<C: Conn>(db: &C, id: &str, patch: &CapabilityPatch) -> Result<capability::Model> {
    traced(operation!(INFO, "capabilities::update", capability_id = id), async {
        validate::key("id", id)?;
        patch.validate()?;
        let mut row = capability::ActiveModel { id: Unchanged(id.to_owned()), ..Default::default() };
        if let Some(name) = &patch.name {
            row.name = Set(name.clone());
        }
        if let Some(description) = &patch.description {
            row.description = Set(description.clone());
        }
        if let Some(schema) = &patch.input_schema {
            row.input_schema = Set(schema.clone());
        }
        if let Some(schema) = &patch.output_schema {
            row.output_schema = Set(schema.clone());
        }
        if let Some(level) = patch.sensitivity_level {
            row.sensitivity_level = Set(level);
        }
        if let Some(metadata) = &patch.metadata {
            row.metadata = Set(metadata.clone());
        }
        if !row.is_changed() {
            return get(db, id).await;
        }
        // A capability never changes resource, so the parent read here is the one a name clash is under.
        let parent = match &patch.name {
            Some(_) => Some(get(db, id).await?.resource_id),
            None => None,
        };
        row.update(db).await.map_err(|e| match (e, &patch.name, parent) {
            (DbErr::RecordNotUpdated, ..) => Error::not_found(Entity::Capability, id),
            (e, Some(name), Some(parent)) if name_taken(&e) => name_conflict(&parent, name),
            (e, ..) => e.into(),
        })
    })
    .await
}

/// Deletes the capability with `id`; returns what was removed.
pub async fn delete<C: Conn>(db: &C, id: &str) -> Result<capability::Model> {
    traced(operation!(INFO, "capabilities::delete", capability_id = id), async {
        validate::key("id", id)?;
        capability::Entity::delete_by_id(id)
            .exec_with_returning(db)
            .await?
            .ok_or_else(|| Error::not_found(Entity::Capability, id))
    })
    .await
}
