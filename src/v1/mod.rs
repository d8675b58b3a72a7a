//! The v1 → v2 registry copy and its verification.
//!
//! [`copy`] applies migration 10's rules again (idempotent: it copies only what v2 lacks).
//! [`verify`] recomputes the mapping in Rust from the v1 rows and compares it with v2.

mod copy;
mod report;
mod verify;

use crate::trace::{operation, traced};
use crate::{Conn, Result};

pub use copy::Copied;
pub use report::{Counts, Difference, Missing, Report};
pub use verify::verify;

/// Copies the v1 rows v2 has never had, in a write transaction of its own (a savepoint when
/// `db` is a transaction): a failure part-way leaves nothing. See the README's mapping table
/// for the rules.
pub async fn copy<C: Conn>(db: &C) -> Result<Copied> {
    traced(operation!(INFO, "v1::copy"), async {
        let txn = db.begin_write().await?;
        let copied = copy::copy(&txn).await?;
        txn.commit().await?;
        Ok(copied)
    })
    .await
}
