//! Content scanners. (Being written: interface fixed, body to come.)

use serde::{Deserialize, Serialize};

use super::tuning::Tuning;
use crate::model::Severity;

/// Guard's grouping of scanners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Credentials,
    Financial,
    Identity,
    Custom,
}

/// One validated hit in a text. Holds the redacted form and the keyed fingerprint only; `start..end` are
/// byte offsets into the scanned text so callers can report line and column without keeping the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Scanner id: `aws-access-key-id`, `payment-card`, … or `custom:<slug>` for custom detections.
    pub scanner: String,
    pub category: Category,
    pub severity: Severity,
    pub start: usize,
    pub end: usize,
    pub redacted: String,
    pub fingerprint: String,
}

/// Every enabled scanner plus the custom detections, compiled once.
#[derive(Debug)]
pub struct ContentScanner {}

impl ContentScanner {
    /// Compile the scanners the tuning leaves enabled; errors name the custom detection at fault.
    pub fn new(_tuning: &Tuning, _fingerprint_key: &[u8]) -> Result<Self, String> {
        Ok(Self {})
    }

    /// Validated findings in `text`, in order of position.
    pub fn scan(&self, _text: &str) -> Vec<Finding> {
        Vec::new()
    }
}
