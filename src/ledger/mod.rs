//! The cost ledger and budgets: one row per invocation, per-principal daily and monthly
//! limits that are never overspent, exactly-once keys, and summaries.
//!
//! Money is `Decimal` at the API and integer micro-units (10⁻⁶) in storage.

pub mod budgets;
pub mod costs;
pub mod idempotency;
pub(crate) mod money;
mod spend;
pub mod summaries;
pub(crate) mod window;

pub use money::MAX_AMOUNT;
