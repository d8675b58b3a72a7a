//! Row rules the database enforces: `CHECK` constraints on PostgreSQL; on SQLite, which
//! cannot add a constraint to an existing table, a `BEFORE INSERT` and a `BEFORE UPDATE`
//! trigger that abort with the rule's name. A rule that yields NULL passes, as a `CHECK` does.

use sea_orm_migration::sea_orm::DbBackend;

/// A row rule: `rule` is SQL over the row's columns, each written `@column`.
pub(crate) struct Rule {
    /// The constraint's name, which a refused write names.
    pub name: &'static str,
    pub table: &'static str,
    /// SQL naming the row in an error.
    pub key: &'static str,
    pub rule: &'static str,
}

impl Rule {
    /// The rule with its columns read from `row` (`""` for the table itself, `"NEW."`).
    fn on(&self, row: &str) -> String {
        self.rule.replace('@', row)
    }

    /// A query of the keys of the rows that break the rule.
    pub fn offenders(&self) -> String {
        format!("SELECT {} FROM {} WHERE NOT ({}) ORDER BY 1", self.key, self.table, self.on(""))
    }

    /// SQL that adds the rule.
    pub fn create(&self, backend: DbBackend) -> String {
        match backend {
            DbBackend::Postgres => {
                format!("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({})", self.table, self.name, self.on(""))
            }
            _ => sqlite_triggers(self.name, self.table, &self.on("NEW.")),
        }
    }

    /// SQL that removes the rule, if present.
    pub fn drop(&self, backend: DbBackend) -> String {
        match backend {
            DbBackend::Postgres => {
                format!("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}", self.table, self.name)
            }
            _ => drop_sqlite_triggers(self.name),
        }
    }
}

/// SQLite triggers that abort a write to `table` whose new row fails `condition` (over `NEW.`).
pub(crate) fn sqlite_triggers(name: &str, table: &str, condition: &str) -> String {
    ["insert", "update"]
        .map(|op| {
            format!(
                "CREATE TRIGGER {name}_{op} BEFORE {} ON {table} WHEN NOT ({condition}) \
                 BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END;",
                op.to_uppercase()
            )
        })
        .join("\n")
}

/// Drops the triggers [`sqlite_triggers`] made for `name`.
pub(crate) fn drop_sqlite_triggers(name: &str) -> String {
    format!("DROP TRIGGER IF EXISTS {name}_insert; DROP TRIGGER IF EXISTS {name}_update;")
}
