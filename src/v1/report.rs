//! What [`super::verify`] reports.

use crate::Result;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::fmt;

/// Most entries of each list that [`Report`]'s `Display` prints.
const SHOWN: usize = 50;

/// Row counts on both sides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Rows in `mcp_servers`.
    pub servers: u64,
    /// Rows in `resources` (native ones included).
    pub resources: u64,
    /// Rows in `mcp_tools`.
    pub tools: u64,
    /// Rows in `capabilities` (native ones included).
    pub capabilities: u64,
}

/// A row present on one side only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// The table it is missing from.
    pub table: &'static str,
    /// Its id.
    pub id: String,
}

/// A v2 field that is not what the mapping gives for its v1 row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The v2 table.
    pub table: &'static str,
    /// The row's id.
    pub id: String,
    /// The v2 column.
    pub field: String,
    /// What the mapping of the v1 row gives.
    pub expected: Json,
    /// What v2 holds.
    pub found: Json,
}

/// What [`super::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Row counts.
    pub counts: Counts,
    /// v1 rows without their v2 row.
    pub missing_in_v2: Vec<Missing>,
    /// Copied v2 rows whose v1 row is gone.
    pub missing_in_v1: Vec<Missing>,
    /// Fields that differ from the mapping.
    pub differences: Vec<Difference>,
}

impl Report {
    /// Whether v2 holds every v1 row exactly as mapped.
    pub fn is_clean(&self) -> bool {
        self.problems() == 0
    }

    /// How many problems were found.
    pub fn problems(&self) -> usize {
        self.missing_in_v2.len() + self.missing_in_v1.len() + self.differences.len()
    }

    /// Records where the v2 row `found` differs from `expected`, or that it is missing.
    pub(super) fn compare<M: Serialize>(
        &mut self,
        table: &'static str,
        id: &str,
        expected: Map<String, Json>,
        found: Option<&M>,
    ) -> Result<()> {
        let Some(found) = found else {
            self.missing_in_v2.push(Missing { table, id: id.to_owned() });
            return Ok(());
        };
        let found = serde_json::to_value(found).map_err(|e| sea_orm::DbErr::Json(e.to_string()))?;
        for (field, expected) in expected {
            let found = found.get(&field).cloned().unwrap_or(Json::Null);
            if found != expected {
                self.differences.push(Difference { table, id: id.to_owned(), field, expected, found });
            }
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        writeln!(f, "v1 → v2 verification")?;
        writeln!(f, "  mcp_servers {:>8}   resources    {:>8}", c.servers, c.resources)?;
        writeln!(f, "  mcp_tools   {:>8}   capabilities {:>8}", c.tools, c.capabilities)?;
        for (title, list) in [
            ("missing in v2", &self.missing_in_v2),
            ("missing in v1 (copied, v1 row gone)", &self.missing_in_v1),
        ] {
            writeln!(f, "  {title}: {}", list.len())?;
            for m in list.iter().take(SHOWN) {
                writeln!(f, "    {} {:?}", m.table, m.id)?;
            }
        }
        writeln!(f, "  field differences: {}", self.differences.len())?;
        for d in self.differences.iter().take(SHOWN) {
            writeln!(
                f,
                "    {} {:?} {}: expected {}, found {}",
                d.table, d.id, d.field, d.expected, d.found
            )?;
        }
        match self.problems() {
            0 => write!(f, "result: no differences"),
            n => write!(f, "result: {n} differences"),
        }
    }
}
