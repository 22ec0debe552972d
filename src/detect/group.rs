//! Grouping (DESIGN §4): a continuing burst grows one alert instead of raising one per event.

use ulid::Ulid;

use super::AlertDraft;
use crate::model::{Alert, AlertStatus};

/// Whether `draft` continues `alert`: same group, alert still open, and the new activity starts within the
/// grouping window of the alert's last activity.
pub fn can_absorb(alert: &Alert, draft: &AlertDraft) -> bool {
    alert.status == AlertStatus::Open && alert.group_key == draft.group_key && {
        let last = alert
            .time_end
            .unwrap_or(alert.time_start)
            .timestamp_millis();
        draft.time_start.timestamp_millis() <= last.saturating_add(draft.group_window_ms)
            || draft.created.timestamp_millis() <= last.saturating_add(draft.group_window_ms)
    }
}

/// Grow `alert` by `draft`: count, time span, evidence (capped), matches (deduplicated by fingerprint).
pub fn absorb(alert: &mut Alert, draft: &AlertDraft) {
    alert.count = alert.count.saturating_add(draft.count);
    let end = draft.time_end.unwrap_or(draft.created).max(draft.created);
    if end > alert.time_start {
        alert.time_end = Some(alert.time_end.map_or(end, |e| e.max(end)));
    }
    if draft.time_start < alert.time_start {
        alert.time_start = draft.time_start;
    }
    alert.add_evidence(draft.evidence.iter().cloned());
    for m in &draft.matches {
        if !alert
            .matches
            .iter()
            .any(|x| x.fingerprint == m.fingerprint && x.kind == m.kind)
        {
            alert.matches.push(m.clone());
        }
    }
    if draft.severity > alert.severity {
        alert.severity = draft.severity;
    }
    alert.version += 1;
}

/// A new open alert from a draft; `id` should carry the draft's `created` time (see [`Ulid::from_parts`]).
pub fn alert_from_draft(draft: &AlertDraft, id: Ulid) -> Alert {
    let mut alert = Alert {
        id,
        detection: draft.detection.clone(),
        title: draft.title.clone(),
        severity: draft.severity,
        status: AlertStatus::Open,
        assignee: None,
        created: draft.created,
        time_start: draft.time_start,
        time_end: draft.time_end.filter(|e| *e > draft.time_start),
        product: draft.product.clone(),
        site: draft.site.clone(),
        actor: draft.actor.clone(),
        subject: draft.subject.clone(),
        count: draft.count,
        description: draft.description.clone(),
        investigation_steps: draft.investigation_steps.clone(),
        remediation: draft.remediation.clone(),
        evidence: Vec::new(),
        matches: draft.matches.clone(),
        notes: Vec::new(),
        history: Vec::new(),
        version: 1,
        external: Default::default(),
        window_secs: draft.window_secs,
        threshold: draft.threshold,
        group_key: draft.group_key.clone(),
    };
    alert.add_evidence(draft.evidence.iter().cloned());
    alert
}
