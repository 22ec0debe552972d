//! Delivery of alerts to the receivers of DESIGN §6 (Slack, Teams, Jira, signed webhooks, Splunk HEC, audit
//! forwarding), at least once.
//!
//! Owns the payload formats (`format`: pure functions from an alert to a ready HTTP request, Standard
//! Webhooks signing included), what a receiver's answer means and when to try again (`retry`), pacing per
//! destination (`pace`), and the worker that sends from the outbox and records every outcome in the store
//! (`worker`). May use `model` and `store` only: never `config` (the engine resolves endpoints and
//! credentials into a [`format::Destination`]), `engine`, `detect` or `tui` (guarded by
//! `tests/layering.rs`).

pub mod format;
pub mod pace;
pub mod retry;
pub mod worker;
