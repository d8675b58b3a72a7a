//! The cost ledger and budgets: one row per invocation, per-principal daily and monthly
//! limits that are never overspent, exactly-once keys, and summaries.
//!
//! Money is `Decimal` at the API and integer micro-units (10⁻⁶) in storage.
//!
//! # The routes of a charge
//!
//! A charge or record ([`costs::charge`], [`costs::record`], a [`Ledger`] call) takes the first
//! route whose condition holds; a route that does not apply writes nothing and hands the
//! cost on. Which server runs the statements is the handle's ([`crate::Conn::server`]).
//!
//! | route | condition | statements | file |
//! |---|---|---|---|
//! | 1. one statement, its own transaction | PostgreSQL (not Citus); unkeyed, or keyed where a unique violation aborts nothing a caller goes on with; the cost in the windows its budget row counts (or newer) and within the limits | `sql/charge.pg.sql` (one cost; when it does not apply it returns the budget row it locked, and a refusal that row tells is the answer), `sql/charge_keyed.pg.sql` (one keyed cost), `sql/charge_many.pg.sql` (a [`Ledger`] group, with the events of its governed calls) | `one_statement.rs` |
//! | 2. one write transaction, statement by statement | SQLite and Citus always; PostgreSQL for what route 1 left | claim the key, `sql/spend.sql` then the cost row's `INSERT` (PostgreSQL: route 1's statement), store the key's outcome | `stepwise.rs` |
//! | 3. locked, inside route 2's transaction | the spend statement did not apply: an older window, a limit, an overflow | lock the budget row, read the window's spend (counter or ledger sum), judge, `sql/spend.sql` unconditionally, `INSERT`; a [`Ledger`] group on PostgreSQL: `sql/create_budgets.pg.sql`, rows locked in principal order, `sql/insert_costs.pg.sql`, `sql/add_to_budgets.pg.sql` | `locked.rs` |
//!
//! The dispatch is in `costs.rs` (one call) and `group_commit.rs` (a group). Shared by every
//! route and importing none: `cost.rs` (the validated cost and its row), `spend.rs` (the
//! budget change and the limit rule), `idempotency.rs` (keys). Bulk recording
//! ([`costs::record_many`], `bulk.rs`, `copy.rs`) refuses nothing for a limit and applies one
//! budget change per principal and day: it reuses routes 2 and 3 for those changes and is not
//! a route of a charge.

pub mod budgets;
mod bulk;
#[cfg(feature = "postgres")]
mod copy;
mod cost;
pub mod costs;
pub mod governed;
mod group_commit;
pub mod idempotency;
mod locked;
pub(crate) mod money;
mod one_statement;
mod spend;
mod stepwise;
// The SQL of a charge for `sark-bench`'s baselines: not part of the API.
#[doc(hidden)]
pub mod statements;
pub mod summaries;
pub(crate) mod window;

pub use governed::{Governed, GovernedCall};
pub use group_commit::{GroupCommit, Ledger};
pub use money::MAX_AMOUNT;
