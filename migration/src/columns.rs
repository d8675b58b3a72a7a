//! Column shapes that recur across tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A `VARCHAR` primary-key column.
pub fn string_id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string().not_null().primary_key().to_owned()
}

/// A JSON object column (`jsonb` on PostgreSQL), NOT NULL, defaulting to `{}`.
pub fn json_object<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).json_binary().not_null().default("{}").to_owned()
}

/// A nullable JSON column (`jsonb` on PostgreSQL).
pub fn json_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).json_binary().null().to_owned()
}

/// A `TIMESTAMPTZ NOT NULL DEFAULT now` column.
pub fn timestamp_now<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().not_null().default(Expr::current_timestamp()).to_owned()
}

/// A sensitivity column: `VARCHAR NOT NULL DEFAULT 'medium'`.
pub fn sensitivity<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string().not_null().default("medium").to_owned()
}

/// A nullable `BIGINT` amount of micro-units.
pub fn micros_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().to_owned()
}

/// A `TIMESTAMPTZ NOT NULL` column defaulting to now, in the canonical text form on SQLite
/// (see `canonical`), for tables created after migration 15 set the older ones' defaults.
pub fn timestamp_now_canonical<T: IntoIden>(backend: DbBackend, name: T) -> ColumnDef {
    let now = match backend {
        DbBackend::Sqlite => Expr::cust(crate::canonical::NOW),
        _ => Expr::current_timestamp(),
    };
    ColumnDef::new(name).timestamp_with_time_zone().not_null().default(now).to_owned()
}
