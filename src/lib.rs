//! sark-db: the typed data layer of SARK v2.0.
//!
//! Every repository function takes `&C where C: `[`Conn`] — the handle [`Db`] that [`connect`]
//! opens, or a transaction [`Tx`] opened from it with [`Conn::begin_write`] (`BEGIN IMMEDIATE`
//! on SQLite) to compose several calls atomically — validates its input before any SQL runs,
//! and returns [`Error`].
//!
//! | module | holds |
//! |---|---|
//! | [`registry`] | resources, their capabilities, discovery sync |
//! | [`ledger`] | costs, budgets, idempotency keys, summaries |
//! | [`audit`] | the append-only audit log and its seals (tamper evidence) |
//! | [`federation`] | trusted nodes of other organisations and their trust anchors |
//! | [`v1`] | the v1 → v2 registry copy and its verification |
//! | [`maintenance`] | partitions made ahead, retention (PostgreSQL partitions or chunks, SQLite months) |
//! | [`privileges`] | the PostgreSQL application role: what a service may do |

#![warn(unreachable_pub)]

pub mod audit;
mod clock;
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

/// The README's Rust examples, compiled with the doctests so that they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
