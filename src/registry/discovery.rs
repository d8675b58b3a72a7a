//! Discovery sync: make a resource's capability set equal to what discovery found.

use super::resources;
use crate::Conn;
use crate::registry::capabilities::NewCapability;
use crate::trace::{self, operation, traced};
use crate::{Entity, Error, Result, validate};
use entity::capability;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Rows per `INSERT` or `DELETE … IN`: 8 values a row stays below every bind limit.
const CHUNK_ROWS: usize = 1_000;

/// What a sync changed, by capability name (each list sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Names that were new.
    pub inserted: Vec<String>,
    /// Names whose description, schemas, sensitivity or metadata changed.
    pub updated: Vec<String>,
    /// Names that discovery no longer reports.
    pub deleted: Vec<String>,
    /// Names that were already as discovered.
    pub unchanged: Vec<String>,
}

/// Replaces the capabilities of `resource_id` with `found`, matched by name, in one
/// transaction: new names are inserted (with their `id` or a UUIDv7), changed ones updated in
/// place (keeping their id), missing ones deleted. Duplicate names in `found` are a validation
/// error; a missing resource is [`Error::NotFound`].
pub async fn sync<C: Conn>(db: &C, resource_id: &str, found: &[NewCapability]) -> Result<SyncReport> {
    traced(operation!(INFO, "discovery::sync", resource_id), async {
        validate::key("resource_id", resource_id)?;
        let mut wanted = BTreeMap::new();
        let mut ids = std::collections::HashSet::new();
        for capability in found {
            capability.validate()?;
            if wanted.insert(capability.name.as_str(), capability).is_some() {
                return Err(Error::validation(
                    "name",
                    format!("{:?} appears more than once", capability.name),
                ));
            }
            if let Some(id) = capability.id.as_deref().filter(|id| !ids.insert(*id)) {
                return Err(Error::validation("id", format!("{id:?} appears more than once")));
            }
        }
        let txn = db.begin_write().await?;
        resources::lock(&txn, resource_id).await?;
        let existing = capability::Entity::find()
            .filter(capability::Column::ResourceId.eq(resource_id))
            .all(&txn)
            .await?;
        let mut report = SyncReport::default();
        let mut stale = Vec::new();
        // One row per name and resource (the database's own key): a row either matches a
        // discovered capability or is gone from discovery.
        for row in existing {
            match wanted.remove(row.name.as_str()) {
                Some(new) => {
                    if differs(&row, new) {
                        report.updated.push(row.name.clone());
                        update(&txn, row, new).await?;
                    } else {
                        report.unchanged.push(row.name);
                    }
                }
                None => stale.push(row),
            }
        }
        let fresh: Vec<_> = wanted.into_values().collect();
        for chunk in fresh.chunks(CHUNK_ROWS) {
            refuse_taken_ids(&txn, chunk).await?;
            let inserted = capability::Entity::insert_many(chunk.iter().map(|c| c.row(resource_id)))
                .exec_without_returning(&txn)
                .await;
            if let Err(e) = inserted {
                // Taken meanwhile by another writer: name the id, read after this transaction.
                drop(txn);
                refuse_taken_ids(db, chunk).await?;
                return Err(e.into());
            }
        }
        for chunk in stale.chunks(CHUNK_ROWS) {
            let ids = chunk.iter().map(|row| row.id.clone());
            capability::Entity::delete_many().filter(capability::Column::Id.is_in(ids)).exec(&txn).await?;
        }
        txn.commit().await?;
        report.inserted = fresh.iter().map(|c| c.name.clone()).collect();
        report.deleted = stale.into_iter().map(|row| row.name).collect();
        for list in [&mut report.updated, &mut report.deleted, &mut report.unchanged] {
            list.sort();
        }
        trace::rows(report.inserted.len() + report.updated.len() + report.deleted.len());
        Ok(report)
    })
    .await
}

/// A [`crate::Conflict::Exists`] naming the first of `fresh`'s own ids that a capability
/// already has.
async fn refuse_taken_ids<C: ConnectionTrait>(txn: &C, fresh: &[&NewCapability]) -> Result<()> {
    let ids: Vec<&str> = fresh.iter().filter_map(|c| c.id.as_deref()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let taken = capability::Entity::find()
        .filter(capability::Column::Id.is_in(ids))
        .order_by_asc(capability::Column::Id)
        .one(txn)
        .await?;
    taken.map_or(Ok(()), |row| Err(Error::exists(Entity::Capability, row.id)))
}

fn differs(row: &capability::Model, new: &NewCapability) -> bool {
    row.description != new.description
        || row.input_schema != new.input_schema
        || row.output_schema != new.output_schema
        || row.sensitivity_level != new.sensitivity_level
        || row.metadata != new.metadata
}

async fn update<C: ConnectionTrait>(txn: &C, row: capability::Model, new: &NewCapability) -> Result<()> {
    let mut row = row.into_active_model();
    row.description = Set(new.description.clone());
    row.input_schema = Set(new.input_schema.clone());
    row.output_schema = Set(new.output_schema.clone());
    row.sensitivity_level = Set(new.sensitivity_level);
    row.metadata = Set(new.metadata.clone());
    row.update(txn).await?;
    Ok(())
}
