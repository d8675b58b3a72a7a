//! Timestamps as the database stores them: UTC, truncated to microseconds.
//!
//! SQLite keeps them as text in one fixed-width form, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, whose
//! order as text is chronological, so range conditions and orderings compare
//! the column itself and use its index. sqlx would bind an [`OffsetDateTime`] as RFC 3339 with
//! the fraction trimmed (`…T12:00:00Z`, `…T12:00:00.5Z`), which does not sort within a second:
//! every statement therefore runs through [`Stored`], which binds timestamps as that text on
//! SQLite: public functions wrap their connection (or their transaction) once, and the crate's
//! internal helpers are handed the wrapped one; a service that writes entities itself wraps its
//! connection with [`stored`] too. Migration 15 put existing rows and the column defaults in the same form, and the
//! database refuses any other. PostgreSQL stores `timestamptz` and is left as it is.

pub use entity::timestamp::{normalize, now};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement, Value};
use time::OffsetDateTime;

/// `t` as SQLite stores it: normalized, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) fn text(t: OffsetDateTime) -> String {
    let mut text = String::with_capacity(27);
    write_text(&mut text, t);
    text
}

/// Appends [`text`]`(t)` to `out`.
pub(crate) fn write_text(out: &mut String, t: OffsetDateTime) {
    use std::fmt::Write;
    let t = normalize(t);
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
    .expect("writing to a String");
}

/// `db` binding every timestamp as the database stores it. Wrap the connection in it to write
/// entities' ActiveModels directly on SQLite, whose schema refuses timestamps in any other form:
///
/// ```no_run
/// # async fn example(db: &sark_db::DatabaseConnection) -> sark_db::Result<()> {
/// use sark_db::entity::resource;
/// use sark_db::sea_orm::{ActiveModelTrait, ActiveValue::{Set, Unchanged}};
///
/// let renamed = resource::ActiveModel { id: Unchanged("files".into()), name: Set("Files".into()), ..Default::default() }
///     .update(&sark_db::timestamp::stored(db))
///     .await?; // `updated_at` is now, as with every ActiveModel update
/// # Ok(())
/// # }
/// ```
pub fn stored<C: ConnectionTrait>(db: &C) -> Stored<'_, C> {
    Stored(db)
}

/// A connection whose statements bind timestamps in the stored form: on SQLite, the text
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub struct Stored<'a, C>(&'a C);

impl<C: ConnectionTrait> Stored<'_, C> {
    fn rewrite(&self, mut stmt: Statement) -> Statement {
        if stmt.db_backend == DbBackend::Sqlite {
            for value in stmt.values.iter_mut().flat_map(|v| v.0.iter_mut()) {
                if let Value::TimeDateTimeWithTimeZone(Some(t)) = value {
                    *value = Value::String(Some(text(*t)));
                }
            }
        }
        stmt
    }
}

#[async_trait::async_trait]
impl<C: ConnectionTrait> ConnectionTrait for Stored<'_, C> {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.execute_raw(self.rewrite(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.0.query_one_raw(self.rewrite(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.0.query_all_raw(self.rewrite(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.0.support_returning()
    }
}
