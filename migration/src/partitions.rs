//! Monthly range partitions of the time-series tables (`audit_events`, `cost_tracking`) on
//! PostgreSQL without TimescaleDB: converting a plain table, and creating one month's partition.
//!
//! A partition covers one UTC month, `[first day, first day of the next month)`, and is named
//! `<table>_pYYYY_MM`; `<table>_default` takes any row no month partition covers, so that no
//! insert is ever lost. Row triggers of the parent (the append-only rule) are cloned onto every
//! partition by PostgreSQL itself; its statement-level `TRUNCATE` triggers are not, so each
//! partition gets its own copy.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbErr, Statement};

/// The tables that are partitioned by time.
pub const TABLES: [&str; 2] = ["audit_events", "cost_tracking"];

/// One UTC calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    /// The year.
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
}

impl Month {
    /// The month after this one.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { month: self.month + 1, ..self }
        }
    }

    /// Its first instant, as a `timestamptz` literal.
    fn start(self) -> String {
        format!("{:04}-{:02}-01 00:00:00+00", self.year, self.month)
    }

    /// The name of `table`'s partition for this month.
    pub fn partition_of(self, table: &str) -> String {
        format!("{table}_p{:04}_{:02}", self.year, self.month)
    }
}

/// The name of `table`'s default partition.
pub fn default_partition(table: &str) -> String {
    format!("{table}_default")
}

/// Runs `sql` and returns its first row's columns `names`, as `T`.
async fn one_row<C: ConnectionTrait, T: sea_orm_migration::sea_orm::TryGetableMany>(
    db: &C,
    sql: String,
    names: &[&str],
) -> Result<T, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| DbErr::Custom("a query that returns one row returned none".into()))?;
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    T::try_get_many(&row, "", &names).map_err(Into::into)
}

/// Whether `table` is a partitioned table.
pub async fn is_partitioned<C: ConnectionTrait>(db: &C, table: &str) -> Result<bool, DbErr> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('{table}') AND relkind = 'p') AS p"
    );
    let (partitioned,): (bool,) = one_row(db, sql, &["p"]).await?;
    Ok(partitioned)
}

/// Whether `table` is a TimescaleDB hypertable.
pub async fn is_hypertable<C: ConnectionTrait>(db: &C, table: &str) -> Result<bool, DbErr> {
    let installed = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS i";
    let (installed,): (bool,) = one_row(db, installed.to_owned(), &["i"]).await?;
    if !installed {
        // The information view exists only with the extension.
        return Ok(false);
    }
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = '{table}') AS h"
    );
    let (hyper,): (bool,) = one_row(db, sql, &["h"]).await?;
    Ok(hyper)
}

/// The months of the oldest and the newest row of `table`, `None` when it is empty.
async fn month_range<C: ConnectionTrait>(db: &C, table: &str) -> Result<Option<(Month, Month)>, DbErr> {
    let sql = format!(
        "SELECT EXTRACT(YEAR FROM min(\"timestamp\") AT TIME ZONE 'UTC')::int AS y0, \
                EXTRACT(MONTH FROM min(\"timestamp\") AT TIME ZONE 'UTC')::int AS m0, \
                EXTRACT(YEAR FROM max(\"timestamp\") AT TIME ZONE 'UTC')::int AS y1, \
                EXTRACT(MONTH FROM max(\"timestamp\") AT TIME ZONE 'UTC')::int AS m1 FROM {table}"
    );
    let (y0, m0, y1, m1): (Option<i32>, Option<i32>, Option<i32>, Option<i32>) =
        one_row(db, sql, &["y0", "m0", "y1", "m1"]).await?;
    Ok(match (y0, m0, y1, m1) {
        (Some(y0), Some(m0), Some(y1), Some(m1)) => {
            Some((Month { year: y0, month: m0 as u32 }, Month { year: y1, month: m1 as u32 }))
        }
        _ => None,
    })
}

/// The current UTC month of the database's clock.
async fn current_month<C: ConnectionTrait>(db: &C) -> Result<Month, DbErr> {
    let sql = "SELECT EXTRACT(YEAR FROM now() AT TIME ZONE 'UTC')::int AS y, \
               EXTRACT(MONTH FROM now() AT TIME ZONE 'UTC')::int AS m"
        .to_owned();
    let (year, month): (i32, i32) = one_row(db, sql, &["y", "m"]).await?;
    Ok(Month { year, month: month as u32 })
}

/// Creates `table`'s partition for `month` unless it exists, with the parent's `TRUNCATE`
/// triggers; returns whether it created it. Fails when the default partition holds rows of
/// that month (move them first).
pub async fn create_month<C: ConnectionTrait>(db: &C, table: &str, month: Month) -> Result<bool, DbErr> {
    let name = month.partition_of(table);
    let sql = format!("SELECT to_regclass('{name}') IS NOT NULL AS e");
    let (exists,): (bool,) = one_row(db, sql, &["e"]).await?;
    if exists {
        return Ok(false);
    }
    db.execute_unprepared(&format!(
        "CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{}') TO ('{}')",
        month.start(),
        month.next().start()
    ))
    .await?;
    copy_truncate_triggers(db, table, &name).await?;
    name_indexes(db, &name, &format!("p{:04}_{:02}", month.year, month.month)).await?;
    Ok(true)
}

/// Creates `table`'s default partition, with the parent's `TRUNCATE` triggers.
pub async fn create_default<C: ConnectionTrait>(db: &C, table: &str) -> Result<(), DbErr> {
    let name = default_partition(table);
    db.execute_unprepared(&format!("CREATE TABLE {name} PARTITION OF {table} DEFAULT")).await?;
    copy_truncate_triggers(db, table, &name).await?;
    name_indexes(db, &name, "default").await
}

/// Names each index of `partition` after the parent's index it belongs to, plus `_<suffix>`
/// (`idx_audit_timestamp_id_p2026_11`), instead of PostgreSQL's names made from the columns:
/// plans then name the index they use.
async fn name_indexes<C: ConnectionTrait>(db: &C, partition: &str, suffix: &str) -> Result<(), DbErr> {
    let sql = format!(
        "SELECT c.relname AS child, p.relname AS parent FROM pg_index x \
         JOIN pg_class c ON c.oid = x.indexrelid \
         JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent \
         WHERE x.indrelid = '{partition}'::regclass"
    );
    for row in db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await? {
        let (child, parent): (String, String) = (row.try_get("", "child")?, row.try_get("", "parent")?);
        // PostgreSQL names are at most 63 bytes; ours are ASCII.
        let keep = 63usize.saturating_sub(suffix.len() + 1).min(parent.len());
        let name = format!("{}_{suffix}", &parent[..keep]);
        if child != name {
            db.execute_unprepared(&format!("ALTER INDEX {child} RENAME TO {name}")).await?;
        }
    }
    Ok(())
}

/// Gives `partition` the statement-level `TRUNCATE` triggers of `table` (PostgreSQL clones
/// only row triggers onto partitions).
async fn copy_truncate_triggers<C: ConnectionTrait>(
    db: &C,
    table: &str,
    partition: &str,
) -> Result<(), DbErr> {
    // tgtype bit 32: TRUNCATE.
    let sql = format!(
        "SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger \
         WHERE tgrelid = '{table}'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0"
    );
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    crate::citus::allow_triggers(db).await?;
    for row in rows {
        let name: String = row.try_get("", "tgname")?;
        let function: String = row.try_get("", "function")?;
        db.execute_unprepared(&format!(
            "CREATE TRIGGER {name} BEFORE TRUNCATE ON {partition} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        ))
        .await?;
    }
    Ok(())
}

/// What makes up a table besides its columns: the statements that recreate its indexes and
/// key constraints, and its triggers, as PostgreSQL prints them.
struct Parts {
    indexes: Vec<String>,
    triggers: Vec<String>,
}

/// Reads the parts of `table` (before it is renamed, so that the statements name it).
async fn parts<C: ConnectionTrait>(db: &C, table: &str) -> Result<Parts, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT COALESCE('ALTER TABLE {table} ADD CONSTRAINT ' || quote_ident(c.conname) || ' ' \
                         || pg_get_constraintdef(c.oid), \
                         replace(pg_get_indexdef(x.indexrelid), ' ON ONLY ', ' ON ')) AS statement \
         FROM pg_index x LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid \
         WHERE x.indrelid = '{table}'::regclass ORDER BY x.indexrelid"
    );
    let indexes = db.query_all_raw(Statement::from_string(backend, sql)).await?;
    let sql = format!(
        "SELECT pg_get_triggerdef(oid) AS statement FROM pg_trigger \
         WHERE tgrelid = '{table}'::regclass AND NOT tgisinternal AND tgparentid = 0 ORDER BY oid"
    );
    let triggers = db.query_all_raw(Statement::from_string(backend, sql)).await?;
    let statements = |rows: Vec<sea_orm_migration::sea_orm::QueryResult>| -> Result<Vec<String>, DbErr> {
        rows.iter().map(|r| r.try_get::<String>("", "statement")).collect()
    };
    Ok(Parts { indexes: statements(indexes)?, triggers: statements(triggers)? })
}

/// Rebuilds `table` with its rows as a table partitioned by month (`partitioned`) or as a
/// plain one, keeping its columns, defaults, checks, keys, indexes and triggers. Month
/// partitions cover every month that holds a row and the `ahead` months from now on.
async fn rebuild<C: ConnectionTrait>(
    db: &C,
    table: &str,
    partitioned: bool,
    ahead: u32,
) -> Result<(), DbErr> {
    let parts = parts(db, table).await?;
    let old = format!("{table}_rebuilt_from");
    let like = "INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE \
                INCLUDING COMMENTS";
    let partition_by = if partitioned { "PARTITION BY RANGE (\"timestamp\")" } else { "" };
    // One statement per call: Citus sends a distributed table's DDL to the workers as its text.
    db.execute_unprepared(&format!("ALTER TABLE {table} RENAME TO {old}")).await?;
    db.execute_unprepared(&format!("CREATE TABLE {table} (LIKE {old} {like}) {partition_by}")).await?;
    // Indexes and triggers go after the rows: built once instead of row by row, and the
    // append-only triggers of the old table would refuse nothing here anyway.
    if partitioned {
        let now = current_month(db).await?;
        let mut last = now;
        for _ in 0..ahead {
            last = last.next();
        }
        let mut month = match month_range(db, &old).await? {
            Some((first, newest)) => {
                last = last.max(newest);
                first.min(now)
            }
            None => now,
        };
        // The default partition only after the months: a month created later would have to
        // scan it.
        while month <= last {
            create_month(db, table, month).await?;
            month = month.next();
        }
    }
    db.execute_unprepared(&format!("INSERT INTO {table} SELECT * FROM {old}")).await?;
    let renames = carry_sequences(db, &old, table).await?;
    db.execute_unprepared(&format!("DROP TABLE {old}")).await?;
    for rename in renames {
        db.execute_unprepared(&rename).await?;
    }
    for statement in parts.indexes.iter().chain(&parts.triggers) {
        db.execute_unprepared(statement).await?;
    }
    if partitioned {
        create_default(db, table).await?;
        // Month partitions were created before the parent had its triggers and indexes.
        let months = format!(
            "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = '{table}'::regclass AND c.relname <> '{}'",
            default_partition(table)
        );
        for row in db.query_all_raw(Statement::from_string(db.get_database_backend(), months)).await? {
            let name: String = row.try_get("", "name")?;
            copy_truncate_triggers(db, table, &name).await?;
            let suffix =
                name.strip_prefix(table).and_then(|s| s.strip_prefix('_')).unwrap_or(&name).to_owned();
            name_indexes(db, &name, &suffix).await?;
        }
    }
    Ok(())
}

/// Carries the numbering of `old`'s serial and identity columns over to `new`: a serial
/// column's sequence is handed to `new`'s column (whose default, copied by `LIKE`, calls it);
/// an identity column's new sequence is set where the old one stood. Returns what to run once
/// `old` is dropped: renaming each new identity sequence to its old name.
async fn carry_sequences<C: ConnectionTrait>(db: &C, old: &str, new: &str) -> Result<Vec<String>, DbErr> {
    let sql = format!(
        "SELECT quote_ident(attname) AS col, pg_get_serial_sequence('{old}', attname) AS seq, \
                attidentity <> '' AS identity FROM pg_attribute \
         WHERE attrelid = '{old}'::regclass AND attnum > 0 AND NOT attisdropped \
         AND pg_get_serial_sequence('{old}', attname) IS NOT NULL"
    );
    let mut after_drop = Vec::new();
    for row in db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await? {
        let (col, seq): (String, String) = (row.try_get("", "col")?, row.try_get("", "seq")?);
        if row.try_get("", "identity")? {
            let sql = format!(
                "SELECT pg_get_serial_sequence('{new}', '{col}') AS seq, \
                        setval(pg_get_serial_sequence('{new}', '{col}'), last_value, is_called) AS v FROM {seq}"
            );
            let (new_seq,): (String,) = one_row(db, sql, &["seq"]).await?;
            let old_name = seq.rsplit('.').next().unwrap_or(&seq);
            after_drop.push(format!("ALTER SEQUENCE {new_seq} RENAME TO {old_name}"));
        } else {
            db.execute_unprepared(&format!("ALTER SEQUENCE {seq} OWNED BY {new}.{col}")).await?;
        }
    }
    Ok(after_drop)
}

/// Converts the plain `table` into one partitioned by month, with its rows, keys, indexes,
/// checks and triggers, partitions for every month holding a row and `ahead` months from now,
/// and a default partition.
pub(crate) async fn partition<C: ConnectionTrait>(db: &C, table: &str, ahead: u32) -> Result<(), DbErr> {
    rebuild(db, table, true, ahead).await
}

/// Converts the partitioned `table` back into a plain table with all its rows. On a Citus
/// coordinator the new table is a table of the coordinator, whatever the old one was.
pub(crate) async fn unpartition<C: ConnectionTrait>(db: &C, table: &str) -> Result<(), DbErr> {
    rebuild(db, table, false, 0).await
}
