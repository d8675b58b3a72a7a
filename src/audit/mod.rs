//! The append-only audit log: events are appended and read, never changed. The database
//! itself refuses UPDATE, DELETE and TRUNCATE of `audit_events`. Seals ([`seal`], [`verify`])
//! make any change made past that rule evident, and anchors ([`anchor`]) make a rewrite of the
//! seals themselves evident to whoever keeps the anchor file.

pub mod anchor;
#[cfg(feature = "postgres")]
mod arrays;
mod canonical;
#[cfg(feature = "postgres")]
mod copy;
mod decode;
pub(crate) mod grouped;
pub(crate) mod log;
mod seal;
mod statistics;
mod verify;

pub use canonical::{ALGORITHM, ALGORITHM_V1};
pub(crate) use log::event_span;
pub use log::{AuditCursor, AuditFilter, NewAuditEvent, append, append_many, get, query, trace};
pub use seal::seal;
pub use verify::{Accounted, SealCheck, SealReport, verify};
