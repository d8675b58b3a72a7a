//! The SQL text of a charge, for benchmarks and reviews that run it by hand (`sark-bench` runs
//! its driver and `pgbench` baselines with exactly these statements).
//!
//! Parameters: `$1` principal, `$2` amount in micro-units, `$3` start of the cost's UTC day,
//! `$4` start of its UTC month, `$5` now, `$6` only when the cost is in the windows the budget
//! row counts or newer ones, `$7` enforce the limits (a charge; `false` records); on
//! PostgreSQL also `$8` the cost's timestamp, `$9` resource, `$10` capability, `$11` estimate,
//! `$12` actual amount (micro-units or NULL), `$13` metadata (`jsonb`); keyed also `$14` the
//! key, `$15` the request's canonical form, `$16` when the key is first used. When the spend
//! did not apply (a limit, an older window, an overflow), [`SPEND`] and [`PG_KEYED_CHARGE`]
//! return no row and [`PG_CHARGE`] the budget row it locked, its `id` NULL.

use super::{one_statement, spend};

/// Both backends: the budget change of a cost ([`sql/spend.sql`](self)); on SQLite a charge
/// runs it and then inserts the cost row, in one `BEGIN IMMEDIATE` transaction.
pub const SPEND: &str = spend::SPEND;

/// PostgreSQL: the budget change and the cost row in one statement (an unkeyed charge on
/// its fast path).
pub const PG_CHARGE: &str = one_statement::PG_SPEND_AND_INSERT;

/// PostgreSQL: a keyed charge in one statement (the key's first outcome when it was used).
pub const PG_KEYED_CHARGE: &str = one_statement::PG_KEYED_SPEND_AND_INSERT;
