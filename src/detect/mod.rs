//! The detection core: the catalogue of DESIGN §5, sliding windows over event time, content scanners,
//! exclusions and sensitivity. A pure step — `Detector::observe(&AuditEvent) -> Vec<AlertDraft>` — with no
//! clock, no I/O: the same events in the same order always give the same drafts.
//!
//! Must not import tokio, sled, ratatui, crossterm or reqwest (guarded by `tests/layering.rs`).

pub mod catalogue;
pub mod content;
mod engine;
mod group;
pub mod tuning;
mod window;

pub use engine::{Detector, DetectorError, DetectorState, DetectorStats};
pub use group::{absorb, alert_from_draft, can_absorb};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AlertActor, ContentMatch, DetectionId, Severity};

/// What a detection wants raised or grown. The grouping step ([`can_absorb`], [`absorb`]) turns drafts into
/// alerts: a draft whose `group_key` matches an open alert still inside its window grows that alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDraft {
    pub detection: DetectionId,
    pub title: String,
    pub severity: Severity,
    /// detection + actor, plus object and fingerprint for content detections.
    pub group_key: String,
    /// Event time of the event that made the detection fire (or continue).
    pub created: DateTime<Utc>,
    /// First activity counted (the oldest event still in the window when it fired).
    pub time_start: DateTime<Utc>,
    /// Last activity counted; `None` when the draft is about one single activity.
    pub time_end: Option<DateTime<Utc>>,
    /// Activities this draft stands for: the whole window on first firing, the new ones on continuation.
    pub count: u64,
    pub actor: AlertActor,
    pub subject: Option<String>,
    pub product: Option<String>,
    pub site: Option<String>,
    pub description: String,
    pub investigation_steps: Vec<String>,
    pub remediation: Vec<String>,
    /// Ids of the events known to the detector (the triggering one at least).
    pub evidence: Vec<String>,
    /// The real action keys the detection counted; the pipeline uses them to backfill evidence ids from the
    /// store's actor index for the span `time_start..=created`, since windows keep no event ids.
    pub evidence_actions: Vec<String>,
    pub matches: Vec<ContentMatch>,
    pub window_secs: Option<u64>,
    pub threshold: Option<u64>,
    /// For how long after an alert's last activity a continuing burst still grows it (ms of event time).
    pub group_window_ms: i64,
}
