//! What a person reading a notification is shown of an alert, cleaned once for every human-facing format
//! (Slack, Teams, Jira), so that the three show the same facts in the same order and none of them can forget
//! to clean a field.

use chrono::{DateTime, Utc};

use super::text::Clip;
use crate::model::{Alert, AlertActor, DeliveryEvent};

/// Most characters kept of a one-line value (title, actor, subject) before a format's own limit applies.
const LINE: usize = 500;
/// Most characters kept of the description: more than any receiver shows.
const LONG: usize = 24_000;
/// Most characters kept of one list item (a step, a match's redacted form).
const ITEM: usize = 1_000;
/// Most list items kept (matches, steps, remediation): more than any receiver shows.
const ITEMS: usize = 200;

/// A content match as shown: the redacted form only, never the fingerprint (a person has no use for it).
#[derive(Debug, Clone)]
pub(super) struct MatchView {
    pub kind: Clip,
    pub field: Clip,
    pub redacted: Clip,
}

/// An alert as shown to people.
#[derive(Debug, Clone)]
pub(super) struct View {
    pub id: String,
    pub event: DeliveryEvent,
    pub severity: &'static str,
    pub title: Clip,
    pub facts: Vec<(&'static str, Clip)>,
    pub summary: Clip,
    pub matches: Vec<MatchView>,
    /// All matches of the alert, shown or not.
    pub matches_total: usize,
    pub steps: Vec<Clip>,
    pub steps_total: usize,
    pub remediation: Vec<Clip>,
    pub remediation_total: usize,
}

impl View {
    pub fn new(alert: &Alert, event: DeliveryEvent) -> Self {
        let mut facts = vec![
            ("Severity", Clip::line(alert.severity.as_str(), LINE)),
            ("Status", Clip::line(alert.status.as_str(), LINE)),
            ("Actor", actor(&alert.actor)),
            ("Detection", Clip::line(alert.detection.as_str(), LINE)),
            ("Activity", Clip::line(&activity(alert), LINE)),
        ];
        let optional = [
            ("Subject", alert.subject.as_deref()),
            ("Product", alert.product.as_deref()),
            ("Site", alert.site.as_deref()),
            ("Assignee", alert.assignee.as_deref()),
            ("Jira", alert.external.get("jira").map(String::as_str)),
        ];
        for (label, value) in optional {
            if let Some(v) = value {
                let clip = Clip::line(v, LINE);
                if !clip.is_empty() {
                    facts.push((label, clip));
                }
            }
        }
        let mut title = Clip::line(&alert.title, LINE);
        if title.is_empty() {
            title = Clip::line(&format!("{} alert", alert.detection), LINE);
        }
        Self {
            id: alert.id.to_string(),
            event,
            severity: alert.severity.as_str(),
            title,
            facts,
            summary: Clip::block(&alert.description, LONG),
            matches: alert
                .matches
                .iter()
                .take(ITEMS)
                .map(|m| MatchView {
                    kind: Clip::line(&m.kind, LINE),
                    field: Clip::line(&m.field, LINE),
                    redacted: Clip::line(&m.redacted, ITEM),
                })
                .collect(),
            matches_total: alert.matches.len(),
            steps: items(&alert.investigation_steps),
            steps_total: alert.investigation_steps.len(),
            remediation: items(&alert.remediation),
            remediation_total: alert.remediation.len(),
        }
    }

    /// Whether this is a test send, which every format marks as such.
    pub fn is_test(&self) -> bool {
        self.event == DeliveryEvent::Test
    }

    /// What happened, for the line that says why the message was sent.
    pub fn what(&self) -> &'static str {
        match self.event {
            DeliveryEvent::Created => "New alert",
            DeliveryEvent::Updated => "Alert updated",
            DeliveryEvent::Manual => "Alert sent from vigil",
            DeliveryEvent::Test => "Test send from vigil",
        }
    }
}

/// How every format marks a test send.
pub(super) const TEST_NOTICE: &str = "TEST — not a real alert";

fn items(list: &[String]) -> Vec<Clip> {
    list.iter()
        .take(ITEMS)
        .map(|s| Clip::line(s, ITEM))
        .filter(|c| !c.is_empty())
        .collect()
}

/// `Name · email · id`, the parts that are known.
pub(super) fn actor(a: &AlertActor) -> Clip {
    let parts: Vec<String> = [a.name.as_deref(), a.email.as_deref(), Some(a.id.as_str())]
        .into_iter()
        .flatten()
        .map(|p| Clip::line(p, LINE).text)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return Clip::line("unknown actor", LINE);
    }
    Clip::line(&parts.join(" · "), LINE)
}

/// The alert's actor's name, else its id: the short form for digest lines.
pub(super) fn actor_short(a: &AlertActor) -> Clip {
    let name = a.name.as_deref().map(|n| Clip::line(n, LINE));
    match name {
        Some(n) if !n.is_empty() => n,
        _ => Clip::line(&a.id, LINE),
    }
}

/// `3 activities, 2026-11-02 09:35:15Z → 2026-11-02 09:41:02Z (threshold 50 in 600 s)`.
fn activity(alert: &Alert) -> String {
    let noun = if alert.count == 1 {
        "activity"
    } else {
        "activities"
    };
    let mut s = format!("{} {noun}, {}", alert.count, time(alert.time_start));
    if let Some(end) = alert.time_end.filter(|e| *e != alert.time_start) {
        s.push_str(&format!(" → {}", time(end)));
    }
    if let (Some(t), Some(w)) = (alert.threshold, alert.window_secs) {
        s.push_str(&format!(" (threshold {t} in {w} s)"));
    }
    s
}

/// A time as shown in notifications: UTC, to the second.
pub(super) fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}
