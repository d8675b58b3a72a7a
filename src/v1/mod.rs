//! The v1 → v2 registry copy and its verification.
//!
//! [`copy`] is what migration 10 runs (idempotent: it copies only what v2 lacks).
//! [`verify`] recomputes the mapping in Rust from the v1 rows and compares it with v2.

mod report;
mod verify;

use crate::Result;
use sea_orm::ConnectionTrait;

pub use migration::v1_copy::Copied;
pub use report::{Counts, Difference, Missing, Report};
pub use verify::verify;

/// Copies the v1 rows v2 lacks; see the README's mapping table for the rules.
pub async fn copy<C: ConnectionTrait>(db: &C) -> Result<Copied> {
    Ok(migration::v1_copy::copy(db).await?)
}
