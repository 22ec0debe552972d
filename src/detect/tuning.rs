//! Tuning: what an organization changes about the catalogue — enabled state, sensitivity, exclusions,
//! scanner switches, custom detections and action aliases. The config file and the UI both produce these
//! types, and the store keeps them, so every path validates the same way.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Severity;

/// How eager a threshold detection is: `fewer` alerts (higher thresholds) … `more` alerts (lower ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    Fewer,
    #[default]
    Default,
    More,
}

impl Sensitivity {
    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fewer => "fewer",
            Self::Default => "default",
            Self::More => "more",
        }
    }
}

impl std::str::FromStr for Sensitivity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fewer" | "low" => Ok(Self::Fewer),
            "default" | "medium" => Ok(Self::Default),
            "more" | "high" => Ok(Self::More),
            _ => Err(format!(
                "'{s}' is not a sensitivity; expected fewer, default or more"
            )),
        }
    }
}

/// What an exclusion matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExclusionKind {
    /// An actor's account id.
    Actor,
    /// A space or project key.
    Container,
    /// A page or issue id.
    Object,
}

/// One exclusion of a detection, optionally until a date (event time, like everything the detector sees).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Exclusion {
    pub kind: ExclusionKind,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Whom or what `value` names, as the UI knew it when the exclusion was made (`Ana Lima (ana@x)`, a
    /// page title), so the detections pane can list exclusions by name rather than by opaque id. For people
    /// only: the detector matches on `value` alone. Exclusions from the config file have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Per-detection settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionSettings {
    pub enabled: bool,
    pub sensitivity: Sensitivity,
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            sensitivity: Sensitivity::Default,
            exclusions: Vec::new(),
        }
    }
}

/// A detection an organization writes itself: up to 50 case-insensitive terms of 4..255 characters, or one regex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomDetection {
    pub name: String,
    #[serde(default)]
    pub terms: Vec<String>,
    #[serde(default)]
    pub regex: Option<String>,
    pub severity: Severity,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Everything tunable, in one value the detector is built from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tuning {
    /// Keyed by detection id; a detection not listed runs with [`DetectionSettings::default`].
    #[serde(default)]
    pub detections: BTreeMap<String, DetectionSettings>,
    /// Scanner ids switched off (`payment-card`, `email-addresses`…).
    #[serde(default)]
    pub disabled_scanners: BTreeSet<String>,
    #[serde(default)]
    pub custom: Vec<CustomDetection>,
    /// Catalogue action key → the organization's real keys (DESIGN §10 `[actions]`).
    #[serde(default)]
    pub actions: BTreeMap<String, Vec<String>>,
}

impl Tuning {
    /// The file's tuning with the changes made from the UI (kept in the store) laid over it: a detection's
    /// stored settings replace the file's for that detection, so the last deliberate change wins.
    pub fn overlay(&self, overrides: &BTreeMap<String, DetectionSettings>) -> Tuning {
        let mut out = self.clone();
        for (id, settings) in overrides {
            out.detections.insert(id.clone(), settings.clone());
        }
        out
    }

    /// Settings for a detection, defaults when none were given.
    pub fn settings(&self, detection: &str) -> DetectionSettings {
        self.detections.get(detection).cloned().unwrap_or_default()
    }
}
