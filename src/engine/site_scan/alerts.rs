//! `--alerts`: each finding raised as a `sensitive-content` alert (a custom detection's own for custom
//! findings), as the pipeline raises content alerts, but about content at rest rather than an event: no
//! evidence events, the site and link in the description, the page's author as the actor when the API names
//! one.
//!
//! Deduplicated by fingerprint and place across scans: the group key is the detection, `site-scan`, the site,
//! the app, the item id and the fingerprint, and a group that already has an alert (whatever its status: an
//! analyst who marked it expected does not want it back) raises nothing. The detection's switch and its
//! exclusions (container, object, actor) apply, as in the pipeline.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use ulid::Ulid;

use super::Item;
use super::rows::Found;
use super::{AlertSink, SiteScanError};
use crate::detect::catalogue;
use crate::detect::content::custom_scanner_id;
use crate::detect::tuning::{ExclusionKind, Tuning};
use crate::model::text::{sanitize, truncate};
use crate::model::{Alert, AlertActor, AlertStatus, ContentMatch, DetectionId, Severity};

/// Longest subject kept.
const SUBJECT_MAX: usize = 200;

/// The group key of a site-scan finding's alert.
pub(super) fn group_key(detection: &str, site: &str, app: &str, item: &str, fp: &str) -> String {
    format!("{detection}|site-scan|{site}|{app}|{item}|{fp}")
}

/// Raises a page's alerts: what it needs, and the group keys raised in this page already (the same item
/// twice on a page raises once).
pub(super) struct Raiser<'a> {
    pub store: &'a mut (dyn AlertSink + 'static),
    pub tuning: &'a Tuning,
    pub site: &'a str,
    pub now: DateTime<Utc>,
    pub batch: HashSet<String>,
}

impl Raiser<'_> {
    /// Alerts for one item's findings that no earlier scan raised; `title` is the item's title as the rows
    /// show it (redacted).
    pub fn drafts(
        &mut self,
        item: &Item,
        title: &str,
        found: &[Found],
    ) -> Result<Vec<Alert>, SiteScanError> {
        let (tuning, site, now) = (self.tuning, self.site, self.now);
        let store = &mut *self.store;
        let batch = &mut self.batch;
        let Some(spec) = catalogue::spec("sensitive-content") else {
            return Ok(Vec::new());
        };
        // (detection, fingerprint) in order of first appearance, with the findings of each.
        let mut groups: Vec<(String, String, Vec<&Found>)> = Vec::new();
        for f in found {
            let det = if f.finding.scanner.starts_with("custom:") {
                f.finding.scanner.clone()
            } else {
                spec.id.to_string()
            };
            match groups
                .iter_mut()
                .find(|(d, fp, _)| *d == det && *fp == f.finding.fingerprint)
            {
                Some(g) => g.2.push(f),
                None => groups.push((det, f.finding.fingerprint.clone(), vec![f])),
            }
        }
        let mut out = Vec::new();
        for (det, fp, group) in groups {
            if !raises(tuning, &det, item, now) {
                continue;
            }
            let key = group_key(&det, site, item.app, &item.id, &fp);
            if batch.contains(&key) || store.has_group(&key)? {
                continue;
            }
            batch.insert(key.clone());
            let mut matches: Vec<ContentMatch> = Vec::new();
            for f in &group {
                if !matches
                    .iter()
                    .any(|m| m.kind == f.finding.scanner && m.field == f.field)
                {
                    matches.push(ContentMatch {
                        kind: f.finding.scanner.clone(),
                        redacted: f.finding.redacted.clone(),
                        fingerprint: f.finding.fingerprint.clone(),
                        field: f.field.clone(),
                    });
                }
            }
            let severity = group
                .iter()
                .map(|f| f.finding.severity)
                .max()
                .unwrap_or(Severity::Medium);
            let custom = tuning
                .custom
                .iter()
                .find(|c| custom_scanner_id(&c.name) == det);
            let (title_text, description, severity) = match custom {
                Some(c) => (
                    c.name.clone(),
                    format!(
                        "Content matched the custom detection '{}', which your organization defined for text it wants \
                     to know about.",
                        c.name
                    ),
                    c.severity,
                ),
                None => {
                    let mut kinds: Vec<&str> = Vec::new();
                    for m in &matches {
                        if !kinds.contains(&m.kind.as_str()) {
                            kinds.push(&m.kind);
                        }
                    }
                    (
                        format!("{}: {}", spec.title, kinds.join(", ")),
                        spec.description.to_string(),
                        severity,
                    )
                }
            };
            let fields: Vec<&str> = {
                let mut v: Vec<&str> = Vec::new();
                for m in &matches {
                    if !v.contains(&m.field.as_str()) {
                        v.push(&m.field);
                    }
                }
                v
            };
            let link = group
                .first()
                .and_then(|f| item.fields.iter().find(|x| x.name == f.field))
                .and_then(|x| x.link.clone())
                .unwrap_or_else(|| item.link.clone());
            let author = group
                .iter()
                .find_map(|f| {
                    item.fields
                        .iter()
                        .find(|x| x.name == f.field)
                        .and_then(|x| x.author.clone())
                })
                .or_else(|| item.author.clone());
            let actor = match author {
                Some((id, name)) => AlertActor {
                    id: truncate(&sanitize(&id), 128),
                    name: name.map(|n| truncate(&sanitize(&n), 128)),
                    ..AlertActor::default()
                },
                None => AlertActor {
                    id: "site-scan".into(),
                    name: Some("vigil scan --site".into()),
                    ..AlertActor::default()
                },
            };
            let ms = u64::try_from(now.timestamp_millis()).unwrap_or_default();
            out.push(Alert {
            id: Ulid::from_parts(ms, rand::random::<u128>()),
            detection: DetectionId(det.clone()),
            title: title_text,
            severity,
            status: AlertStatus::Open,
            assignee: None,
            created: now,
            time_start: now,
            time_end: None,
            product: Some(item.app.to_string()),
            site: Some(site.to_string()),
            actor,
            subject: Some(truncate(
                &format!("{title} ({})", sanitize(&item.container)),
                SUBJECT_MAX,
            )),
            count: 1,
            description: format!(
                "{description}\n\nFound at rest by a content scan of the site (vigil scan --site), not by an \
                 audit event: {} ({}).",
                sanitize(&link),
                fields.join(", ")
            ),
            investigation_steps: spec
                .investigation_steps
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
            remediation: spec.remediation.iter().map(|s| (*s).to_string()).collect(),
            evidence: Vec::new(),
            matches,
            notes: Vec::new(),
            history: Vec::new(),
            version: 1,
            external: Default::default(),
            window_secs: None,
            threshold: None,
            group_key: key,
        });
        }
        Ok(out)
    }
}

/// Whether `det` is switched on and not excluded for this item (container, object, or the actor the
/// content names).
fn raises(tuning: &Tuning, det: &str, item: &Item, now: DateTime<Utc>) -> bool {
    let settings = tuning.settings(det);
    if !settings.enabled {
        return false;
    }
    if det.starts_with("custom:")
        && !tuning
            .custom
            .iter()
            .any(|c| custom_scanner_id(&c.name) == det && c.enabled)
    {
        return false;
    }
    let author = item.author.as_ref().map(|a| a.0.as_str());
    !settings.exclusions.iter().any(|x| {
        x.until.is_none_or(|u| now < u)
            && match x.kind {
                ExclusionKind::Container => item.container.eq_ignore_ascii_case(&x.value),
                ExclusionKind::Object => item.id == x.value,
                ExclusionKind::Actor => author == Some(x.value.as_str()),
            }
    })
}
