//! Domain types shared by every layer: audit events, alerts, severities, statuses, integrations' routing,
//! deliveries and the pages of alerts the store serves.
//!
//! Owns no I/O. Must not import tokio, sled, ratatui, crossterm or reqwest (guarded by `tests/layering.rs`).

mod alert;
mod delivery;
mod event;
mod evidence;
mod filter;
mod integration;
pub mod query;
pub mod text;
mod time_limits;

pub use alert::{
    Alert, AlertActor, AlertStatus, ContentMatch, DetectionId, HistoryEntry, Note, ParseEnumError,
    Severity, activities,
};
pub use delivery::{
    ATTEMPTS_KEPT, Attempt, Delivery, DeliveryEvent, DeliveryState, IntegrationHealth,
    OutboxCounts, RECENT_KEPT,
};
pub use event::{
    Actor, AuditEvent, Content, Entity, Location, Message, NAME_ATTRS, Party, SEARCH_QUERY_ATTRS,
    TextField, haversine_km,
};
pub use evidence::{Evidence, SeenCountry, Tally, Travel, baseline_of, place};
pub use filter::{AlertFilter, AlertPage, AssigneeFilter, StatusCounts};
pub use integration::{Integration, IntegrationKind, Triggers};
pub use time_limits::TimeLimits;
