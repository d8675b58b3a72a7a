//! The append-only audit log: events are appended and read, never changed. The database
//! itself refuses UPDATE, DELETE and TRUNCATE of `audit_events`.

mod log;

pub use log::{
    AuditCursor, AuditFilter, NewAuditEvent, append, append_many, append_many_with, append_with, get, query,
    trace,
};
