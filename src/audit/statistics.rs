//! Planner statistics for the reads that go through whole ranges of the log (seals,
//! verification), which page through it in `(timestamp, id)` order.

use crate::{Conn, Result, Server};

/// PostgreSQL: analyzes the audit tables that were never analyzed, where this role may.
const ANALYZE_UNANALYZED: &str = include_str!("sql/analyze_unanalyzed.pg.sql");

/// On PostgreSQL (not Citus), analyzes `audit_events` and `audit_seal_entries` when a table of
/// theirs holds rows but has never been analyzed and this role owns it, unless the server is a
/// standby or a seal or maintenance holds their lock (then it waits for nothing). A log
/// loaded in bulk and not yet analyzed (autovacuum off, or not there yet) is otherwise planned
/// as a few rows: each page of a seal then read and sorted every event left in its range.
pub(super) async fn analyze_if_never<C: Conn>(db: &C) -> Result<()> {
    if db.server() == Server::Postgres {
        db.execute_unprepared(ANALYZE_UNANALYZED).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The statement stands back for the lock seals and maintenance take first.
    #[test]
    fn it_tries_the_maintenance_lock() {
        let lock = format!("pg_try_advisory_xact_lock({})", crate::maintenance::LOCK_KEY);
        assert!(super::ANALYZE_UNANALYZED.contains(&lock));
    }
}
