//! The actor timeline around an alert: the actor's events within a window (1 h … 7 d either side) with the
//! actor's alerts interleaved, so an analyst sees what happened just before and after.

use chrono::{DateTime, Duration, Utc};

use crate::model::{Alert, AuditEvent};

/// The window choices, either side of the alert, narrowest first.
pub const SPANS: [(i64, &str); 5] = [
    (3600, "1h"),
    (6 * 3600, "6h"),
    (24 * 3600, "24h"),
    (3 * 24 * 3600, "3d"),
    (7 * 24 * 3600, "7d"),
];
/// The default span: ±24 h.
pub const DEFAULT_SPAN: usize = 2;
/// Most events fetched either side of the alert; the pane says when the window held more.
pub const EVENT_CAP: usize = 1000;

/// One line of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineRow {
    /// Index into [`TimelineState::events`].
    Event(usize),
    /// Index into [`TimelineState::alerts`].
    Alert(usize),
}

/// What the timeline shows and where its cursor is.
#[derive(Debug)]
pub struct TimelineState {
    /// Actor id the events belong to.
    pub actor: Option<String>,
    /// Name or e-mail for the title.
    pub actor_label: String,
    /// The alert the window is centred on.
    pub around: Option<DateTime<Utc>>,
    pub span: usize,
    pub events: Vec<AuditEvent>,
    pub alerts: Vec<Alert>,
    /// Whether a side hit [`EVENT_CAP`].
    pub truncated: bool,
    pub selected: usize,
    pub offset: usize,
    pub generation: u64,
    pub loading: bool,
    pub error: Option<String>,
}

impl Default for TimelineState {
    fn default() -> Self {
        Self {
            actor: None,
            actor_label: String::new(),
            around: None,
            span: DEFAULT_SPAN,
            events: Vec::new(),
            alerts: Vec::new(),
            truncated: false,
            selected: 0,
            offset: 0,
            generation: 0,
            loading: false,
            error: None,
        }
    }
}

/// A timeline query for the app loop.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRequest {
    pub generation: u64,
    pub actor: String,
    pub around: DateTime<Utc>,
    pub span: Duration,
}

impl TimelineState {
    /// The span either side, as a duration.
    pub fn span(&self) -> Duration {
        Duration::seconds(SPANS[self.span.min(SPANS.len() - 1)].0)
    }

    /// The span's label (`24h`).
    pub fn span_label(&self) -> &'static str {
        SPANS[self.span.min(SPANS.len() - 1)].1
    }

    /// Centre on an alert; asks for a load only when the actor or moment differs from what is shown.
    pub fn focus(&mut self, alert: &Alert) -> Option<TimelineRequest> {
        let around = alert.time_start;
        if self.actor.as_deref() == Some(alert.actor.id.as_str()) && self.around == Some(around) {
            return None;
        }
        self.actor = Some(alert.actor.id.clone());
        self.actor_label = alert
            .actor
            .name
            .clone()
            .or_else(|| alert.actor.email.clone())
            .unwrap_or_else(|| alert.actor.id.clone());
        self.around = Some(around);
        self.selected = 0;
        self.offset = 0;
        self.request()
    }

    /// Widen (`+1`) or narrow (`-1`) the window and reload.
    pub fn resize_span(&mut self, delta: isize) -> Option<TimelineRequest> {
        let next = self.span.saturating_add_signed(delta).min(SPANS.len() - 1);
        if next == self.span {
            return None;
        }
        self.span = next;
        self.request()
    }

    /// A fresh query for the current actor and window.
    pub fn request(&mut self) -> Option<TimelineRequest> {
        let actor = self.actor.clone()?;
        let around = self.around?;
        self.generation += 1;
        self.loading = true;
        Some(TimelineRequest {
            generation: self.generation,
            actor,
            around,
            span: self.span(),
        })
    }

    /// Take a result in (stale generations are dropped).
    pub fn accept(
        &mut self,
        generation: u64,
        result: Result<(Vec<AuditEvent>, Vec<Alert>, bool), String>,
    ) {
        if generation != self.generation {
            return;
        }
        self.loading = false;
        match result {
            Ok((events, alerts, truncated)) => {
                self.events = events;
                self.alerts = alerts;
                self.truncated = truncated;
                self.error = None;
                // Start on the event closest to the alert, the reason the analyst came here.
                if let Some(around) = self.around {
                    let rows = self.rows();
                    self.selected = rows
                        .iter()
                        .position(|r| self.row_time(*r) >= around)
                        .unwrap_or(rows.len().saturating_sub(1));
                }
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Events and alerts merged by time, oldest first (an alert sorts just after the event it fired on).
    pub fn rows(&self) -> Vec<TimelineRow> {
        let mut rows = Vec::with_capacity(self.events.len() + self.alerts.len());
        let (mut i, mut j) = (0, 0);
        while i < self.events.len() || j < self.alerts.len() {
            let take_event = match (self.events.get(i), self.alerts.get(j)) {
                (Some(e), Some(a)) => e.time <= a.created,
                (Some(_), None) => true,
                _ => false,
            };
            if take_event {
                rows.push(TimelineRow::Event(i));
                i += 1;
            } else {
                rows.push(TimelineRow::Alert(j));
                j += 1;
            }
        }
        rows
    }

    /// When a row happened.
    pub fn row_time(&self, row: TimelineRow) -> DateTime<Utc> {
        match row {
            TimelineRow::Event(i) => self.events.get(i).map(|e| e.time),
            TimelineRow::Alert(i) => self.alerts.get(i).map(|a| a.created),
        }
        .unwrap_or_default()
    }

    /// The alert a row leads to: the alert row itself, or the first alert whose evidence holds the event.
    pub fn alert_for(&self, row: TimelineRow) -> Option<&Alert> {
        match row {
            TimelineRow::Alert(i) => self.alerts.get(i),
            TimelineRow::Event(i) => {
                let id = &self.events.get(i)?.id;
                self.alerts.iter().find(|a| a.evidence.contains(id))
            }
        }
    }

    /// Move the cursor.
    pub fn move_by(&mut self, delta: isize, view: usize) {
        let len = self.rows().len();
        super::move_cursor(&mut self.selected, &mut self.offset, len, delta, view);
    }
}
