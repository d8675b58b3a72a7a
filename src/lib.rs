//! sark-db: the typed data layer of SARK v2.0.
//!
//! Every repository function takes `&C where C: ConnectionTrait` — a pool or an open
//! transaction — validates its input before any SQL runs, and returns [`Error`].

pub mod budgets;
pub mod costs;
pub mod db;
pub mod error;
mod idempotency;
pub mod money;
pub mod summaries;
pub mod timestamp;
pub mod validate;
pub mod window;

pub use db::{connect, migrate};
pub use entity;
pub use error::{Error, Result};
pub use migration::Migrator;
pub use window::Window;
