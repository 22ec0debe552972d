//! Delivery of alerts to the receivers of DESIGN §6 (Slack, Teams, Jira, signed webhooks, Splunk HEC, audit
//! forwarding).
//!
//! Owns the payload formats (`format`: pure functions from an alert to a ready HTTP request, Standard
//! Webhooks signing included) and the sending of them from the outbox with retries. May use `model` and
//! `store` only: never `config` (the engine resolves endpoints and credentials into a
//! [`format::Destination`]), `engine`, `detect` or `tui` (guarded by `tests/layering.rs`).

pub mod format;
