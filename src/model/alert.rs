//! Alerts as analysts see them (DESIGN §4): Guard Detect's statuses plus severity, assignee, notes and history.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// How bad an alert is. Ordered so that filters such as `sev:>=high` are plain comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, lowest first; index iteration and UI cycling use it.
    pub const ALL: [Severity; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    /// The lower-case name used in files, filters and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// A stable byte for index keys (order preserved).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`Severity::code`]; `None` for bytes no version of vigil wrote.
    pub fn from_code(b: u8) -> Option<Self> {
        Self::ALL.get(b as usize).copied()
    }
}

/// Triage state, as in Guard Detect: `expected` means investigated and benign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Expected,
    TruePositive,
}

impl AlertStatus {
    /// Every status in workflow order.
    pub const ALL: [AlertStatus; 4] = [
        Self::Open,
        Self::Acknowledged,
        Self::Expected,
        Self::TruePositive,
    ];

    /// The snake_case name used in files, filters and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Expected => "expected",
            Self::TruePositive => "true_positive",
        }
    }

    /// The status in words for people (`true positive`), where [`AlertStatus::as_str`] is the name files,
    /// filters and exports use (`true_positive`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Expected => "expected",
            Self::TruePositive => "true positive",
        }
    }

    /// A stable byte for index keys.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`AlertStatus::code`].
    pub fn from_code(b: u8) -> Option<Self> {
        Self::ALL.get(b as usize).copied()
    }
}

/// A value given on a command line or in a file that names no known severity or status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a {what}; expected one of: {expected}")]
pub struct ParseEnumError {
    pub value: String,
    pub what: &'static str,
    pub expected: &'static str,
}

impl FromStr for Severity {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|v| {
                v.as_str() == lower
                    || (lower == "crit" && *v == Self::Critical)
                    || (lower == "med" && *v == Self::Medium)
            })
            .ok_or_else(|| ParseEnumError {
                value: s.to_string(),
                what: "severity",
                expected: "low, medium, high, critical",
            })
    }
}

impl FromStr for AlertStatus {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase().replace('-', "_");
        let alias = match lower.as_str() {
            "ack" => "acknowledged",
            "tp" | "true" => "true_positive",
            "benign" => "expected",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == alias)
            .ok_or_else(|| ParseEnumError {
                value: s.to_string(),
                what: "status",
                expected: "open, acknowledged, expected, true_positive",
            })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A detection's stable id (`page-crawling`, `custom:falcon-leak`); the key of tuning, indexes and filters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DetectionId(pub String);

impl DetectionId {
    /// Borrow the id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DetectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for DetectionId {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

/// Who an alert is about, copied from the event that raised it so the queue never needs the event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertActor {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

/// A content-scanning hit. Holds the redacted excerpt and a keyed fingerprint, never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentMatch {
    /// Scanner id (`aws-access-key-id`, `payment-card`, `custom:falcon-leak`…).
    pub kind: String,
    /// At most four leading characters, then the kind and length: `AKIA…[aws-access-key-id, 20 chars]`.
    pub redacted: String,
    /// Keyed HMAC of the secret, so the same secret groups into one alert without being stored.
    pub fingerprint: String,
    /// Where it was found: `title` or `body`.
    #[serde(default)]
    pub field: String,
}

/// `1 activity`, `250 activities`: counts in words for summaries, history and screens.
pub fn activities(n: u64) -> String {
    super::text::plural(n as usize, "activity", "activities")
}

/// An analyst's note on an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub author: String,
    pub time: DateTime<Utc>,
    pub text: String,
}

/// One change to an alert: who, when, what. Every triage change appends one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub time: DateTime<Utc>,
    pub who: String,
    pub what: String,
}

/// A raised alert with every field of DESIGN §4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// ULID whose time part is `created`, so ids sort by when the alert fired.
    pub id: Ulid,
    pub detection: DetectionId,
    pub title: String,
    pub severity: Severity,
    pub status: AlertStatus,
    #[serde(default)]
    pub assignee: Option<String>,
    /// Event time at which the detection fired (not the wall clock), so the same input gives the same alerts.
    pub created: DateTime<Utc>,
    pub time_start: DateTime<Utc>,
    /// Last grouped activity; `None` for a single activity.
    #[serde(default)]
    pub time_end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    pub actor: AlertActor,
    /// The page, issue or setting concerned.
    #[serde(default)]
    pub subject: Option<String>,
    /// Activities grouped into this alert.
    pub count: u64,
    pub description: String,
    #[serde(default)]
    pub investigation_steps: Vec<String>,
    #[serde(default)]
    pub remediation: Vec<String>,
    /// Event ids behind the alert, capped at [`Alert::EVIDENCE_CAP`].
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(default)]
    pub matches: Vec<ContentMatch>,
    #[serde(default)]
    pub notes: Vec<Note>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// Bumped on every change so concurrent editors can detect a stale write.
    pub version: u64,
    /// Keys created elsewhere from this alert (`jira` → `SEC-12`).
    #[serde(default)]
    pub external: BTreeMap<String, String>,
    /// Sliding window the detection counted over, in seconds (threshold detections only).
    #[serde(default)]
    pub window_secs: Option<u64>,
    /// Threshold in force when it fired (threshold detections only).
    #[serde(default)]
    pub threshold: Option<u64>,
    /// Grouping key: detection + actor (+ object and fingerprint for content); continuing activity grows the alert.
    #[serde(default)]
    pub group_key: String,
}

impl Alert {
    /// Most event ids kept as evidence; the count goes on beyond it.
    pub const EVIDENCE_CAP: usize = 1000;

    /// One-line summary for exports and notifications.
    pub fn summary(&self) -> String {
        let who = self.actor.name.as_deref().unwrap_or(&self.actor.id);
        match &self.subject {
            Some(s) => format!(
                "{} by {} on {} ({})",
                self.title,
                who,
                s,
                activities(self.count)
            ),
            None => format!("{} by {} ({})", self.title, who, activities(self.count)),
        }
    }

    /// Append event ids as evidence, keeping the cap and skipping ids already there.
    pub fn add_evidence<I: IntoIterator<Item = String>>(&mut self, ids: I) {
        for id in ids {
            if self.evidence.len() >= Self::EVIDENCE_CAP {
                break;
            }
            if !self.evidence.contains(&id) {
                self.evidence.push(id);
            }
        }
    }
}
