//! Integrations as the domain sees them (DESIGN §6): a name, a kind and the routing rule that says which
//! alerts go there. Endpoints and credentials are not here: they live in `config` and only the engine's
//! delivery reads them, so the store can route outbox rows, and the UI can list integrations, without ever
//! holding a secret or importing `config`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::alert::{Alert, ParseEnumError, Severity};

/// The receivers vigil speaks natively (DESIGN §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    /// Slack incoming webhook (Block Kit).
    Slack,
    /// Teams Workflows webhook (Adaptive Card).
    Teams,
    /// Jira issue creation over REST.
    Jira,
    /// Generic JSON webhook signed per Standard Webhooks.
    Webhook,
    /// Splunk HTTP Event Collector.
    SplunkHec,
    /// Raw audit events forwarded to a SIEM.
    AuditForward,
}

impl IntegrationKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [IntegrationKind; 6] = [
        Self::Slack,
        Self::Teams,
        Self::Jira,
        Self::Webhook,
        Self::SplunkHec,
        Self::AuditForward,
    ];

    /// The name used in the config file, the UI and logs (`splunk_hec`), never Rust's `Debug` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Jira => "jira",
            Self::Webhook => "webhook",
            Self::SplunkHec => "splunk_hec",
            Self::AuditForward => "audit_forward",
        }
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntegrationKind {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ParseEnumError {
                what: "an integration kind",
                value: s.to_string(),
                expected: "slack, teams, jira, webhook, splunk_hec or audit_forward",
            })
    }
}

/// One configured destination and the rule that routes alerts to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    /// Unique; the outbox and the integrations pane key on it.
    pub name: String,
    /// Which payload format and transport it uses.
    pub kind: IntegrationKind,
    /// Alerts below this severity are not sent.
    pub min_severity: Severity,
    /// Detection ids to forward; empty = all.
    pub detections: Vec<String>,
    /// A disabled integration keeps its outbox but sends nothing.
    pub enabled: bool,
    /// Which alert changes are sent (`on = ["created", "updated"]`): new alerts by default; status changes
    /// only when asked.
    #[serde(default)]
    pub on: Triggers,
}

/// The alert changes an integration is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triggers {
    /// A new alert (`created`).
    pub created: bool,
    /// An alert's status changed (`updated`).
    pub updated: bool,
}

impl Default for Triggers {
    /// New alerts only: a status change is news to the team that changed it.
    fn default() -> Self {
        Self {
            created: true,
            updated: false,
        }
    }
}

impl Integration {
    /// Whether `alert` should be sent here: enabled, severe enough, and of a listed detection (or any, when
    /// none are listed). The one routing rule, so the outbox and the UI's "would go to" never disagree.
    pub fn routes(&self, alert: &Alert) -> bool {
        self.kind != IntegrationKind::AuditForward && self.accepts(alert)
    }

    /// Whether `alert` passes this integration's filters (enabled, severity, detections), whatever its kind:
    /// what a manual "send to …" checks too.
    pub fn accepts(&self, alert: &Alert) -> bool {
        self.enabled
            && alert.severity >= self.min_severity
            && (self.detections.is_empty()
                || self
                    .detections
                    .iter()
                    .any(|d| d == alert.detection.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertActor, AlertStatus, DetectionId};

    fn alert(detection: &str, severity: Severity) -> Alert {
        let t = chrono::DateTime::UNIX_EPOCH;
        Alert {
            id: ulid::Ulid::nil(),
            detection: DetectionId(detection.into()),
            title: String::new(),
            severity,
            status: AlertStatus::Open,
            assignee: None,
            created: t,
            time_start: t,
            time_end: None,
            product: None,
            site: None,
            actor: AlertActor::default(),
            subject: None,
            count: 1,
            description: String::new(),
            investigation_steps: Vec::new(),
            remediation: Vec::new(),
            evidence: Vec::new(),
            matches: Vec::new(),
            notes: Vec::new(),
            history: Vec::new(),
            version: 0,
            external: Default::default(),
            window_secs: None,
            threshold: None,
            group_key: String::new(),
        }
    }

    #[test]
    fn kinds_print_and_parse_by_their_config_names() {
        for k in IntegrationKind::ALL {
            assert_eq!(k.to_string().parse::<IntegrationKind>(), Ok(k));
        }
        assert_eq!(IntegrationKind::SplunkHec.to_string(), "splunk_hec");
        assert!("splunkhec".parse::<IntegrationKind>().is_err());
    }

    #[test]
    fn routing_follows_enabled_severity_and_detections() {
        let mut alert = alert("page-crawling", Severity::Medium);
        let mut i = Integration {
            name: "slack".into(),
            kind: IntegrationKind::Slack,
            min_severity: Severity::Medium,
            detections: Vec::new(),
            enabled: true,
            on: Triggers::default(),
        };
        assert!(i.routes(&alert));
        i.min_severity = Severity::High;
        assert!(!i.routes(&alert));
        alert.severity = Severity::Critical;
        assert!(i.routes(&alert));
        i.detections = vec!["bulk-export".into()];
        assert!(!i.routes(&alert));
        i.detections.push("page-crawling".into());
        assert!(i.routes(&alert));
        i.enabled = false;
        assert!(!i.routes(&alert));
    }
}
