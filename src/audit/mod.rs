//! The append-only audit log: events are appended and read, never changed. The database
//! itself refuses UPDATE, DELETE and TRUNCATE of `audit_events`. Seals ([`seal`], [`verify`])
//! make any change made past that rule evident.

mod log;
mod seal;

pub use log::{
    AuditCursor, AuditFilter, NewAuditEvent, append, append_many, append_many_with, append_with, get, query,
    trace,
};
pub use seal::{ALGORITHM, SealCheck, SealReport, seal, seal_with, verify};
