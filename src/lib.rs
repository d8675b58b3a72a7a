//! sark-db: the typed data layer of SARK v2.0. Start with the guide, `docs/guide.md` in the
//! repository; `docs/operations.md` is the operator's.
//!
//! [`connect`] opens a pool and returns the handle [`Db`]; [`migrate`] applies the schema.
//! Every repository function takes `&C where C: `[`Conn`] — the handle, or a transaction [`Tx`]
//! opened from it with [`Conn::begin_write`] (`BEGIN IMMEDIATE` on SQLite) to compose several
//! calls atomically — validates its input before any SQL runs, and returns [`Error`]. The
//! handle knows its [`Server`] and its [`Clock`], and binds timestamps as the database stores
//! them ([`timestamp`]).
//!
//! [`registry`] holds the governed resources, their capabilities, and discovery sync.
//!
//! [`ledger`] holds the costs (one row per invocation), the budgets that are never overspent,
//! idempotency keys, summaries and the group-commit [`ledger::Ledger`]; its module page tables
//! the routes a charge takes.
//!
//! [`audit`] holds the append-only audit log, its seals (tamper evidence) and their anchors.
//!
//! [`federation`] holds the trusted nodes of other organisations and their trust anchors.
//!
//! [`v1`] copies the v1 registry into v2 and verifies the copy.
//!
//! [`maintenance`] makes partitions ahead and applies retention (PostgreSQL partitions or
//! TimescaleDB chunks, SQLite months); [`privileges`] grants the PostgreSQL application role what
//! a service may do; [`limits`] lists what the functions accept.

#![warn(unreachable_pub)]

pub mod audit;
mod clock;
#[cfg(feature = "postgres")]
mod copy_text;
mod db;
mod error;
pub mod federation;
mod handle;
mod id;
pub mod ledger;
pub mod limits;
pub mod maintenance;
mod page;
pub mod privileges;
pub mod registry;
pub mod timestamp;
mod trace;
pub mod v1;
mod validate;

pub use clock::Clock;
pub use db::{PoolOptions, SCHEMES, connect, connect_with, migrate};
pub use entity;
pub use error::{Conflict, Entity, Error, Result};
pub use handle::{Conn, Db, Server, Tx};
pub use ledger::window::Window;
pub use migration::{Migrator, MigratorTrait};
pub use page::Page;
pub use sea_orm;
pub use sea_orm::{ConnectionTrait, DatabaseConnection};

/// Declares, for doctests only, a type per page whose documentation is that page, so that the
/// page's Rust examples are compiled and run with the doctests and cannot drift.
macro_rules! page_examples {
    ($($name:ident = $page:literal),* $(,)?) => {
        $(
            #[cfg(doctest)]
            #[doc = include_str!($page)]
            pub struct $name;
        )*
    };
}

page_examples! {
    ReadmeExamples = "../README.md",
    GuideExamples = "../docs/guide.md",
    OperationsExamples = "../docs/operations.md",
    LedgerExamples = "../docs/ledger.md",
    DesignExamples = "../docs/design.md",
    BenchmarksExamples = "../docs/benchmarks.md",
}
