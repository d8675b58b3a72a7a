//! PostgreSQL's `COPY … FROM STDIN` text format, shared by the bulk paths (`record_many`,
//! `append_many`): fields separated by tabs, `\N` for NULL, one row per line, and the rows
//! streamed to the server a megabyte at a time.

use crate::error::sqlx_error;
use crate::timestamp;
use sea_orm::sqlx::{self, postgres::PgCopyIn};
use sea_orm::{DbErr, Value};
use std::fmt::Write;

/// Bytes of rows sent to the server at a time.
const SEND_BYTES: usize = 1 << 20;

/// Rows being written to a `COPY`, sent whenever a megabyte has gathered.
pub(crate) struct Rows<C: std::ops::DerefMut<Target = sqlx::PgConnection>> {
    sink: PgCopyIn<C>,
    text: String,
}

impl<C: std::ops::DerefMut<Target = sqlx::PgConnection>> Rows<C> {
    /// Rows for the `COPY` that `sink` is.
    pub(crate) fn new(sink: PgCopyIn<C>) -> Self {
        Rows { sink, text: String::with_capacity(SEND_BYTES + 4096) }
    }

    /// The line being written; end it with [`Rows::end_line`].
    pub(crate) fn line(&mut self) -> &mut String {
        &mut self.text
    }

    /// Ends a line, sending what gathered once it reaches a megabyte.
    pub(crate) async fn end_line(&mut self) -> Result<(), DbErr> {
        self.text.push('\n');
        if self.text.len() >= SEND_BYTES {
            self.sink.send(self.text.as_bytes()).await.map_err(sqlx_error)?;
            self.text.clear();
        }
        Ok(())
    }

    /// Sends the rest and ends the `COPY`; returns the rows it wrote.
    pub(crate) async fn finish(mut self) -> Result<u64, DbErr> {
        self.sink.send(self.text.as_bytes()).await.map_err(sqlx_error)?;
        self.sink.finish().await.map_err(sqlx_error)
    }
}

/// Appends `field` with the characters the text format gives a meaning escaped.
pub(crate) fn escaped(text: &mut String, field: &str) {
    if !field.contains(['\\', '\t', '\n', '\r']) {
        text.push_str(field);
        return;
    }
    for c in field.chars() {
        match c {
            '\\' => text.push_str("\\\\"),
            '\t' => text.push_str("\\t"),
            '\n' => text.push_str("\\n"),
            '\r' => text.push_str("\\r"),
            c => text.push(c),
        }
    }
}

/// Appends `value` as a field: text escaped, numbers as written, JSON as its text, a timestamp
/// in the stored form, NULL as `\N`. A kind of value no sark-db column holds is an error.
pub(crate) fn field(text: &mut String, value: &Value) -> Result<(), DbErr> {
    match value {
        Value::String(Some(s)) => escaped(text, s),
        Value::BigInt(Some(n)) => write!(text, "{n}").expect("writing to a String"),
        Value::Json(Some(json)) => escaped(text, &json.to_string()),
        Value::TimeDateTimeWithTimeZone(Some(t)) => timestamp::write_text(text, *t),
        Value::String(None)
        | Value::BigInt(None)
        | Value::Json(None)
        | Value::TimeDateTimeWithTimeZone(None) => text.push_str("\\N"),
        other => return Err(DbErr::Custom(format!("no COPY text form for {other:?}"))),
    }
    Ok(())
}
