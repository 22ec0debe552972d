//! Re-detection: making an actor's alerts what in-order arrival of its events gives, whatever order they
//! came in, however they were batched, and whatever a crash interrupted.
//!
//! Every detection and every alert group is per actor, so the alerts of a set of events are defined per actor:
//! that actor's stored events in `(time, id)` order through the detector, grouped in that order. When an event
//! arrives behind its actor's frontier (or a crash left events stored whose detection was not saved), the
//! pipeline replays that actor's stored events through the same detector ([`replay_actor`]), groups the
//! drafts afresh, and reconciles the result with the actor's stored alerts ([`reconcile`]):
//! - an alert that the replay also raises (same group, overlapping activity) keeps its id and everything an
//!   analyst gave it (status, assignee, notes, history, external keys) and takes the replay's figures;
//! - an alert the replay raises that is not stored is added;
//! - a stored alert the replay no longer raises (an earlier login now makes a country known) is deleted if
//!   nobody has touched it, else kept with a history entry saying so.
//!
//! Alerts that began before the actor's oldest stored event (their events aged out) are left alone.
//! Cost: one pass over the actor's stored events per replay; the pipeline replays each late actor once per
//! checkpoint, not once per event.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ulid::Ulid;

use super::pipeline::PipelineError;
use crate::detect::{AlertDraft, Detector, absorb, alert_from_draft, can_absorb};
use crate::model::{Alert, AlertFilter, AlertStatus, HistoryEntry, TimeLimits};
use crate::store::Store;

/// What one actor's reconciliation changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Alerts added.
    pub raised: Vec<Ulid>,
    /// Alerts whose figures changed, or that were kept with a note although no longer raised.
    pub changed: Vec<Ulid>,
    /// Untouched alerts deleted because the events no longer raise them.
    pub deleted: Vec<Ulid>,
}

/// Drafts grouped into alerts in arrival order, as the live pipeline groups them, but in memory.
#[derive(Default)]
struct Grouper {
    alerts: Vec<Alert>,
    /// Group key → index of the newest alert of the group.
    latest: HashMap<String, usize>,
    /// Alerts whose evidence is filled from the store (threshold bursts): index and first draft.
    backfill: Vec<(usize, AlertDraft)>,
}

impl Grouper {
    fn push(&mut self, draft: AlertDraft) {
        if let Some(&i) = self.latest.get(&draft.group_key)
            && let Some(alert) = self.alerts.get_mut(i)
            && can_absorb(alert, &draft)
        {
            absorb(alert, &draft);
            return;
        }
        // The id is assigned when the alert is stored; its time part is `created`, like the live path's.
        let mut alert = alert_from_draft(&draft, Ulid::nil());
        alert.history.push(HistoryEntry {
            time: draft.created,
            who: "vigil".to_string(),
            what: format!(
                "raised by {} ({})",
                draft.detection,
                crate::model::activities(draft.count)
            ),
        });
        let i = self.alerts.len();
        self.latest.insert(draft.group_key.clone(), i);
        self.alerts.push(alert);
        if !draft.evidence_actions.is_empty() && draft.count > 1 {
            self.backfill.push((i, draft));
        }
    }
}

/// Replay `actor`'s stored events through `detector` (its state for that actor is rebuilt from nothing) and
/// group the drafts: the alerts in-order arrival gives. Stored events outside `limits` (written before
/// plausibility checks existed) are skipped. Returns the alerts and the actor's oldest event time replayed.
pub fn replay_actor(
    store: &Store,
    detector: &mut Detector,
    actor: &str,
    limits: &TimeLimits,
    now: DateTime<Utc>,
) -> Result<(Vec<Alert>, Option<DateTime<Utc>>), PipelineError> {
    detector.begin_replay(actor);
    let mut grouper = Grouper::default();
    let mut first = None;
    let replayed = store.actor_history(actor, |events| {
        for ev in events {
            if limits.check(ev.time, now).is_err() {
                continue;
            }
            first.get_or_insert(ev.time);
            for d in detector.observe(&ev) {
                grouper.push(d);
            }
        }
        Ok(())
    });
    detector.end_replay();
    replayed?;
    let Grouper {
        mut alerts,
        backfill,
        ..
    } = grouper;
    for (i, draft) in backfill {
        if let Some(alert) = alerts.get_mut(i) {
            fill_evidence(store, alert, &draft)?;
        }
    }
    Ok((alerts, first))
}

/// Windows keep no event ids; the actor index has them. Fill `alert`'s evidence with the events of the
/// draft's span whose actions the detection counted (the live pipeline and re-detection both use it).
pub(super) fn fill_evidence(
    store: &Store,
    alert: &mut Alert,
    draft: &AlertDraft,
) -> Result<(), PipelineError> {
    let events = store.actor_events_between(
        &draft.actor.id,
        draft.time_start,
        draft.created,
        Alert::EVIDENCE_CAP * 4,
    )?;
    let mut ids: Vec<String> = events
        .into_iter()
        .filter(|e| draft.evidence_actions.contains(&e.action))
        .map(|e| e.id)
        .collect();
    ids.append(&mut alert.evidence);
    alert.add_evidence(ids);
    Ok(())
}

/// The end of an alert's activity.
fn end_of(a: &Alert) -> DateTime<Utc> {
    a.time_end.unwrap_or(a.time_start).max(a.time_start)
}

fn overlaps(a: &Alert, b: &Alert) -> bool {
    a.time_start <= end_of(b) && b.time_start <= end_of(a)
}

/// Whether anyone but vigil has touched the alert: then it is never deleted, only annotated.
fn triaged(a: &Alert) -> bool {
    a.status != AlertStatus::Open
        || a.assignee.is_some()
        || !a.notes.is_empty()
        || !a.external.is_empty()
        || a.history.iter().any(|h| h.who != "vigil")
}

/// Copy what detection computes from `from` onto `to`, keeping what analysts own. Returns whether `to`
/// changed.
fn take_figures(to: &mut Alert, from: &Alert) -> bool {
    type Figures = (
        String,
        crate::model::Severity,
        DateTime<Utc>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        u64,
        Option<String>,
        Vec<crate::model::ContentMatch>,
        Vec<String>,
    );
    let figures = |a: &Alert| -> Figures {
        (
            a.title.clone(),
            a.severity,
            a.created,
            a.time_start,
            a.time_end,
            a.count,
            a.subject.clone(),
            a.matches.clone(),
            a.evidence.clone(),
        )
    };
    let before = figures(to);
    (
        to.title,
        to.severity,
        to.created,
        to.time_start,
        to.time_end,
        to.count,
        to.subject,
        to.matches,
        to.evidence,
    ) = figures(from);
    to.product.clone_from(&from.product);
    to.site.clone_from(&from.site);
    to.actor = from.actor.clone();
    to.window_secs = from.window_secs;
    to.threshold = from.threshold;
    before != figures(to)
}

/// Make `actor`'s stored alerts equal `replayed` (see the module doc). Writes go oldest first, so each
/// group's pointer ends at its newest alert, where live grouping continues.
pub fn reconcile(
    store: &Store,
    actor: &str,
    first_event: Option<DateTime<Utc>>,
    replayed: Vec<Alert>,
) -> Result<Reconciled, PipelineError> {
    let mut stored: Vec<Alert> = Vec::new();
    let filter = AlertFilter {
        actor: Some(actor.to_string()),
        ascending: true,
        ..Default::default()
    };
    let mut cursor = None;
    loop {
        let page = store.alerts_page(&filter, cursor, 500)?;
        stored.extend(page.alerts.into_iter().filter(|a| a.actor.id == actor));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // Alerts whose events aged out of the store cannot be replayed: leave them.
    stored.retain(|a| first_event.is_some_and(|f| a.time_start >= f));

    let mut out = Reconciled::default();
    let mut taken = vec![false; stored.len()];
    // (replayed alert, the stored alert it continues)
    let mut plan: Vec<(Alert, Option<usize>)> = Vec::with_capacity(replayed.len());
    for r in replayed {
        let found = stored.iter().enumerate().position(|(i, s)| {
            !taken[i] && s.detection == r.detection && s.group_key == r.group_key && overlaps(s, &r)
        });
        if let Some(i) = found {
            taken[i] = true;
        }
        plan.push((r, found));
    }

    // Alerts no longer raised go first, so that a group pointer is never left on one of them.
    let mut gone = Vec::new();
    let mut keep_noted = Vec::new();
    for (i, s) in stored.iter().enumerate() {
        if taken[i] {
            continue;
        }
        if triaged(s) {
            keep_noted.push(s.id);
        } else {
            gone.push((s.id, s.version));
        }
    }
    if !gone.is_empty() {
        store.delete_alerts_at(&gone)?;
        out.deleted.extend(gone.iter().map(|(id, _)| *id));
    }
    if !keep_noted.is_empty() {
        let changed = store.modify_alerts(&keep_noted, |a| {
            let what =
                "no longer raised by the stored events (re-detected after out-of-order events)";
            if a.history.last().is_some_and(|h| h.what == what) {
                return Ok(false);
            }
            a.history.push(HistoryEntry {
                time: end_of(a),
                who: "vigil".to_string(),
                what: what.to_string(),
            });
            a.version += 1;
            Ok(true)
        })?;
        out.changed.extend(changed.iter().map(|a| a.id));
    }

    plan.sort_by_key(|(r, _)| (end_of(r), r.time_start));
    // The last alert of each group must be written last whenever anything of its group was written (or
    // deleted), so that the group's pointer ends on it.
    let last_of_group: HashMap<String, usize> = plan
        .iter()
        .enumerate()
        .map(|(i, (r, _))| (r.group_key.clone(), i))
        .collect();
    let mut group_written: std::collections::HashSet<String> = stored
        .iter()
        .enumerate()
        .filter(|(i, _)| !taken[*i])
        .map(|(_, s)| s.group_key.clone())
        .collect();
    for (n, (r, found)) in plan.into_iter().enumerate() {
        let repoint =
            last_of_group.get(&r.group_key) == Some(&n) && group_written.contains(&r.group_key);
        match found.and_then(|i| stored.get(i)) {
            Some(s) => {
                let changed = store.modify_alerts(&[s.id], |a| {
                    let old_count = a.count;
                    if !take_figures(a, &r) {
                        // Unchanged; rewritten only to leave the group's pointer on it.
                        return Ok(repoint);
                    }
                    a.history.push(HistoryEntry {
                        time: end_of(&r),
                        who: "vigil".to_string(),
                        what: format!(
                            "re-detected from the stored events: {old_count} → {} activities",
                            r.count
                        ),
                    });
                    a.version += 1;
                    Ok(true)
                })?;
                if !changed.is_empty() {
                    group_written.insert(r.group_key.clone());
                }
                out.changed.extend(
                    changed
                        .iter()
                        .filter(|a| a.version != s.version)
                        .map(|a| a.id),
                );
            }
            None => {
                let mut a = r;
                let ms = u64::try_from(a.created.timestamp_millis()).unwrap_or(0);
                a.id = Ulid::from_parts(ms, rand::random::<u128>());
                store.save_alerts(std::slice::from_ref(&a))?;
                group_written.insert(a.group_key.clone());
                out.raised.push(a.id);
            }
        }
    }
    Ok(out)
}
