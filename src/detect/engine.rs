//! The detector. (Being written.)

use super::AlertDraft;
use super::tuning::Tuning;
use crate::model::AuditEvent;

/// Counters the detector keeps about what it saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DetectorStats {
    /// Events more than 5 minutes older than the newest seen: stored but not detected.
    pub late_events: u64,
}

/// Runs every enabled detection over events in arrival order.
#[derive(Debug)]
pub struct Detector {
    stats: DetectorStats,
}

impl Detector {
    /// Build from tuning and the store's fingerprint key.
    pub fn new(_tuning: &Tuning, _fingerprint_key: &[u8]) -> Result<Self, String> {
        Ok(Self { stats: DetectorStats::default() })
    }

    /// The pure step.
    pub fn observe(&mut self, _event: &AuditEvent) -> Vec<AlertDraft> {
        Vec::new()
    }

    /// Counters so far.
    pub fn stats(&self) -> &DetectorStats {
        &self.stats
    }
}
