//! The v1 → v2 copy: `mcp_servers` → `resources`, `mcp_tools` → `capabilities`.
//!
//! The copy is SQL (`INSERT … SELECT`), the same statements on both backends but for their JSON
//! functions. Rows whose id already exists in v2 are left alone; every row the copy creates is
//! listed in `v1_copied_rows`, which is what [`uncopy`] removes, and a listed row is never
//! copied again (one deleted in v2 stays deleted). Dirty v1 data that has no rule makes the copy
//! fail with the offending ids, before anything is written: among it, tools whose server was
//! not copied, since a v2 resource of that id is not theirs.
//!
//! Metadata: the v1 columns without a v2 column are added to the v1 `metadata` object under
//! their own names (`null` when NULL). When the v1 metadata is not an object, or already has one
//! of those keys or `v1_metadata`, it is kept whole under `v1_metadata` instead of merged.

use crate::canonical;
use crate::offenders::{describe, refuse};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// v1 `mcp_servers` columns that have no `resources` column, carried into `metadata`.
pub const SERVER_EXTRA_COLUMNS: [&str; 6] =
    ["transport", "command", "args", "env", "endpoint", "description"];

/// The metadata key that holds v1 metadata which could not be merged.
pub const V1_METADATA_KEY: &str = "v1_metadata";

/// The v2 sensitivity vocabulary; v1 values are matched after `lower(trim(…))`.
const SENSITIVITY: &str = "('low', 'medium', 'high', 'critical')";

/// `(entity, v1 table, v2 table)` in copy order; `v1_copied_rows.entity` names the kind.
const COPIED: [(&str, &str, &str); 2] =
    [("resource", "mcp_servers", "resources"), ("capability", "mcp_tools", "capabilities")];

/// Rows the copy created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    /// New `resources` rows.
    pub resources: u64,
    /// New `capabilities` rows.
    pub capabilities: u64,
}

/// Copies the v1 rows that are not in v2 yet. Run it inside a transaction: on failure
/// nothing it did should stay.
pub async fn copy<C: ConnectionTrait>(db: &C) -> Result<Copied, DbErr> {
    let sql = Sql(db.get_database_backend());
    refuse_unmappable(db, &sql).await?;
    for (entity, v1, v2) in COPIED {
        db.execute_unprepared(&log(entity, v1, v2)).await?;
    }
    let resources = db.execute_unprepared(&sql.insert_resources()).await?.rows_affected();
    let capabilities = db.execute_unprepared(&sql.insert_capabilities()).await?.rows_affected();
    for (entity, ..) in COPIED {
        db.execute_unprepared(&format!(
            "UPDATE v1_copied_rows SET entity = '{entity}' WHERE entity = '{}'",
            copying(entity)
        ))
        .await?;
    }
    Ok(Copied { resources, capabilities })
}

/// How `v1_copied_rows` marks a row of `entity` while this copy is creating it.
fn copying(entity: &str) -> String {
    format!("{entity} (copying)")
}

/// Deletes the rows the copy created (a capability created natively under a copied resource
/// goes with its resource) and forgets them.
pub async fn uncopy<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    for (entity, _, table) in COPIED.into_iter().rev() {
        db.execute_unprepared(&format!(
            "DELETE FROM {table} WHERE id IN (SELECT id FROM v1_copied_rows WHERE entity = '{entity}')"
        ))
        .await?;
    }
    db.execute_unprepared("DELETE FROM v1_copied_rows").await.map(drop)
}

/// Fails naming the ids of v1 rows (still to be copied) that no rule maps.
async fn refuse_unmappable<C: ConnectionTrait>(db: &C, sql: &Sql) -> Result<(), DbErr> {
    let pending =
        |entity: &str, table: &str, v2: &str| format!("{table} v WHERE {}", never_copied(entity, v2));
    let servers = pending("resource", "mcp_servers", "resources");
    let tools = pending("capability", "mcp_tools", "capabilities");
    let resource_exists = "EXISTS (SELECT 1 FROM resources r WHERE r.id = v.server_id)";
    let resource_copied =
        "EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.server_id)";
    let mut checks: Vec<(String, String)> = [
        (
            "mcp_servers with neither command nor endpoint",
            format!("{servers} AND v.command IS NULL AND v.endpoint IS NULL"),
        ),
        ("mcp_servers with an unknown sensitivity_level", format!("{servers} AND {}", unknown_sensitivity())),
        ("mcp_tools with an unknown sensitivity_level", format!("{tools} AND {}", unknown_sensitivity())),
        (
            "mcp_tools whose input_schema is not a JSON object",
            format!("{tools} AND v.input_schema IS NOT NULL AND NOT {}", sql.is_object("v.input_schema")),
        ),
        ("mcp_servers with a name over 255 characters", format!("{servers} AND length(v.name) > 255")),
        ("mcp_tools with a name over 255 characters", format!("{tools} AND length(v.name) > 255")),
        (
            "mcp_tools whose name another tool of their server has",
            format!(
                "{tools} AND (EXISTS (SELECT 1 FROM mcp_tools o WHERE o.server_id = v.server_id \
                 AND o.name = v.name AND o.id <> v.id) \
                 OR EXISTS (SELECT 1 FROM capabilities c WHERE c.resource_id = v.server_id AND c.name = v.name))"
            ),
        ),
        (
            "mcp_tools whose server does not exist",
            format!("{tools} AND NOT EXISTS (SELECT 1 FROM mcp_servers s WHERE s.id = v.server_id)"),
        ),
        (
            "mcp_tools whose server was not copied (a v2 resource not from v1 has its id)",
            format!("{tools} AND {resource_exists} AND NOT {resource_copied}"),
        ),
        (
            "mcp_tools whose server's copy was deleted in v2",
            format!("{tools} AND {resource_copied} AND NOT {resource_exists}"),
        ),
    ]
    .map(|(what, rows)| (what.to_owned(), rows))
    .into();
    if sql.0 == DbBackend::Sqlite {
        for (table, rows, columns) in [
            ("mcp_servers", &servers, &["args", "env", "metadata"][..]),
            ("mcp_tools", &tools, &["input_schema", "metadata"]),
        ] {
            for column in columns {
                checks.push((
                    format!("{table} whose {column} is not valid JSON"),
                    format!("{rows} AND v.{column} IS NOT NULL AND NOT json_valid(v.{column})"),
                ));
            }
        }
        for column in ["created_at", "updated_at"] {
            checks.push((
                format!("mcp_servers whose {column} is not a readable timestamp"),
                format!("{servers} AND {} IS NULL", sql.timestamp(&format!("v.{column}"))),
            ));
        }
    }
    let mut problems = Vec::new();
    for (what, from_where) in checks {
        let query = format!("SELECT v.id FROM {from_where} ORDER BY v.id");
        problems.extend(describe(db, &what, &query).await?);
    }
    refuse("v1 → v2 copy refused, nothing copied", problems)
}

fn unknown_sensitivity() -> String {
    format!("v.sensitivity_level IS NOT NULL AND lower(trim(v.sensitivity_level)) NOT IN {SENSITIVITY}")
}

/// The copy's SQL for one backend.
struct Sql(DbBackend);

impl Sql {
    fn insert_resources(&self) -> String {
        let extras: Vec<(&str, String)> = SERVER_EXTRA_COLUMNS
            .iter()
            .map(|&c| {
                (
                    c,
                    if matches!(c, "args" | "env") {
                        self.json_col(&format!("v.{c}"))
                    } else {
                        format!("v.{c}")
                    },
                )
            })
            .collect();
        format!(
            "INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at) \
             SELECT v.id, v.name, 'mcp', COALESCE(v.command, v.endpoint), {sensitivity}, {metadata}, {created}, {updated} \
             FROM mcp_servers v {copied}",
            sensitivity = sensitivity(),
            metadata = self.metadata(&extras),
            created = self.timestamp("v.created_at"),
            updated = self.timestamp("v.updated_at"),
            copied = copying_now("resource"),
        )
    }

    fn insert_capabilities(&self) -> String {
        let extras = [("requires_approval", self.json_bool("v.requires_approval"))];
        format!(
            "INSERT INTO capabilities (id, resource_id, name, description, input_schema, output_schema, \
             sensitivity_level, metadata) \
             SELECT v.id, v.server_id, v.name, v.description, COALESCE({input}, {empty}), {empty}, {sensitivity}, {metadata} \
             FROM mcp_tools v {copied}",
            input = self.json_col("v.input_schema"),
            empty = self.empty_object(),
            sensitivity = sensitivity(),
            metadata = self.metadata(&extras),
            copied = copying_now("capability"),
        )
    }

    /// The v1 `metadata` with `extras` merged in, or kept whole under [`V1_METADATA_KEY`].
    fn metadata(&self, extras: &[(&str, String)]) -> String {
        let mut keys: Vec<&str> = extras.iter().map(|(k, _)| *k).collect();
        keys.push(V1_METADATA_KEY);
        let mut kept = extras.to_vec();
        kept.push((V1_METADATA_KEY, self.json_col("v.metadata")));
        format!(
            "CASE WHEN v.metadata IS NOT NULL AND (NOT {is_object} OR {has_key}) THEN {kept} ELSE {merged} END",
            is_object = self.is_object("v.metadata"),
            has_key = self.has_any_key("v.metadata", &keys),
            kept = self.object(&kept),
            merged = self.merge(
                &format!("COALESCE({}, {})", self.json_col("v.metadata"), self.empty_object()),
                extras
            ),
        )
    }

    /// A v1 timestamp column as v2 stores it (SQLite: the canonical text, NULL when unreadable).
    fn timestamp(&self, col: &str) -> String {
        match self.0 {
            DbBackend::Postgres => col.to_owned(),
            _ => canonical::sqlite(col),
        }
    }

    fn empty_object(&self) -> &'static str {
        match self.0 {
            DbBackend::Postgres => "'{}'::jsonb",
            _ => "'{}'",
        }
    }

    /// A JSON column as a JSON value (SQLite keeps JSON as text).
    fn json_col(&self, col: &str) -> String {
        match self.0 {
            DbBackend::Postgres => col.to_owned(),
            _ => format!("json({col})"),
        }
    }

    fn json_bool(&self, col: &str) -> String {
        match self.0 {
            DbBackend::Postgres => col.to_owned(),
            _ => format!("json(CASE WHEN {col} THEN 'true' ELSE 'false' END)"),
        }
    }

    fn is_object(&self, col: &str) -> String {
        match self.0 {
            DbBackend::Postgres => format!("jsonb_typeof({col}) = 'object'"),
            _ => format!("json_type({col}) = 'object'"),
        }
    }

    fn has_any_key(&self, col: &str, keys: &[&str]) -> String {
        match self.0 {
            DbBackend::Postgres => {
                let keys: Vec<_> = keys.iter().map(|k| format!("'{k}'")).collect();
                format!("jsonb_exists_any({col}, ARRAY[{}])", keys.join(", "))
            }
            _ => {
                let tests: Vec<_> =
                    keys.iter().map(|k| format!("json_type({col}, '$.{k}') IS NOT NULL")).collect();
                format!("({})", tests.join(" OR "))
            }
        }
    }

    fn object(&self, pairs: &[(&str, String)]) -> String {
        let args: Vec<_> = pairs.iter().map(|(k, v)| format!("'{k}', {v}")).collect();
        match self.0 {
            DbBackend::Postgres => format!("jsonb_build_object({})", args.join(", ")),
            _ => format!("json_object({})", args.join(", ")),
        }
    }

    /// `base` with `pairs` set (a SQL NULL becomes JSON `null`).
    fn merge(&self, base: &str, pairs: &[(&str, String)]) -> String {
        match self.0 {
            DbBackend::Postgres => format!("{base} || {}", self.object(pairs)),
            _ => {
                let args: Vec<_> = pairs.iter().map(|(k, v)| format!("'$.{k}', {v}")).collect();
                format!("json_set({base}, {})", args.join(", "))
            }
        }
    }
}

/// Lists the v1 rows of `entity` that are in neither v2 nor the list yet.
fn log(entity: &str, v1: &str, v2: &str) -> String {
    format!(
        "INSERT INTO v1_copied_rows (entity, id) SELECT '{}', v.id FROM {v1} v WHERE {}",
        copying(entity),
        never_copied(entity, v2)
    )
}

/// The v1 rows (`v`) of `entity` that are not in `v2` and were never copied.
fn never_copied(entity: &str, v2: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM {v2} n WHERE n.id = v.id) \
         AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = '{entity}' AND l.id = v.id)"
    )
}

fn sensitivity() -> &'static str {
    "COALESCE(lower(trim(v.sensitivity_level)), 'medium')"
}

/// Restricts `FROM … v` to the rows of `entity` this copy is creating.
fn copying_now(entity: &str) -> String {
    format!("WHERE v.id IN (SELECT id FROM v1_copied_rows WHERE entity = '{}')", copying(entity))
}
