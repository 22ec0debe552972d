//! vigil: triage of security alerts raised from SaaS audit logs.
//!
//! Data flows one way — sources → normalise (`ingest`) → `store` → `detect` → alerts → outbox → deliver — and
//! the modules are laid out along that flow (DESIGN §2). `model` and `detect` are the pure domain core.

pub mod config;
pub mod deliver;
pub mod detect;
pub mod engine;
pub mod export;
pub mod generate;
pub mod ingest;
pub mod model;
pub mod scan;
pub mod store;
pub mod tui;
