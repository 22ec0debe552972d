//! Which alerts a view or an export wants, and what the store answers: the filter, the page and the status
//! counters that the UI, the CLI and the store share (so the UI needs nothing from `store`).

use chrono::{DateTime, Utc};
use ulid::Ulid;

use super::{Alert, AlertStatus, Severity};

/// Which alerts to page through. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlertFilter {
    pub statuses: Vec<AlertStatus>,
    pub min_severity: Option<Severity>,
    /// At most this severity (`sev:<=medium`; with `min_severity` equal, `sev:high` means exactly high).
    pub max_severity: Option<Severity>,
    pub detection: Option<String>,
    /// Exact actor id, e-mail or full name (case-insensitive).
    pub actor: Option<String>,
    /// Case-insensitive substring of the actor's id, e-mail or name (`actor:ana` in a query), for when the
    /// analyst knows only part of a name; unlike `actor` no index serves it.
    pub actor_text: Option<String>,
    /// `created` at or after.
    pub since: Option<DateTime<Utc>>,
    /// `created` before.
    pub until: Option<DateTime<Utc>>,
    /// Case-insensitive substring of title, subject, actor name/e-mail, or detection.
    pub text: Option<String>,
    /// Whose alerts (`assignee:NAME`, `assignee:me`, `assignee:none`): who owns an alert is how a team splits
    /// the queue, so each analyst can see their own share.
    pub assignee: Option<AssigneeFilter>,
    /// Who [`AssigneeFilter::Me`] stands for. Not part of the query text (the same `assignee:me` means another
    /// person in another terminal): whoever runs the query sets it — the UI from its user, `vigil export` from
    /// the login name. While it is `None`, `assignee:me` matches nothing rather than guessing.
    pub me: Option<String>,
    /// Oldest first (exports) instead of newest first (the queue).
    pub ascending: bool,
    /// Most severe first, newest first within a severity (the queue's severity sort), paged from the index.
    pub by_severity: bool,
}

impl AlertFilter {
    /// Whether an alert passes every field (the index already narrowed; this decides).
    pub fn matches(&self, a: &Alert) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&a.status))
            && self.min_severity.is_none_or(|s| a.severity >= s)
            && self.max_severity.is_none_or(|s| a.severity <= s)
            && self
                .detection
                .as_deref()
                .is_none_or(|d| a.detection.as_str() == d)
            && self
                .actor
                .as_deref()
                .is_none_or(|who| actor_matches(a, who))
            && self
                .actor_text
                .as_deref()
                .is_none_or(|part| actor_contains(a, part))
            && self.since.is_none_or(|t| a.created >= t)
            && self.until.is_none_or(|t| a.created < t)
            && self.text.as_deref().is_none_or(|t| text_matches(a, t))
            && self
                .assignee
                .as_ref()
                .is_none_or(|w| assignee_matches(a, w, self.me.as_deref()))
    }
}

/// Whose alerts a filter wants (`assignee:` in a query).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AssigneeFilter {
    /// Alerts nobody owns yet (`assignee:none`): the ones still to be picked up.
    Nobody,
    /// Alerts of whoever runs the query (`assignee:me`), named by [`AlertFilter::me`].
    Me,
    /// Alerts of this person, compared case-insensitively (`assignee:ana`, `assignee:"Ana Lima"`).
    Named(String),
}

fn assignee_matches(a: &Alert, want: &AssigneeFilter, me: Option<&str>) -> bool {
    let owner = a
        .assignee
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let same = |name: &str| owner.is_some_and(|o| o.to_lowercase() == name.trim().to_lowercase());
    match want {
        AssigneeFilter::Nobody => owner.is_none(),
        AssigneeFilter::Me => me.is_some_and(same),
        AssigneeFilter::Named(name) => same(name),
    }
}

fn actor_matches(a: &Alert, who: &str) -> bool {
    a.actor.id == who
        || a.actor
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(who))
        || a.actor
            .name
            .as_deref()
            .is_some_and(|n| n.to_lowercase() == who.to_lowercase())
}

fn actor_contains(a: &Alert, part: &str) -> bool {
    let part = part.to_lowercase();
    [
        Some(a.actor.id.as_str()),
        a.actor.email.as_deref(),
        a.actor.name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|f| f.to_lowercase().contains(&part))
}

fn text_matches(a: &Alert, t: &str) -> bool {
    let t = t.to_lowercase();
    [
        Some(a.title.as_str()),
        a.subject.as_deref(),
        a.actor.name.as_deref(),
        a.actor.email.as_deref(),
        Some(a.detection.as_str()),
    ]
    .into_iter()
    .flatten()
    .any(|f| f.to_lowercase().contains(&t))
}

/// One page of alerts and the cursor for the next (`None` at the end).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlertPage {
    pub alerts: Vec<Alert>,
    pub next: Option<Ulid>,
}

/// Alerts per status, kept as counters so the header never counts a million rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusCounts {
    pub open: u64,
    pub acknowledged: u64,
    pub expected: u64,
    pub true_positive: u64,
}

impl StatusCounts {
    /// All alerts.
    pub fn total(&self) -> u64 {
        self.open + self.acknowledged + self.expected + self.true_positive
    }

    /// The counter for one status.
    pub fn get(&self, s: AlertStatus) -> u64 {
        match s {
            AlertStatus::Open => self.open,
            AlertStatus::Acknowledged => self.acknowledged,
            AlertStatus::Expected => self.expected,
            AlertStatus::TruePositive => self.true_positive,
        }
    }
}
