//! Everything the UI knows, and the one function that changes it: [`AppState::apply`] takes a [`Msg`] (a user
//! intent, a query result, an engine change, a tick) and returns the [`Effect`]s the app loop must perform.
//! No I/O and no drawing happen here, so tests drive it directly and the panes render from `&AppState`.
//!
//! `apply` also keeps a dirty flag: set when a message changed what the screen shows, taken by the app loop
//! before it draws ([`AppState::take_dirty`]), so an ignored key, a stale query answer or a tick that changes
//! nothing on screen draws nothing.

mod detail;
mod outbound;
mod prompt;
mod queue;
mod respond;
mod timeline;
mod triage;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use ulid::Ulid;

use crate::engine::respond::{Access, AccessPlan};
use crate::engine::{Change, Command, DetectionView, EngineStats, IntegrationView};
use crate::model::AlertPage;
use crate::model::{Alert, AuditEvent, Delivery, Evidence};
use crate::tui::action::Action;

pub use detail::{DetailState, EventView, FIELD_MAX, Link, alert_links, event_fields, safe_url};
pub use prompt::{ExportRequest, Mode, NoteEditor, Prompt, PromptKind};
pub use queue::{BeforeMine, PageKind, PageRequest, QueueState, SortOrder};
pub use timeline::{EVENT_CAP, SPANS, TimelineRequest, TimelineRow, TimelineState};

/// Columns from which the queue and the detail sit side by side.
pub const WIDE: u16 = 100;
/// Lines of the header above the panes (title and figures, then the tabs).
pub const HEADER_LINES: u16 = 2;
/// Lines of the footer below the panes (mode, messages, key hints).
pub const FOOTER_LINES: u16 = 1;

/// The panes, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Queue,
    Detail,
    Timeline,
    Detections,
    Integrations,
}

impl Pane {
    /// Tab order.
    pub const ALL: [Pane; 5] = [
        Self::Queue,
        Self::Detail,
        Self::Timeline,
        Self::Detections,
        Self::Integrations,
    ];

    /// The tab's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Queue => "Queue",
            Self::Detail => "Detail",
            Self::Timeline => "Timeline",
            Self::Detections => "Detections",
            Self::Integrations => "Integrations",
        }
    }

    fn step(self, delta: isize) -> Pane {
        let i = Self::ALL.iter().position(|p| *p == self).unwrap_or(0) as isize;
        let n = Self::ALL.len() as isize;
        Self::ALL[(i + delta).rem_euclid(n) as usize]
    }
}

/// Something that happened, for [`AppState::apply`].
#[derive(Debug)]
pub enum Msg {
    /// A key resolved to an intent by the keymap.
    Action(Action),
    /// A raw key while a prompt or the note editor has the keyboard.
    Key(KeyEvent),
    /// Text pasted (bracketed paste): text for the open prompt or note, never keys.
    Paste(String),
    /// A queue page arrived.
    Page {
        generation: u64,
        kind: PageKind,
        result: Result<AlertPage, String>,
    },
    /// Fresh copies of alerts in the queue window.
    Alerts(Vec<Alert>),
    /// One alert, for the detail pane (after a jump from the timeline, or a change to the pinned alert).
    Alert(Result<Option<Box<Alert>>, String>),
    /// A timeline arrived: events, the actor's alerts, and whether the window held more events.
    Timeline {
        generation: u64,
        result: Result<(Vec<AuditEvent>, Vec<Alert>, bool), String>,
    },
    Detections(Vec<DetectionView>),
    Integrations(Vec<IntegrationView>),
    /// An alert's deliveries arrived, for the detail.
    Deliveries {
        alert: Ulid,
        result: Result<Vec<Delivery>, String>,
    },
    /// An alert's evidence arrived, for the detail (`None`: the alert is gone).
    Evidence {
        alert: Ulid,
        result: Result<Option<Evidence>, String>,
    },
    Stats(EngineStats),
    /// A fact from the engine's change feed.
    Change(Change),
    /// The change feed dropped messages (this UI fell behind): reload everything.
    Lagged,
    /// A command's outcome, for the footer.
    Executed(Result<String, String>),
    /// What a suspend or restore would do (the confirmation asks it), or why it cannot be done.
    AccessPlanned(Result<AccessPlan, String>),
    /// A triage command was refused because someone changed these alerts first: say so and reload them.
    Conflicted {
        ids: Vec<Ulid>,
        text: String,
    },
    /// Whether an export's target file exists.
    PathProbed {
        request: ExportRequest,
        exists: bool,
    },
    /// The clock (≤ 1 Hz): relative times and `since:` filters use it.
    Tick(DateTime<Utc>),
    Resize(u16, u16),
    /// The keymap is in the middle of a chord (`g …`), or not.
    Pending(Option<String>),
}

/// Work for the app loop. Queries carry a generation so that only the newest answer counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Page(PageRequest),
    /// Reload these alerts (they changed and sit in the window).
    Alerts(Vec<Ulid>),
    Alert(Ulid),
    Timeline(TimelineRequest),
    Detections,
    Integrations,
    /// Load an alert's deliveries for the detail.
    Deliveries(Ulid),
    /// Load an alert's evidence events for the detail, and a login alert's 90-day baseline when `baseline`
    /// (only while the detail has the focus: it reads the actor's whole quarter).
    Evidence {
        alert: Ulid,
        baseline: bool,
    },
    Stats,
    Execute(Command),
    /// Ask the engine what suspending or restoring an alert's actor would do, for the confirmation.
    PlanAccess {
        id: Ulid,
        access: Access,
        org: Option<String>,
    },
    /// Check whether an export target exists before writing it.
    ProbePath(ExportRequest),
    /// Put text on the user's clipboard (OSC 52, which works over SSH).
    Copy(String),
    Quit,
    /// End the UI with an error (the engine reported a fatal condition).
    Fail(String),
}

/// Most bytes of one paste taken into a prompt or a note (a 10 MB paste would only freeze the screen).
pub const PASTE_MAX: usize = 64 * 1024;

/// How long an information message stays in the footer, in clock time (the ≤ 1 Hz tick clears it).
pub const INFO_SHOWN_SECS: i64 = 8;

/// How long an error stays in the footer: longer than information, as it may need reading twice.
pub const ERROR_SHOWN_SECS: i64 = 20;

/// A footer message. It expires on the clock tick ([`INFO_SHOWN_SECS`], [`ERROR_SHOWN_SECS`]) so that the
/// footer never shows an outcome from minutes ago as if it were news; a newer message replaces it at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
    /// The UI's clock when it was said.
    pub since: DateTime<Utc>,
}

impl Message {
    /// Whether the message has been shown long enough at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        let limit = if self.error {
            ERROR_SHOWN_SECS
        } else {
            INFO_SHOWN_SECS
        };
        now.signed_duration_since(self.since) >= chrono::Duration::seconds(limit)
    }
}

/// A selectable list (detections, integrations).
#[derive(Debug)]
pub struct ListState<T> {
    pub items: Vec<T>,
    pub selected: usize,
    pub offset: usize,
}

impl<T> Default for ListState<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            selected: 0,
            offset: 0,
        }
    }
}

impl<T> ListState<T> {
    /// The item under the cursor.
    pub fn current(&self) -> Option<&T> {
        self.items.get(self.selected)
    }

    fn move_by(&mut self, delta: isize, view: usize) {
        move_cursor(
            &mut self.selected,
            &mut self.offset,
            self.items.len(),
            delta,
            view,
        );
    }

    fn replace(&mut self, items: Vec<T>) {
        self.items = items;
        self.selected = self.selected.min(self.items.len().saturating_sub(1));
        self.offset = self.offset.min(self.selected);
    }
}

/// The whole UI state. One owner (the app loop); panes only read it.
#[derive(Debug)]
pub struct AppState {
    /// Who is at the keyboard (the passwd name, see [`crate::tui::user`]): "assign to me" and the
    /// history's "who".
    pub user: String,
    /// Header title (`vigil demo`).
    pub title: String,
    pub pane: Pane,
    pub width: u16,
    pub height: u16,
    pub queue: QueueState,
    pub detail: DetailState,
    pub timeline: TimelineState,
    pub detections: ListState<DetectionView>,
    pub integrations: ListState<IntegrationView>,
    pub stats: EngineStats,
    pub message: Option<Message>,
    pub prompt: Option<Prompt>,
    pub note: Option<NoteEditor>,
    /// `Some(scroll)` while the `?` help is open.
    pub help: Option<usize>,
    /// One event's fields, opened from the timeline; over the body until closed.
    pub event_view: Option<EventView>,
    /// `y` in the detail: what may be copied (a key, a label and the text), until a key picks one.
    pub copy_menu: Option<Vec<(char, String, String)>>,
    /// The organization's id (from the `atlassian_api` source), for links to Atlassian administration.
    pub org_id: Option<String>,
    /// Keys typed so far of an unfinished chord.
    pub pending_keys: Option<String>,
    pub now: DateTime<Utc>,
    /// The screen no longer shows this state; see [`AppState::take_dirty`].
    dirty: bool,
}

/// The small part of the state that moves on every key (which pane, cursors, scrolls, overlays, footer), cheap
/// to copy: [`AppState::apply`] compares it before and after each message, so a key that moves nothing draws
/// nothing. Data that arrives from queries (rows, events, detections, figures) is not in it; the messages that
/// bring data mark the state dirty themselves when it differs from what is shown.
#[derive(Debug, PartialEq)]
struct ViewStamp {
    pane: Pane,
    /// Which prompt (its kind, text and cursor); prompts are open rarely and briefly, so the copy is cheap.
    prompt: Option<(PromptKind, String, usize)>,
    note: Option<(Ulid, bool)>,
    help: Option<usize>,
    event_view: Option<(String, usize)>,
    copy_menu: bool,
    message: Option<Message>,
    pending_keys: Option<String>,
    queue_selected: usize,
    queue_offset: usize,
    queue_window_start: usize,
    queue_rows: usize,
    queue_more: (bool, bool),
    queue_marked: usize,
    queue_unseen: usize,
    queue_sort: SortOrder,
    queue_loaded: bool,
    queue_error: bool,
    detail_scroll: usize,
    detail_pinned: Option<Ulid>,
    timeline_actor: String,
    timeline_around: Option<DateTime<Utc>>,
    timeline_span: usize,
    timeline_selected: usize,
    timeline_offset: usize,
    timeline_loading: bool,
    timeline_error: bool,
    detections_cursor: (usize, usize, usize),
    integrations_cursor: (usize, usize, usize),
}

impl AppState {
    /// A fresh state, and the effects that fill it (first page, detections, integrations, figures).
    pub fn new(user: String, title: String, now: DateTime<Utc>) -> (Self, Vec<Effect>) {
        let queue = QueueState {
            me: user.clone(),
            ..QueueState::default()
        };
        let mut s = Self {
            user,
            title,
            pane: Pane::Queue,
            width: 80,
            height: 24,
            queue,
            detail: DetailState::default(),
            timeline: TimelineState::default(),
            detections: ListState::default(),
            integrations: ListState::default(),
            stats: EngineStats::default(),
            message: None,
            prompt: None,
            note: None,
            help: None,
            event_view: None,
            copy_menu: None,
            org_id: None,
            pending_keys: None,
            now,
            dirty: true,
        };
        let first = s.queue.request(PageKind::Reset);
        (
            s,
            vec![
                Effect::Page(first),
                Effect::Detections,
                Effect::Integrations,
                Effect::Stats,
            ],
        )
    }

    /// What the keyboard is doing, for the footer.
    pub fn mode(&self) -> Mode {
        if self.note.as_ref().is_some_and(|n| n.confirm_discard) {
            Mode::Confirm
        } else if self.note.is_some() {
            Mode::Note
        } else if let Some(p) = &self.prompt {
            p.mode()
        } else {
            Mode::Normal
        }
    }

    /// Whether keys go to a text field or a one-key menu (and must not be resolved through the keymap).
    pub fn captures_keys(&self) -> bool {
        self.mode() != Mode::Normal || self.copy_menu.is_some()
    }

    /// Whether the queue and the detail share the screen.
    pub fn wide(&self) -> bool {
        self.width >= WIDE
    }

    /// Whether the detail pane is on screen (alone, or beside the queue).
    pub fn detail_visible(&self) -> bool {
        self.pane == Pane::Detail || (self.pane == Pane::Queue && self.wide())
    }

    /// Lines between the header and the footer (less the prompt's line while one is open): the height the
    /// panes are drawn in. [`crate::tui::panes::draw`] lays the screen out from the same constants, so the
    /// rows the state scrolls by are the rows on screen.
    pub fn body_lines(&self) -> u16 {
        self.height
            .saturating_sub(HEADER_LINES + FOOTER_LINES + u16::from(self.prompt.is_some()))
    }

    /// Rows of items `pane` shows: the body less the pane's two border lines and, for the tables (queue,
    /// detections, integrations), their column header. Cursor moves scroll by this, so after `G` the last item
    /// sits on the pane's last line (a smaller figure left blank lines under it, a larger one hid the cursor).
    pub fn view_rows(&self, pane: Pane) -> usize {
        let inner = self.body_lines().saturating_sub(2);
        let rows = match pane {
            Pane::Queue | Pane::Detections => inner.saturating_sub(1),
            // The integrations table takes at most half the pane (the selected one's detail the rest).
            Pane::Integrations => (inner / 2).max(3).saturating_sub(1),
            Pane::Detail | Pane::Timeline => inner,
        };
        usize::from(rows).max(1)
    }

    /// The page that `ctrl-d` / `ctrl-u` move half of, in every pane and the help: the screen less the header,
    /// the footer, the borders and a column header. Cursor scrolling uses the pane's own
    /// [`AppState::view_rows`].
    pub fn list_rows(&self) -> usize {
        usize::from(self.height.saturating_sub(7)).max(1)
    }

    /// The alert the detail pane, triage and exclusions act on.
    pub fn current_alert(&self) -> Option<&Alert> {
        self.detail
            .pinned
            .as_ref()
            .filter(|_| self.pane != Pane::Queue)
            .or_else(|| self.queue.selected_alert())
    }

    /// The versions of `ids` as this UI shows them (rows loaded, the detail): a triage command carries
    /// them, and the engine refuses it if someone changed one of those alerts since. Alerts not loaded (marked
    /// rows scrolled far away) go unchecked.
    pub fn seen(&self, ids: &[Ulid]) -> crate::engine::Seen {
        ids.iter()
            .filter_map(|id| {
                self.detail
                    .pinned
                    .as_ref()
                    .filter(|a| a.id == *id)
                    .or_else(|| self.queue.rows.iter().find(|a| a.id == *id))
                    .map(|a| (*id, a.version))
            })
            .collect()
    }

    /// The alerts a triage action applies to: Space-marked rows, else the current alert.
    pub fn targets(&self) -> Vec<Ulid> {
        if self.detail.pinned.is_some() && self.pane != Pane::Queue {
            return self.current_alert().map(|a| vec![a.id]).unwrap_or_default();
        }
        self.queue.target_ids()
    }

    /// Pasted text goes into the note being written (newlines kept) or the open one-line prompt (newlines
    /// and tabs become spaces), without control characters and at most [`PASTE_MAX`] bytes of it. It is
    /// never read as keys: a paste holding `⏎at` cannot submit a filter and then triage. A confirmation
    /// takes no paste, and with nothing open a paste does nothing but say so.
    fn on_paste(&mut self, text: &str) {
        let mut cut = text.len().min(PASTE_MAX);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let clipped = cut < text.len();
        let text = &text[..cut];
        if let Some(note) = &mut self.note {
            if note.confirm_discard {
                self.complain("a confirmation takes a key, not a paste");
                return;
            }
            let clean: String = text
                .replace("\r\n", "\n")
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .filter(|c| *c == '\n' || !c.is_control())
                .collect();
            note.area.insert_str(clean);
        } else if let Some(prompt) = &mut self.prompt {
            if prompt.mode() == Mode::Confirm {
                self.complain("a confirmation takes a key, not a paste");
                return;
            }
            for c in text.chars() {
                let c = match c {
                    '\n' | '\r' | '\t' => ' ',
                    c if c.is_control() => continue,
                    c => c,
                };
                prompt.input.handle(tui_input::InputRequest::InsertChar(c));
            }
        } else {
            self.say("paste ignored: open / (filter), : (command) or n (note) first");
            return;
        }
        if clipped {
            self.complain(format!("pasted text cut at {} KiB", PASTE_MAX / 1024));
        }
        self.dirty = true;
    }

    /// Set a footer message.
    pub fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
            since: self.now,
        });
    }

    /// Set a footer error.
    pub fn complain(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
            since: self.now,
        });
    }

    /// Whether something on screen changed since the last [`AppState::take_dirty`] (a fresh state is dirty: its
    /// first frame has not been drawn).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether to draw: returns the dirty flag and clears it. The app loop calls it once per turn and draws only
    /// when it says so.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Ask for a redraw: for changes made to the public fields outside [`AppState::apply`].
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    fn stamp(&self) -> ViewStamp {
        let q = &self.queue;
        let t = &self.timeline;
        ViewStamp {
            pane: self.pane,
            prompt: self.prompt.as_ref().map(|p| {
                (
                    p.kind.clone(),
                    p.input.value().to_string(),
                    p.input.cursor(),
                )
            }),
            note: self.note.as_ref().map(|n| (n.id, n.confirm_discard)),
            help: self.help,
            event_view: self
                .event_view
                .as_ref()
                .map(|v| (v.event.id.clone(), v.scroll)),
            copy_menu: self.copy_menu.is_some(),
            message: self.message.clone(),
            pending_keys: self.pending_keys.clone(),
            queue_selected: q.selected,
            queue_offset: q.offset,
            queue_window_start: q.window_start,
            queue_rows: q.rows.len(),
            queue_more: (q.more_older, q.more_newer),
            queue_marked: q.marked.len(),
            queue_unseen: q.unseen,
            queue_sort: q.sort,
            queue_loaded: q.loaded,
            queue_error: q.error.is_some(),
            detail_scroll: self.detail.scroll,
            detail_pinned: self.detail.pinned.as_ref().map(|a| a.id),
            timeline_actor: t.actor_label.clone(),
            timeline_around: t.around,
            timeline_span: t.span,
            timeline_selected: t.selected,
            timeline_offset: t.offset,
            timeline_loading: t.loading,
            timeline_error: t.error.is_some(),
            detections_cursor: (
                self.detections.selected,
                self.detections.offset,
                self.detections.items.len(),
            ),
            integrations_cursor: (
                self.integrations.selected,
                self.integrations.offset,
                self.integrations.items.len(),
            ),
        }
    }

    /// The single entry point for change. Marks the state dirty when the message changed what the screen shows.
    pub fn apply(&mut self, msg: Msg) -> Vec<Effect> {
        let before = self.stamp();
        let mut effects = self.dispatch(msg);
        if self.stamp() != before {
            self.dirty = true;
        }
        // Whatever brought another alert into the detail (a key, a page, a jump), its deliveries and its
        // evidence follow.
        effects.extend(self.ask_deliveries(false));
        effects.extend(self.ask_evidence(false));
        effects
    }

    /// The query for the shown alert's evidence: once per alert shown, or again when `again` (the alert
    /// changed: its evidence may have grown). `None` when the detail is not on screen.
    fn ask_evidence(&mut self, again: bool) -> Option<Effect> {
        if !self.detail_visible() {
            return None;
        }
        let id = self.current_alert()?.id;
        let baseline = self.pane == Pane::Detail;
        // Asked already, with the baseline or without needing it.
        if !again
            && self
                .detail
                .evidence_asked
                .is_some_and(|(a, b)| a == id && b >= baseline)
        {
            return None;
        }
        self.detail.evidence_asked = Some((id, baseline));
        Some(Effect::Evidence {
            alert: id,
            baseline,
        })
    }

    /// Evidence arrived: kept when its alert is still the one shown.
    fn accept_evidence(&mut self, alert: Ulid, result: Result<Option<Evidence>, String>) {
        if self.current_alert().map(|a| a.id) != Some(alert) {
            return;
        }
        let result = match result {
            Ok(Some(e)) => Ok(e),
            Ok(None) => Err("the alert is no longer in the store".to_string()),
            Err(e) => Err(e),
        };
        if self.detail.evidence_of(alert) != Some(&result) {
            self.detail.evidence = Some((alert, result));
            self.dirty = true;
        }
    }

    /// What the last frame measured of the detail (see [`DetailState::set_layout`]); redraws when the scroll
    /// had to move back inside the content.
    pub fn set_detail_layout(&mut self, rows: usize, view: usize) {
        if self.detail.set_layout(rows, view) {
            self.dirty = true;
        }
    }

    /// The query for the shown alert's deliveries: once per alert shown, or again when `again` (the clock
    /// tick and changes, since the delivery worker moves them on without announcing it). `None` when the
    /// detail is not on screen.
    fn ask_deliveries(&mut self, again: bool) -> Option<Effect> {
        if !self.detail_visible() {
            return None;
        }
        let id = self.current_alert()?.id;
        if !again && self.detail.asked == Some(id) {
            return None;
        }
        self.detail.asked = Some(id);
        Some(Effect::Deliveries(id))
    }

    /// Deliveries arrived: keep them if their alert is still the one shown; when they moved on since last
    /// time, the alert itself may have too (a Jira key stored on it), so reload it.
    fn accept_deliveries(
        &mut self,
        alert: Ulid,
        result: Result<Vec<Delivery>, String>,
    ) -> Vec<Effect> {
        let list = match result {
            Ok(list) => list,
            Err(e) => {
                self.complain(format!("loading deliveries failed: {e}"));
                return Vec::new();
            }
        };
        if self.current_alert().map(|a| a.id) != Some(alert) {
            return Vec::new();
        }
        let had = match self.detail.deliveries_of(alert) {
            Some(shown) if shown == list.as_slice() => return Vec::new(),
            Some(_) => true,
            None => false,
        };
        self.dirty = true;
        self.detail.deliveries = Some((alert, list));
        if !had {
            return Vec::new();
        }
        if self.detail.pinned.as_ref().is_some_and(|p| p.id == alert) {
            vec![Effect::Alert(alert)]
        } else {
            vec![Effect::Alerts(vec![alert])]
        }
    }

    /// [`AppState::apply`] without the stamp comparison. Arms that take data in mark dirty themselves, and only
    /// when the data differs from what is shown.
    fn dispatch(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Action(a) => self.on_action(a),
            Msg::Key(k) => self.on_text_key(k),
            Msg::Paste(text) => {
                self.on_paste(&text);
                Vec::new()
            }
            Msg::Page {
                generation,
                kind,
                result,
            } => {
                // A reload that brings back exactly the rows on screen (the change was elsewhere in the store)
                // shows nothing new; cursor, flags and errors it touches are in the stamp.
                let same_rows = kind == PageKind::Reset
                    && matches!(&result, Ok(page) if page.alerts == self.queue.rows);
                if self.queue.accept(generation, kind, result) {
                    if !same_rows {
                        self.dirty = true;
                    }
                    self.queue.scroll_into_view(self.view_rows(Pane::Queue));
                    if let Some(e) = &self.queue.error {
                        let e = format!("loading alerts failed: {e}");
                        self.complain(e);
                    }
                }
                self.queue
                    .page_if_needed()
                    .map(Effect::Page)
                    .into_iter()
                    .collect()
            }
            Msg::Alerts(fresh) => {
                let rows = &self.queue.rows;
                if fresh
                    .iter()
                    .any(|a| rows.iter().any(|r| r.id == a.id && r != a))
                {
                    self.dirty = true;
                }
                self.queue.refresh_rows(fresh);
                Vec::new()
            }
            Msg::Alert(result) => {
                match result {
                    Ok(Some(a)) => {
                        if self
                            .detail
                            .pinned
                            .as_ref()
                            .is_some_and(|p| p.id == a.id && *p != *a)
                        {
                            self.detail.pinned = Some(*a);
                            self.dirty = true;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => self.complain(e),
                }
                Vec::new()
            }
            Msg::Timeline { generation, result } => {
                // A stale answer is dropped by `accept` and changes nothing.
                if generation == self.timeline.generation {
                    self.dirty = true;
                }
                self.timeline.accept(generation, result);
                let rows = self.view_rows(Pane::Timeline);
                self.timeline.move_by(0, rows);
                Vec::new()
            }
            Msg::Detections(d) => {
                if d != self.detections.items {
                    self.dirty = true;
                }
                self.detections.replace(d);
                Vec::new()
            }
            Msg::Integrations(i) => {
                if i != self.integrations.items {
                    self.dirty = true;
                }
                self.integrations.replace(i);
                Vec::new()
            }
            Msg::Deliveries { alert, result } => self.accept_deliveries(alert, result),
            Msg::Evidence { alert, result } => {
                self.accept_evidence(alert, result);
                Vec::new()
            }
            Msg::Stats(s) => {
                self.set_stats(s);
                Vec::new()
            }
            Msg::Change(c) => self.on_change(c),
            Msg::Lagged => self.reload_all(),
            Msg::Executed(Ok(text)) => {
                self.say(text);
                Vec::new()
            }
            Msg::Executed(Err(text)) => {
                self.complain(text);
                Vec::new()
            }
            Msg::AccessPlanned(result) => {
                self.confirm_access(result);
                Vec::new()
            }
            Msg::Conflicted { ids, text } => {
                // The reload is what the message promises: the rows and the detail show what is stored now.
                let out = self.on_change(Change::AlertsChanged { ids, raised: 0 });
                self.complain(text);
                out
            }
            Msg::PathProbed { request, exists } => {
                if exists {
                    self.prompt = Some(Prompt::new(PromptKind::ConfirmOverwrite(request), ""));
                    Vec::new()
                } else {
                    vec![triage::export_command(request, false)]
                }
            }
            Msg::Tick(now) => {
                // No pane shows the clock (it only dates `since:` filters); the figures the loop fetches on each
                // tick mark dirty when they arrive changed. A pane that shows relative times must mark dirty here.
                // The integrations pane dates its attempts relative to today.
                if self.pane == Pane::Integrations && self.now.date_naive() != now.date_naive() {
                    self.dirty = true;
                }
                self.now = now;
                // A footer message says what just happened; once it is old news, it goes (the stamp sees it).
                if self.message.as_ref().is_some_and(|m| m.expired(now)) {
                    self.message = None;
                }
                // The delivery worker does not announce its progress: what shows it is polled at this pace.
                let mut out = Vec::new();
                if self.pane == Pane::Integrations {
                    out.push(Effect::Integrations);
                }
                out.extend(self.ask_deliveries(true));
                out
            }
            Msg::Resize(w, h) => {
                self.dirty = true;
                self.width = w;
                self.height = h;
                let rows = self.view_rows(Pane::Queue);
                self.queue.scroll_into_view(rows);
                Vec::new()
            }
            Msg::Pending(p) => {
                self.pending_keys = p;
                Vec::new()
            }
        }
    }

    fn on_change(&mut self, c: Change) -> Vec<Effect> {
        match c {
            Change::AlertsChanged { ids, raised } => {
                let mut out = Vec::new();
                self.queue.unseen += raised;
                let at_top = self.queue.window_start == 0 && !self.queue.more_newer;
                if at_top {
                    // New alerts appear above; the selected alert stays selected (kept by id on accept).
                    out.push(Effect::Page(self.queue.request(PageKind::Reset)));
                } else {
                    let in_window: Vec<Ulid> = ids
                        .iter()
                        .copied()
                        .filter(|id| self.queue.rows.iter().any(|a| a.id == *id))
                        .collect();
                    if !in_window.is_empty() {
                        out.push(Effect::Alerts(in_window));
                    }
                }
                if let Some(p) = &self.detail.pinned
                    && ids.contains(&p.id)
                {
                    out.push(Effect::Alert(p.id));
                }
                // A status change may have queued deliveries for the alert shown, and continuing activity
                // may have grown its evidence.
                if self.current_alert().is_some_and(|a| ids.contains(&a.id)) {
                    out.extend(self.ask_deliveries(true));
                    out.extend(self.ask_evidence(true));
                }
                out
            }
            Change::TuningChanged => vec![Effect::Detections],
            Change::IntegrationsChanged => {
                let mut out = vec![Effect::Integrations];
                out.extend(self.ask_deliveries(true));
                out
            }
            Change::Stats(s) => {
                self.set_stats(s);
                Vec::new()
            }
            Change::Notice(n) => {
                self.say(crate::model::text::sanitize(&n));
                Vec::new()
            }
            Change::Fatal(e) => vec![Effect::Fail(e)],
            Change::Resync => self.reload_all(),
        }
    }

    /// Fresh engine figures for the header; a redraw only when they differ.
    fn set_stats(&mut self, stats: EngineStats) {
        if stats != self.stats {
            self.stats = stats;
            self.dirty = true;
        }
    }

    fn reload_all(&mut self) -> Vec<Effect> {
        let mut out = vec![
            Effect::Page(self.queue.request(PageKind::Reset)),
            Effect::Detections,
            Effect::Integrations,
            Effect::Stats,
        ];
        out.extend(self.timeline.request().map(Effect::Timeline));
        if let Some(p) = &self.detail.pinned {
            out.push(Effect::Alert(p.id));
        }
        out.extend(self.ask_deliveries(true));
        out.extend(self.ask_evidence(true));
        out
    }

    fn on_action(&mut self, a: Action) -> Vec<Effect> {
        if self.help.is_some() {
            return self.on_help_action(a);
        }
        if self.event_view.is_some() {
            return self.on_event_view_action(a);
        }
        if a == Action::CopyId && self.pane == Pane::Detail && self.open_copy_menu() {
            return Vec::new();
        }
        // Space and `s` act on the queue from the detail beside it too.
        let rows = self.view_rows(Pane::Queue);
        let half = (self.list_rows() / 2).max(1) as isize;
        match a {
            Action::NextRow => self.move_cursor(1),
            Action::PrevRow => self.move_cursor(-1),
            Action::HalfPageDown => self.move_cursor(half),
            Action::HalfPageUp => self.move_cursor(-half),
            Action::FirstRow => {
                if self.pane == Pane::Queue || (self.wide() && self.pane == Pane::Detail) {
                    self.queue.unseen = 0;
                }
                self.move_cursor(isize::MIN / 2)
            }
            Action::LastRow => self.move_cursor(isize::MAX / 2),
            Action::NextPane => self.show(self.pane.step(1)),
            Action::PrevPane => self.show(self.pane.step(-1)),
            Action::ShowQueue => self.show(Pane::Queue),
            Action::ShowDetail => self.show(Pane::Detail),
            Action::ShowTimeline => self.show(Pane::Timeline),
            Action::ShowDetections => self.show(Pane::Detections),
            Action::ShowIntegrations => self.show(Pane::Integrations),
            Action::Open => self.open(),
            Action::Back => self.back(),
            Action::ToggleSelect => {
                if let Some(id) = self.queue.selected_alert().map(|a| a.id) {
                    if !self.queue.marked.remove(&id) {
                        self.queue.marked.insert(id);
                    }
                    self.queue.move_by(1, rows);
                }
                self.queue
                    .page_if_needed()
                    .map(Effect::Page)
                    .into_iter()
                    .collect()
            }
            Action::ClearSelection => {
                self.queue.marked.clear();
                self.say("selection cleared");
                Vec::new()
            }
            Action::ShowMine => {
                let reload = self.queue.toggle_mine();
                // The title changes even when the rows do not (nobody's alerts, or the same ones).
                self.dirty = true;
                self.pane = Pane::Queue;
                self.detail.pinned = None;
                if self.queue.is_mine() {
                    self.say(format!("only the alerts assigned to {}", self.user));
                } else {
                    self.say("the alerts of every assignee");
                }
                vec![Effect::Page(reload)]
            }
            Action::ToggleSort => {
                let reload = self.queue.toggle_sort();
                self.queue.scroll_into_view(rows);
                vec![Effect::Page(reload)]
            }
            Action::WidenTimeline => self
                .timeline
                .resize_span(1)
                .map(Effect::Timeline)
                .into_iter()
                .collect(),
            Action::NarrowTimeline => self
                .timeline
                .resize_span(-1)
                .map(Effect::Timeline)
                .into_iter()
                .collect(),
            Action::Refresh => {
                self.queue.unseen = 0;
                self.say("reloaded");
                self.reload_all()
            }
            Action::Help => {
                self.help = Some(0);
                Vec::new()
            }
            Action::Quit => vec![Effect::Quit],
            Action::Filter => {
                // The filter in force, and a space after it: what is typed next is another term.
                let mut text = self.queue.filter_text.clone();
                if !text.is_empty() {
                    text.push(' ');
                }
                self.prompt = Some(Prompt::new(PromptKind::Filter { error: None }, &text));
                Vec::new()
            }
            Action::CommandLine => {
                self.prompt = Some(Prompt::new(PromptKind::Command { error: None }, ""));
                Vec::new()
            }
            a @ (Action::Acknowledge
            | Action::MarkExpected
            | Action::MarkTruePositive
            | Action::Reopen
            | Action::AssignToMe
            | Action::Assign
            | Action::AddNote
            | Action::Export
            | Action::CopyId
            | Action::ToggleDetection
            | Action::CycleSensitivity
            | Action::ExcludeActor
            | Action::ExcludeObject
            | Action::RemoveExclusion) => self.on_triage_action(a),
            a @ (Action::TestIntegration
            | Action::ReplayDeadLetters
            | Action::ToggleIntegration
            | Action::CreateJiraIssue
            | Action::SendTo) => self.on_outbound_action(a),
            Action::SuspendActor => self.ask_access(Access::Suspend, None),
            Action::RestoreActor => self.ask_access(Access::Restore, None),
        }
    }

    fn on_help_action(&mut self, a: Action) -> Vec<Effect> {
        // The help's body shows the screen minus header, footer and its frame; it scrolls no further than
        // its last line at the bottom.
        let max = crate::tui::panes::help::line_count(self.width)
            .saturating_sub(usize::from(self.height.saturating_sub(5)));
        let scroll = self.help.unwrap_or(0).min(max);
        let clamp = |n: usize| Some(n.min(max));
        self.help = match a {
            // `q` closes the help like Esc: leaving the help is what a user means by it there, and quitting
            // the app from a reference screen would lose their place.
            Action::Help | Action::Back | Action::Quit => None,
            Action::NextRow => clamp(scroll + 1),
            Action::PrevRow => Some(scroll.saturating_sub(1)),
            Action::HalfPageDown => clamp(scroll + self.list_rows() / 2),
            Action::HalfPageUp => Some(scroll.saturating_sub(self.list_rows() / 2)),
            Action::FirstRow => Some(0),
            Action::LastRow => Some(max),
            // The help has the screen: every other action waits until it closes.
            Action::NextPane
            | Action::PrevPane
            | Action::ShowQueue
            | Action::ShowDetail
            | Action::ShowTimeline
            | Action::ShowDetections
            | Action::ShowIntegrations
            | Action::Open
            | Action::ToggleSelect
            | Action::ClearSelection
            | Action::Acknowledge
            | Action::MarkExpected
            | Action::MarkTruePositive
            | Action::Reopen
            | Action::AssignToMe
            | Action::Assign
            | Action::AddNote
            | Action::Export
            | Action::CopyId
            | Action::Filter
            | Action::CommandLine
            | Action::ToggleSort
            | Action::ShowMine
            | Action::WidenTimeline
            | Action::NarrowTimeline
            | Action::ToggleDetection
            | Action::CycleSensitivity
            | Action::ExcludeActor
            | Action::ExcludeObject
            | Action::RemoveExclusion
            | Action::TestIntegration
            | Action::ReplayDeadLetters
            | Action::ToggleIntegration
            | Action::CreateJiraIssue
            | Action::SendTo
            | Action::SuspendActor
            | Action::RestoreActor
            | Action::Refresh => Some(scroll),
        };
        Vec::new()
    }

    fn move_cursor(&mut self, delta: isize) -> Vec<Effect> {
        let rows = self.view_rows(self.pane);
        match self.pane {
            Pane::Queue => {
                self.queue.move_by(delta, rows);
                self.detail.scroll = 0;
                self.queue
                    .page_if_needed()
                    .map(Effect::Page)
                    .into_iter()
                    .collect()
            }
            Pane::Detail => {
                self.detail.scroll_by(delta);
                Vec::new()
            }
            Pane::Timeline => {
                self.timeline.move_by(delta, rows);
                Vec::new()
            }
            Pane::Detections => {
                self.detections.move_by(delta, rows);
                Vec::new()
            }
            Pane::Integrations => {
                self.integrations.move_by(delta, rows);
                Vec::new()
            }
        }
    }

    fn show(&mut self, pane: Pane) -> Vec<Effect> {
        if pane == Pane::Queue {
            self.detail.pinned = None;
        }
        self.pane = pane;
        match pane {
            Pane::Timeline => {
                let Some(alert) = self.current_alert().cloned() else {
                    self.complain("no alert selected: pick one in the queue first");
                    return Vec::new();
                };
                self.timeline
                    .focus(&alert)
                    .map(Effect::Timeline)
                    .into_iter()
                    .collect()
            }
            Pane::Detections => vec![Effect::Detections],
            Pane::Integrations => vec![Effect::Integrations],
            Pane::Queue | Pane::Detail => Vec::new(),
        }
    }

    fn open(&mut self) -> Vec<Effect> {
        match self.pane {
            Pane::Queue => {
                if self.queue.selected_alert().is_some() {
                    self.detail.scroll = 0;
                    self.pane = Pane::Detail;
                }
                Vec::new()
            }
            Pane::Timeline => {
                let rows = self.timeline.rows();
                let Some(row) = rows.get(self.timeline.selected).copied() else {
                    return Vec::new();
                };
                let alert = self.timeline.alert_for(row).cloned();
                match row {
                    TimelineRow::Alert(_) => alert.map(|a| self.pin(a)).unwrap_or_default(),
                    TimelineRow::Event(i) => {
                        if let Some(event) = self.timeline.events.get(i).cloned() {
                            self.event_view = Some(EventView {
                                event,
                                alert,
                                scroll: 0,
                            });
                        }
                        Vec::new()
                    }
                }
            }
            Pane::Detail | Pane::Detections | Pane::Integrations => Vec::new(),
        }
    }

    /// Show `alert` in the detail instead of the queue's selection, and reload it.
    fn pin(&mut self, alert: Alert) -> Vec<Effect> {
        let id = alert.id;
        self.detail.pinned = Some(alert);
        self.detail.scroll = 0;
        self.pane = Pane::Detail;
        vec![Effect::Alert(id)]
    }

    /// Keys while an event's fields are open: scroll, Enter to the alert it is evidence of, Esc (or `q`)
    /// closes; everything else waits.
    fn on_event_view_action(&mut self, a: Action) -> Vec<Effect> {
        let half = (self.list_rows() / 2).max(1);
        let Some(v) = &mut self.event_view else {
            return Vec::new();
        };
        match a {
            Action::NextRow => v.scroll += 1,
            Action::PrevRow => v.scroll = v.scroll.saturating_sub(1),
            Action::HalfPageDown => v.scroll += half,
            Action::HalfPageUp => v.scroll = v.scroll.saturating_sub(half),
            Action::FirstRow => v.scroll = 0,
            Action::LastRow => v.scroll = usize::MAX / 2,
            Action::Back | Action::Quit | Action::Help => self.event_view = None,
            Action::Open => {
                let alert = v.alert.clone();
                self.event_view = None;
                return match alert {
                    Some(a) => self.pin(a),
                    None => {
                        self.say("this event is not evidence of an alert in the timeline's window");
                        Vec::new()
                    }
                };
            }
            Action::CopyId => {
                let id = v.event.id.clone();
                self.say("event id copied");
                return vec![Effect::Copy(id)];
            }
            _ => {}
        }
        // Clamp at the last field (the pane shows as many as fit; the draw keeps the last one at the bottom).
        if let Some(v) = &mut self.event_view {
            let n = event_fields(&v.event).len();
            v.scroll = v.scroll.min(n.saturating_sub(1));
        }
        Vec::new()
    }

    /// `y` in the detail: offer the alert's id and its links, one key each. `false` when there is no link
    /// (then `y` copies the id at once, as in the queue).
    fn open_copy_menu(&mut self) -> bool {
        let Some(a) = self.current_alert() else {
            return false;
        };
        let ev = self.detail.evidence_of(a.id).and_then(|r| r.as_ref().ok());
        let links = alert_links(a, ev, self.org_id.as_deref());
        if links.is_empty() {
            return false;
        }
        let mut menu = vec![('i', "alert id".to_string(), a.id.to_string())];
        for (n, l) in links.into_iter().enumerate() {
            let key = char::from_digit(n as u32 + 1, 10).unwrap_or('?');
            menu.push((key, l.label.to_string(), l.url));
        }
        self.copy_menu = Some(menu);
        true
    }

    /// The key after `y` in the detail: copies what it names, anything else closes the menu.
    fn on_copy_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(menu) = self.copy_menu.take() else {
            return Vec::new();
        };
        self.dirty = true;
        let crossterm::event::KeyCode::Char(c) = key.code else {
            return Vec::new();
        };
        match menu.into_iter().find(|(k, _, _)| *k == c) {
            Some((_, label, text)) => {
                self.say(format!("{label} copied"));
                vec![Effect::Copy(text)]
            }
            None => Vec::new(),
        }
    }

    fn back(&mut self) -> Vec<Effect> {
        if self.pane != Pane::Queue {
            self.detail.pinned = None;
            self.pane = Pane::Queue;
        } else if !self.queue.marked.is_empty() {
            self.queue.marked.clear();
        } else {
            self.message = None;
        }
        Vec::new()
    }

    fn on_text_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if self.copy_menu.is_some() {
            return self.on_copy_key(key);
        }
        // Text and cursor live in the editor and the input, outside the stamp: a key they take redraws.
        if self.note.is_some() {
            self.dirty = true;
            return self.on_note_key(key);
        }
        if self.prompt.is_some() {
            self.dirty = true;
            return self.on_prompt_key(key);
        }
        Vec::new()
    }
}

/// Move a list cursor by `delta` rows within `len` (clamped) and scroll so it stays inside `view` rows.
/// Every list pane (queue, timeline, detections) moves the same way.
pub(crate) fn move_cursor(
    selected: &mut usize,
    offset: &mut usize,
    len: usize,
    delta: isize,
    view: usize,
) {
    *selected = selected
        .saturating_add_signed(delta)
        .min(len.saturating_sub(1));
    scroll_into_view(*selected, offset, view);
}

/// Scroll so that `selected` is inside the `view` rows starting at `offset`.
pub(crate) fn scroll_into_view(selected: usize, offset: &mut usize, view: usize) {
    let view = view.max(1);
    if selected < *offset {
        *offset = selected;
    } else if selected >= *offset + view {
        *offset = selected + 1 - view;
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use crossterm::event::KeyCode;

    use super::*;

    /// A fresh state with its first frame taken: clean.
    fn drawn() -> AppState {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 2, 12, 0, 0)
            .single()
            .expect("fixed time");
        let (mut s, _) = AppState::new("tester".into(), "t".into(), now);
        assert!(s.take_dirty(), "a fresh state has its first frame to draw");
        assert!(!s.is_dirty(), "taking the flag clears it");
        s
    }

    #[test]
    fn ignored_keys_ticks_and_unchanged_answers_leave_the_screen_clean() {
        let mut s = drawn();
        // What an unbound key sends (`App::on_key` on `Resolved::Unbound`).
        s.apply(Msg::Pending(None));
        assert!(!s.is_dirty(), "unbound key");
        // A raw key with no prompt or editor open: nobody takes it.
        s.apply(Msg::Key(KeyEvent::from(KeyCode::Char('x'))));
        assert!(!s.is_dirty(), "raw key without a text field");
        // Nothing on screen shows the clock.
        let later = s.now + chrono::Duration::seconds(1);
        s.apply(Msg::Tick(later));
        assert_eq!(s.now, later);
        assert!(!s.is_dirty(), "tick");
        s.apply(Msg::Stats(EngineStats::default()));
        assert!(!s.is_dirty(), "the same figures again");
        s.apply(Msg::Timeline {
            generation: 99,
            result: Err("late".into()),
        });
        assert!(!s.is_dirty(), "a stale timeline answer");
        s.apply(Msg::Detections(Vec::new()));
        s.apply(Msg::Integrations(Vec::new()));
        assert!(!s.is_dirty(), "the same (empty) lists again");
        let effects = s.apply(Msg::Change(Change::TuningChanged));
        assert_eq!(effects, vec![Effect::Detections]);
        assert!(!s.is_dirty(), "a feed fact that only asks for a reload");
        // The queue is empty: there is no row to move to.
        s.apply(Msg::Action(Action::NextRow));
        assert!(!s.is_dirty(), "j with nothing to move");
    }

    #[test]
    fn resizes_chords_panes_figures_and_help_mark_dirty() {
        let mut s = drawn();
        s.apply(Msg::Resize(120, 40));
        assert!(s.take_dirty(), "resize");
        s.apply(Msg::Resize(120, 40));
        assert!(s.take_dirty(), "a resize repaints even at the same size");
        s.apply(Msg::Pending(Some("g".into())));
        assert!(s.take_dirty(), "a chord's first key shows in the footer");
        s.apply(Msg::Pending(Some("g".into())));
        assert!(!s.take_dirty(), "the same chord again");
        s.apply(Msg::Action(Action::ShowDetections));
        assert!(s.take_dirty(), "another pane");
        s.apply(Msg::Stats(EngineStats {
            ingest_rate: 2.5,
            ..EngineStats::default()
        }));
        assert!(s.take_dirty(), "new figures in the header");
        s.apply(Msg::Change(Change::Notice("exported".into())));
        assert!(s.take_dirty(), "a notice in the footer");
        s.apply(Msg::Action(Action::Help));
        assert!(s.take_dirty(), "help opens");
        s.apply(Msg::Action(Action::ToggleSort));
        assert!(!s.take_dirty(), "an action the open help ignores");
        s.apply(Msg::Action(Action::NextRow));
        assert!(s.take_dirty(), "help scrolls");
    }

    #[test]
    fn a_paste_is_text_for_the_open_field_never_keys() {
        let mut s = drawn();
        // Nothing open: nothing happens but a notice.
        let effects = s.apply(Msg::Paste("at".into()));
        assert!(effects.is_empty());
        assert!(s.prompt.is_none());
        assert!(
            s.message
                .as_ref()
                .is_some_and(|m| m.text.contains("paste ignored"))
        );
        // Into the filter: one line, controls gone, nothing submitted.
        s.apply(Msg::Action(Action::Filter));
        let effects = s.apply(Msg::Paste("sev:low\nat\x1b[2J\u{7}".into()));
        assert!(effects.is_empty(), "{effects:?}");
        let typed = s.prompt.as_ref().map(|p| p.input.value().to_string());
        assert_eq!(typed.as_deref(), Some("sev:low at[2J"));
        // A 10 MB paste is cut, not taken whole.
        s.apply(Msg::Paste("y".repeat(10 << 20)));
        let len = s.prompt.as_ref().map_or(0, |p| p.input.value().len());
        assert!(len <= PASTE_MAX + 32, "{len}");
        assert!(
            s.message
                .as_ref()
                .is_some_and(|m| m.error && m.text.contains("cut"))
        );
    }

    #[test]
    fn the_flag_stays_set_until_taken() {
        let mut s = drawn();
        s.apply(Msg::Action(Action::ShowIntegrations));
        s.apply(Msg::Pending(None));
        assert!(
            s.is_dirty(),
            "a later no-op does not clear an earlier change"
        );
        s.mark_dirty();
        assert!(s.take_dirty());
        assert!(!s.take_dirty());
    }
}
