//! The cost ledger and budgets: one row per invocation, per-principal daily and monthly
//! limits that are never overspent, exactly-once keys, and summaries.
//!
//! Money is `Decimal` at the API and integer micro-units (10⁻⁶) in storage.

mod at_once;
pub mod budgets;
#[cfg(feature = "postgres")]
mod copy;
pub mod costs;
mod group_commit;
mod grouped;
pub mod idempotency;
pub(crate) mod money;
mod spend;
// The SQL of a charge for `sark-bench`'s baselines: not part of the API.
#[doc(hidden)]
pub mod statements;
pub mod summaries;
pub(crate) mod window;

pub use group_commit::{GroupCommit, Ledger};
pub use money::MAX_AMOUNT;
