//! Domain types shared by every layer: audit events, alerts, severities, statuses.
//!
//! Owns no I/O. Must not import tokio, sled, ratatui, crossterm or reqwest (guarded by `tests/layering.rs`).

mod alert;
mod event;
mod filter;
pub mod query;
pub mod text;

pub use alert::{
    Alert, AlertActor, AlertStatus, ContentMatch, DetectionId, HistoryEntry, Note, ParseEnumError,
    Severity,
};
pub use event::{Actor, AuditEvent, Content, Entity, Location, Message, Party};
pub use filter::AlertFilter;
