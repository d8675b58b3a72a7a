//! sark-db: the typed data layer of SARK v2.0.
//!
//! Every repository function takes `&C where C: ConnectionTrait` — a pool or an open
//! transaction — validates its input before any SQL runs, and returns [`Error`].

pub mod audit;
pub mod budgets;
pub mod capabilities;
pub mod costs;
pub mod db;
pub mod discovery;
pub mod error;
pub mod federation;
mod id;
mod idempotency;
pub mod money;
pub mod page;
pub mod resources;
pub mod summaries;
pub mod timestamp;
pub mod trust_anchor;
pub mod v1;
pub mod validate;
pub mod window;

pub use db::{connect, migrate};
pub use entity;
pub use error::{Error, Result};
pub use migration::Migrator;
pub use page::Page;
pub use window::Window;
