//! The detector: every enabled detection of the catalogue (plus custom content detections) run over events
//! in arrival order, one pure step at a time.
//!
//! Decisions (DESIGN §5 leaves them open):
//! - **Time, and order.** Only event time. Every detection and every alert group is per actor, so the result
//!   is defined per actor as: that actor's events in `(time, id)` order. The detector keeps each actor's
//!   *frontier* (the newest `(time, id)` it observed); an event at or behind its actor's frontier is not
//!   detected here but reported through [`Detector::take_late`], and the caller replays that actor's stored
//!   events in order ([`Detector::begin_replay`]) so the alerts come out as if the events had arrived in order.
//!   Cross-actor order never matters. Rules that forget (a login history after 90 days without a login, a
//!   travel position after 24 h) are applied at observe time, never by sweep timing, so batching cannot
//!   change a result.
//! - **Action aliases** (`Tuning.actions`, `[actions]`): the listed real keys are *added* to the catalogue
//!   key, which keeps counting; an entry `"!key"` removes `key` (so `page_viewed = ["!page_viewed",
//!   "confluence_page_viewed"]` replaces the default). A real key mapped to several catalogue keys of one
//!   detection counts once per event.
//! - **Bursts.** A threshold detection reports when the window count reaches the threshold: first a draft
//!   standing for the whole window, then one draft per further counted event (count 1) while the window stays
//!   at the threshold, all with the group key `"{detection}|{actor}"`. Crawling counts distinct objects, so
//!   viewing an already-counted page again neither counts nor continues the alert. A burst that dips below the
//!   threshold and comes back reports only what was not reported yet, so grouping never counts an event twice.
//! - **Grouping windows.** Threshold detections group over their window length; single-event detections over
//!   1 h (a flurry of the same admin change is one alert); login detections over 1 h; content over 24 h (the
//!   same secret on the same object, edited again the same day, is one alert).
//! - **State bounds.** Threshold windows: see `window.rs` (≤ threshold × 4 or 8 bytes). A sweep every
//!   [`SWEEP_EVERY`] events drops state idle for longer than it can matter plus [`SWEEP_SLACK_MS`] behind the
//!   newest event time: windows after their length, login histories after 90 days, travel positions after
//!   24 h. The actor's frontier remembers until when the dropped state could have mattered; an event of that
//!   actor before then is replayed, not guessed. Login history: at most [`MAX_COUNTRIES`] countries per actor
//!   (least recent evicted). Frontiers (an id and two times per actor) are kept.
//! - **Content.** Every event carrying `content` text is scanned (title and body) except reads
//!   (`*_viewed`), which would re-raise a page's secret once per reader.
//! - **Determinism.** Hash maps are only looked up, never iterated into output; saved state is sorted.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AlertDraft;
use super::catalogue::{
    self, AI_FRAGMENTS, AI_WORDS, COUNTRY_MEMORY_MS, DetectionKind, DetectionSpec, EventCondition,
    MAX_TRAVEL_KMH, MIN_PRIOR_LOGINS, MIN_TRAVEL_KM, SEARCH_QUERY_ATTRS, SENSITIVE_TERMS,
};
use super::content::{ContentScanner, Finding};
use super::tuning::{CustomDetection, Exclusion, ExclusionKind, Tuning};
use super::window::SlidingWindow;
use crate::model::{
    AlertActor, AuditEvent, ContentMatch, DetectionId, Severity, haversine_km, text,
};

/// How far behind the newest event time state must fall idle before a sweep drops it. An actor's event that
/// would have needed dropped state is replayed from the store instead (see [`Detector::take_late`]), so this
/// only trades memory against replays: time-ordered input never needs one.
pub const SWEEP_SLACK_MS: i64 = 5 * 60 * 1000;
/// Idle windows and histories are swept every this many events (amortised, O(live state) per sweep).
pub const SWEEP_EVERY: u64 = 4096;
/// Countries remembered per actor for `login-new-country`.
pub const MAX_COUNTRIES: usize = 16;
/// Beyond this, no pair of places on Earth is more than 900 km/h apart; older positions are forgotten.
const TRAVEL_MEMORY_MS: i64 = 24 * 3_600_000;
const HOUR_MS: i64 = 3_600_000;
const CONTENT_GROUP_MS: i64 = 24 * HOUR_MS;
const SUBJECT_MAX: usize = 200;

/// Counters the detector keeps about what it saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectorStats {
    /// Events that arrived at or behind their actor's newest (out of order): stored, and reported for replay.
    pub late_events: u64,
    /// Every event passed to `observe`, late ones included.
    #[serde(default)]
    pub events: u64,
    /// Drafts returned.
    #[serde(default)]
    pub drafts: u64,
    /// Windows dropped because their actor went idle.
    #[serde(default)]
    pub expired_windows: u64,
}

/// Why a detector could not be built from a tuning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectorError {
    /// The content scanners rejected the tuning (a custom detection's regex, usually).
    #[error("content scanning: {0}")]
    Content(String),
}

/// Extra condition an event must meet, beyond its action, to count for a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    None,
    /// `suspicious-search`: the query names a sensitive term.
    SensitiveQuery,
    /// `ai-agent-connected` via `oauth_app_authorized`: the client looks like an AI/MCP client.
    AiClient,
}

/// A catalogue detection compiled against the tuning.
#[derive(Debug)]
struct Det {
    spec: &'static DetectionSpec,
    id: DetectionId,
    enabled: bool,
    threshold: Option<u32>,
    window_ms: i64,
    exclusions: Vec<Exclusion>,
    /// Real action keys counted, sorted (for `AlertDraft::evidence_actions`).
    real_actions: Vec<String>,
}

/// A custom content detection compiled against the tuning.
#[derive(Debug)]
struct Custom {
    id: String,
    name: String,
    severity: Severity,
    exclusions: Vec<Exclusion>,
}

/// Everything derived from a `Tuning`; rebuilt on retune, while the state survives.
#[derive(Debug)]
struct Compiled {
    dets: Vec<Det>,
    /// Real action key → (detection index, filter), each detection once.
    by_action: HashMap<Box<str>, Vec<(u16, Filter)>>,
    /// Index of `sensitive-content` when enabled.
    content: Option<usize>,
    custom: Vec<Custom>,
    scanner: Option<ContentScanner>,
    sensitive: AhoCorasick,
}

/// Per-actor login history for `login-new-country`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LoginHistory {
    /// (country, last seen ms), at most [`MAX_COUNTRIES`].
    countries: Vec<(String, i64)>,
    logins: u32,
    last_ms: i64,
}

/// Last login position for `impossible-travel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LastLogin {
    lat: f64,
    lon: f64,
    t: i64,
    place: String,
    event: String,
}

/// Mutable detection state: what save/restore carries.
#[derive(Debug, Default)]
struct State {
    /// The newest event time observed; only ages out idle actors ([`STALE_MS`]).
    watermark: Option<i64>,
    since_sweep: u64,
    windows: HashMap<String, Vec<(u16, SlidingWindow)>>,
    logins: HashMap<String, LoginHistory>,
    travel: HashMap<String, LastLogin>,
    /// Actor → the newest event observed for it.
    frontiers: HashMap<String, Frontier>,
}

/// The newest `(time, id)` observed for one actor: events at or behind it are out of order for that actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Frontier {
    t: i64,
    id: String,
    /// A sweep dropped state of this actor that an event before this time would still need: such an event
    /// is replayed from the store.
    replay_before: i64,
}

/// A window as saved: keyed by detection id so catalogue order can change between versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SavedWindow {
    detection: String,
    actor: String,
    window: SlidingWindow,
}

/// Everything the detector remembers between events, serializable so the engine can persist it and a run
/// resumed from it raises exactly what one uninterrupted run would. Opaque: only the detector reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorState {
    /// Format version of this state; a detector ignores state of a version it does not know.
    pub version: u32,
    watermark_ms: Option<i64>,
    since_sweep: u64,
    stats: DetectorStats,
    windows: Vec<SavedWindow>,
    logins: Vec<(String, LoginHistory)>,
    travel: Vec<(String, LastLogin)>,
    #[serde(default)]
    frontiers: Vec<(String, Frontier)>,
}

/// Version 2 added per-actor frontiers; a version-1 state (one global watermark, whose lateness rule let a
/// single far-future event switch detection off) is not resumed.
const STATE_VERSION: u32 = 2;

/// Runs every enabled detection over events in arrival order. Build it once from the tuning; feed it every
/// stored event; hand its drafts to the grouping step.
#[derive(Debug)]
pub struct Detector {
    compiled: Compiled,
    state: State,
    stats: DetectorStats,
    key: Vec<u8>,
    /// What [`Detector::redact_event`] found in events not yet observed, by event id, so that each string is
    /// scanned once: `observe` raises its alerts from these instead of scanning the redacted text. Only events
    /// with findings have an entry, so the common case allocates nothing.
    found: HashMap<String, Vec<Found>>,
    /// Set by the first [`Detector::redact_event`]: from then on the caller redacts every event before
    /// observing it, and an event without an entry in `found` was scanned and holds nothing.
    redacts_first: bool,
    /// Actors that received an out-of-order event since the last [`Detector::take_late`], with the oldest
    /// such event time.
    late: std::collections::BTreeMap<String, i64>,
    /// While replaying an actor: counters and sweeps stay as they were.
    replaying: bool,
}

/// One finding and the field of the event it was found in (`title`, `body`, `message`, `actor.name`…).
type Found = (String, Finding);

/// Most events redacted and not yet observed whose findings are kept: a caller observes what it redacted
/// right away, so this only bounds memory should one not.
const MAX_PENDING: usize = 16_384;

/// Shortest string any built-in secret scanner can report (a `pwd=` assignment of 8 characters, an SSN
/// with its keyword): shorter strings outside the content text are not scanned.
pub const MIN_SECRET_TEXT: usize = 12;

/// Replace each `(start, end, redacted)` span of `text`, from the end so earlier offsets stay valid; overlaps
/// and spans off a character boundary are skipped. Returns how many were replaced.
fn apply_redactions(text: &mut String, mut findings: Vec<(usize, usize, String)>) -> usize {
    findings.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut floor = usize::MAX;
    let mut n = 0;
    for (start, end, redacted) in findings {
        if end <= floor
            && start < end
            && end <= text.len()
            && text.is_char_boundary(start)
            && text.is_char_boundary(end)
        {
            text.replace_range(start..end, &redacted);
            floor = start;
            n += 1;
        }
    }
    n
}

/// Which findings are secrets to redact from stored text: credentials, financial and identity numbers. The
/// e-mail count and custom terms are not secrets and stay readable.
fn is_secret(f: &Finding) -> bool {
    matches!(
        f.category,
        crate::detect::content::Category::Credentials
            | crate::detect::content::Category::Financial
            | crate::detect::content::Category::Identity
    ) && f.scanner != "email-addresses"
}

impl Detector {
    /// Build from tuning and the store's fingerprint key (content findings are fingerprinted with it so the
    /// same secret groups without being stored).
    pub fn new(tuning: &Tuning, fingerprint_key: &[u8]) -> Result<Self, DetectorError> {
        Ok(Self {
            compiled: compile(tuning, fingerprint_key)?,
            state: State::default(),
            stats: DetectorStats::default(),
            key: fingerprint_key.to_vec(),
            found: HashMap::new(),
            redacts_first: false,
            late: std::collections::BTreeMap::new(),
            replaying: false,
        })
    }

    /// Apply a new tuning, keeping the state: it takes effect on the next event. Windows of detections now
    /// disabled are dropped (a disabled detection keeps no state).
    pub fn retune(&mut self, tuning: &Tuning) -> Result<(), DetectorError> {
        self.compiled = compile(tuning, &self.key)?;
        self.drop_disabled_state();
        Ok(())
    }

    /// Replace every secret the content scanners find in any stored string of the event (content, message,
    /// names, entity attributes, location, kept unknown fields: [`AuditEvent::visit_text`]) by its redacted
    /// form, so that neither the stored copy nor anything derived from it (alerts, detector state, logs)
    /// holds it in full. Custom terms and the e-mail-count finding are not secrets and stay.
    ///
    /// Call it before [`Detector::observe`] on the same event: each string is scanned once, here, and what
    /// was found is kept for `observe` to raise `sensitive-content` from, since the redacted text no longer
    /// holds it. Once a detector has redacted, it expects every event to be redacted before it is observed.
    /// Returns how many secrets were replaced.
    pub fn redact_event(&mut self, event: &mut AuditEvent) -> usize {
        self.redacts_first = true;
        let Some(scanner) = &self.compiled.scanner else {
            return 0;
        };
        let mut found: Vec<Found> = Vec::new();
        let mut n = 0;
        // An event redacted before (held in a sort run): its text no longer shows the secrets it had.
        let kept: Vec<Found> = kept_findings(scanner, event).collect();
        event.visit_text_mut(|field, text| {
            let content_text = field.is_content_text();
            if text.is_empty() || (!content_text && text.len() < MIN_SECRET_TEXT) {
                return;
            }
            let findings = scanner.scan(text);
            if findings.is_empty() {
                return;
            }
            let spans = findings
                .iter()
                .filter(|f| is_secret(f))
                .map(|f| (f.start, f.end, f.redacted.clone()))
                .collect();
            n += apply_redactions(text, spans);
            // Outside the content text only secrets count: a custom term in a site name is not content.
            found.extend(
                findings
                    .into_iter()
                    .filter(|f| content_text || is_secret(f))
                    .map(|f| (field.to_string(), f)),
            );
        });
        found.extend(kept);
        // Kept with the stored copy (redacted form and fingerprint only), so that re-detection from that copy
        // raises the same content alerts.
        for (field, f) in found.iter().filter(|(_, f)| is_secret(f)) {
            if !event
                .secrets
                .iter()
                .any(|m| m.kind == f.scanner && m.fingerprint == f.fingerprint && m.field == *field)
            {
                event.secrets.push(ContentMatch {
                    kind: f.scanner.clone(),
                    redacted: f.redacted.clone(),
                    fingerprint: f.fingerprint.clone(),
                    field: field.clone(),
                });
            }
        }
        if !found.is_empty() {
            if self.found.len() >= MAX_PENDING {
                self.found.clear();
            }
            self.found.insert(event.id.clone(), found);
        }
        n
    }

    /// Redact an event that is held elsewhere before it is observed (written to a sort run): its secrets are
    /// replaced and kept on the event itself, nothing is kept here. The [`Detector::redact_event`] that comes
    /// before observing it then finds them there, so the alerts are those of an event redacted once.
    pub fn redact_held(&mut self, event: &mut AuditEvent) -> usize {
        let n = self.redact_event(event);
        self.found.remove(&event.id);
        n
    }

    /// A copy of `text` with every secret the content scanners find replaced by its redacted form, or `None`
    /// when there is none. For text kept outside an event — a quarantined record's raw bytes, a refusal reason
    /// quoting a value — which must not hold a secret in full either.
    pub fn redact_text(&self, text: &str) -> Option<String> {
        let scanner = self.compiled.scanner.as_ref()?;
        let findings: Vec<(usize, usize, String)> = scanner
            .scan(text)
            .into_iter()
            .filter(is_secret)
            .map(|f| (f.start, f.end, f.redacted))
            .collect();
        if findings.is_empty() {
            return None;
        }
        let mut out = text.to_string();
        apply_redactions(&mut out, findings);
        Some(out)
    }

    /// What the scanners found in `event`: kept by [`Detector::redact_event`], or `None` when this detector
    /// does not redact first and `observe` must scan the event itself.
    fn take_found(&mut self, event: &AuditEvent) -> Option<Vec<Found>> {
        match self.found.remove(&event.id) {
            Some(found) => Some(found),
            None => self.redacts_first.then(Vec::new),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &DetectorStats {
        &self.stats
    }

    /// The newest event time seen, the reference for lateness and expiry.
    pub fn watermark(&self) -> Option<DateTime<Utc>> {
        self.state
            .watermark
            .and_then(DateTime::from_timestamp_millis)
    }

    /// Windows currently held (for the status bar and memory tests).
    pub fn live_windows(&self) -> usize {
        self.state.windows.values().map(Vec::len).sum()
    }

    /// The pure step: what this event makes the detections raise or grow. An event at or behind its actor's
    /// frontier (or one that needs state dropped for idleness) raises nothing here: it is recorded for
    /// [`Detector::take_late`] and its actor must be replayed.
    pub fn observe(&mut self, event: &AuditEvent) -> Vec<AlertDraft> {
        // A replayed event is a stored (redacted) copy: content() scans it and adds the secrets kept beside it.
        let found = if self.replaying {
            None
        } else {
            self.take_found(event)
        };
        let t = event.time_ms();
        if !self.replaying {
            self.stats.events += 1;
        }
        if let Some(f) = self.state.frontiers.get_mut(event.actor.id.as_str()) {
            let behind = (t, event.id.as_str()) <= (f.t, f.id.as_str());
            if behind || t < f.replay_before {
                if !self.replaying {
                    self.stats.late_events += 1;
                }
                self.late
                    .entry(event.actor.id.clone())
                    .and_modify(|m| *m = (*m).min(t))
                    .or_insert(t);
                return Vec::new();
            }
            f.t = t;
            f.id.clone_from(&event.id);
        } else {
            self.state.frontiers.insert(
                event.actor.id.clone(),
                Frontier {
                    t,
                    id: event.id.clone(),
                    replay_before: i64::MIN,
                },
            );
        }
        if self.state.watermark.is_none_or(|w| t > w) {
            self.state.watermark = Some(t);
        }
        if !self.replaying {
            self.state.since_sweep += 1;
            if self.state.since_sweep >= SWEEP_EVERY {
                self.sweep();
            }
        }

        let mut out = Vec::new();
        let Self {
            compiled, state, ..
        } = self;
        if let Some(list) = compiled.by_action.get(event.action.as_str()) {
            for &(idx, filter) in list {
                let Some(det) = compiled.dets.get(usize::from(idx)) else {
                    continue;
                };
                if excluded(&det.exclusions, event) {
                    continue;
                }
                match det.spec.kind {
                    DetectionKind::Threshold { distinct, .. } => {
                        if filter == Filter::SensitiveQuery
                            && !sensitive_query(&compiled.sensitive, event)
                        {
                            continue;
                        }
                        threshold(det, idx, distinct, state, event, &mut out);
                    }
                    DetectionKind::Single => {
                        if filter == Filter::AiClient && !ai_client(event) {
                            continue;
                        }
                        out.push(single(det, event));
                    }
                    DetectionKind::LoginNewCountry => new_country(det, state, event, &mut out),
                    DetectionKind::ImpossibleTravel => travel(det, state, event, &mut out),
                    DetectionKind::Content => {}
                }
            }
        }
        // Reads do not write text: scanning every view of a page would re-raise its author's secret once per
        // reader. What is written (created, updated, commented, prompted…) is scanned.
        if !event.action.ends_with("_viewed") {
            content(compiled, event, found, &mut out);
        }
        if !self.replaying {
            self.stats.drafts += out.len() as u64;
        }
        out
    }

    /// Actors that received out-of-order events since the last call, each with its oldest such event time,
    /// sorted by actor. Replay each ([`Detector::begin_replay`]) to make its alerts what in-order arrival gives.
    pub fn take_late(&mut self) -> Vec<(String, i64)> {
        std::mem::take(&mut self.late).into_iter().collect()
    }

    /// Forget everything about `actor` so that its stored events, fed to [`Detector::observe`] in
    /// `(time, id)` order, rebuild its state from nothing; until [`Detector::end_replay`] counters and sweeps
    /// stand still. Other actors are untouched: results are per actor.
    pub fn begin_replay(&mut self, actor: &str) {
        self.replaying = true;
        self.state.windows.remove(actor);
        self.state.logins.remove(actor);
        self.state.travel.remove(actor);
        self.state.frontiers.remove(actor);
        self.late.remove(actor);
    }

    /// End a replay: the actor's state is now what in-order arrival of its stored events leaves.
    pub fn end_replay(&mut self) {
        self.replaying = false;
    }

    /// Drop every actor's state whose frontier is past `limit` (a detector clock an implausible event moved,
    /// written by an older version); returns those actors, whose stored events should be replayed.
    pub fn forget_beyond(&mut self, limit_ms: i64) -> Vec<String> {
        let mut gone: Vec<String> = self
            .state
            .frontiers
            .iter()
            .filter(|(_, f)| f.t > limit_ms)
            .map(|(a, _)| a.clone())
            .collect();
        gone.sort();
        for a in &gone {
            self.state.windows.remove(a);
            self.state.logins.remove(a);
            self.state.travel.remove(a);
            self.state.frontiers.remove(a);
        }
        if self.state.watermark.is_some_and(|w| w > limit_ms) {
            self.state.watermark = self.state.frontiers.values().map(|f| f.t).max();
        }
        gone
    }

    /// Everything needed to resume detection later exactly where it stopped.
    pub fn save_state(&self) -> DetectorState {
        let mut windows: Vec<SavedWindow> = self
            .state
            .windows
            .iter()
            .flat_map(|(actor, ws)| {
                ws.iter().filter_map(|(idx, w)| {
                    let det = self.compiled.dets.get(usize::from(*idx))?;
                    Some(SavedWindow {
                        detection: det.spec.id.to_string(),
                        actor: actor.clone(),
                        window: w.clone(),
                    })
                })
            })
            .collect();
        windows.sort_by(|a, b| (&a.actor, &a.detection).cmp(&(&b.actor, &b.detection)));
        let mut logins: Vec<_> = self
            .state
            .logins
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        logins.sort_by(|a, b| a.0.cmp(&b.0));
        let mut travel: Vec<_> = self
            .state
            .travel
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        travel.sort_by(|a, b| a.0.cmp(&b.0));
        let mut frontiers: Vec<_> = self
            .state
            .frontiers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        frontiers.sort_by(|a, b| a.0.cmp(&b.0));
        DetectorState {
            version: STATE_VERSION,
            watermark_ms: self.state.watermark,
            since_sweep: self.state.since_sweep,
            stats: self.stats.clone(),
            windows,
            logins,
            travel,
            frontiers,
        }
    }

    /// Replace the state with a saved one (typically right after `new`). State of another format version is
    /// ignored (detection starts fresh), as is state of detections the current tuning disables.
    pub fn restore_state(&mut self, saved: DetectorState) {
        if saved.version != STATE_VERSION {
            return;
        }
        let mut state = State {
            watermark: saved.watermark_ms,
            since_sweep: saved.since_sweep,
            ..State::default()
        };
        for sw in saved.windows {
            if let Some(idx) = self
                .compiled
                .dets
                .iter()
                .position(|d| d.spec.id == sw.detection)
                && let Ok(idx) = u16::try_from(idx)
            {
                state
                    .windows
                    .entry(sw.actor)
                    .or_default()
                    .push((idx, sw.window));
            }
        }
        for ws in state.windows.values_mut() {
            ws.sort_by_key(|(i, _)| *i);
        }
        state.logins = saved.logins.into_iter().collect();
        state.travel = saved.travel.into_iter().collect();
        state.frontiers = saved.frontiers.into_iter().collect();
        self.state = state;
        self.stats = saved.stats;
        self.drop_disabled_state();
    }

    fn drop_disabled_state(&mut self) {
        let dets = &self.compiled.dets;
        let enabled = |id: &str| dets.iter().any(|d| d.enabled && d.spec.id == id);
        self.state.windows.retain(|_, ws| {
            ws.retain(|(i, _)| dets.get(usize::from(*i)).is_some_and(|d| d.enabled));
            !ws.is_empty()
        });
        if !enabled("login-new-country") {
            self.state.logins.clear();
        }
        if !enabled("impossible-travel") {
            self.state.travel.clear();
        }
    }

    /// Drop state idle for longer than it can matter (plus [`SWEEP_SLACK_MS`]) behind the newest event time,
    /// to bound memory; each actor's frontier records until when the dropped state could still have mattered.
    fn sweep(&mut self) {
        self.state.since_sweep = 0;
        let Some(w) = self.state.watermark else {
            return;
        };
        let State {
            windows,
            logins,
            travel,
            frontiers,
            ..
        } = &mut self.state;
        let mut mark = |actor: &str, needed_until: i64| {
            if let Some(f) = frontiers.get_mut(actor) {
                f.replay_before = f.replay_before.max(needed_until);
            }
        };
        let dets = &self.compiled.dets;
        let mut expired = 0u64;
        windows.retain(|actor, ws| {
            ws.retain(|(i, win)| {
                let window_ms = dets.get(usize::from(*i)).map_or(0, |d| d.window_ms);
                let idle = win.is_idle(w, window_ms, SWEEP_SLACK_MS);
                if idle {
                    expired += 1;
                    if let Some(n) = win.newest_ms() {
                        mark(actor, n.saturating_add(window_ms));
                    }
                }
                !idle
            });
            !ws.is_empty()
        });
        self.stats.expired_windows += expired;
        let login_horizon = w
            .saturating_sub(COUNTRY_MEMORY_MS)
            .saturating_sub(SWEEP_SLACK_MS);
        logins.retain(|actor, h| {
            let keep = h.last_ms > login_horizon;
            if !keep {
                mark(actor, h.last_ms.saturating_add(COUNTRY_MEMORY_MS));
            }
            keep
        });
        let travel_horizon = w
            .saturating_sub(TRAVEL_MEMORY_MS)
            .saturating_sub(SWEEP_SLACK_MS);
        travel.retain(|actor, l| {
            let keep = l.t > travel_horizon;
            if !keep {
                mark(actor, l.t.saturating_add(TRAVEL_MEMORY_MS));
            }
            keep
        });
    }
}

fn compile(tuning: &Tuning, key: &[u8]) -> Result<Compiled, DetectorError> {
    let mut dets = Vec::with_capacity(catalogue::catalogue().len());
    let mut by_action: HashMap<Box<str>, Vec<(u16, Filter)>> = HashMap::new();
    let mut content = None;
    for (i, spec) in catalogue::catalogue().iter().enumerate() {
        let settings = tuning.settings(spec.id);
        let Ok(idx) = u16::try_from(i) else { break };
        let mut real_actions = Vec::new();
        if settings.enabled {
            for &cat_key in spec.actions {
                let filter = match spec.condition {
                    EventCondition::SensitiveQuery => Filter::SensitiveQuery,
                    EventCondition::AiClient { actions } if actions.contains(&cat_key) => {
                        Filter::AiClient
                    }
                    _ => Filter::None,
                };
                for real in resolve_aliases(tuning, cat_key) {
                    let list = by_action.entry(real.clone().into_boxed_str()).or_default();
                    match list.iter_mut().find(|(d, _)| *d == idx) {
                        // Counted once; the least restrictive filter wins.
                        Some(entry) if filter == Filter::None => entry.1 = Filter::None,
                        Some(_) => {}
                        None => list.push((idx, filter)),
                    }
                    real_actions.push(real);
                }
            }
            if spec.kind == DetectionKind::Content {
                content = Some(i);
            }
        }
        real_actions.sort_unstable();
        real_actions.dedup();
        dets.push(Det {
            spec,
            id: DetectionId(spec.id.to_string()),
            enabled: settings.enabled,
            threshold: spec.kind.threshold(settings.sensitivity),
            window_ms: spec
                .kind
                .window_secs()
                .map_or(HOUR_MS, |s| i64::try_from(s).unwrap_or(i64::MAX) * 1000),
            exclusions: settings.exclusions,
            real_actions,
        });
    }
    let custom: Vec<Custom> = tuning
        .custom
        .iter()
        .filter(|c| c.enabled)
        .map(|c: &CustomDetection| {
            let id = catalogue::custom_detection_id(&c.name);
            let settings = tuning.settings(&id);
            Custom {
                name: c.name.clone(),
                severity: c.severity,
                exclusions: settings.exclusions,
                id,
            }
        })
        .filter(|c| tuning.settings(&c.id).enabled)
        .collect();
    let scanner = if content.is_some() || !custom.is_empty() {
        Some(ContentScanner::new(tuning, key).map_err(DetectorError::Content)?)
    } else {
        None
    };
    let sensitive = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(SENSITIVE_TERMS)
        .map_err(|e| DetectorError::Content(e.to_string()))?;
    Ok(Compiled {
        dets,
        by_action,
        content,
        custom,
        scanner,
        sensitive,
    })
}

/// The real keys counting as catalogue key `cat_key`: the key itself, plus the aliases, minus `!key` entries.
fn resolve_aliases(tuning: &Tuning, cat_key: &str) -> Vec<String> {
    let mut keys = vec![cat_key.to_string()];
    if let Some(list) = tuning.actions.get(cat_key) {
        for k in list.iter().filter(|k| !k.starts_with('!')) {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        keys.retain(|k| !list.iter().any(|x| x.strip_prefix('!') == Some(k.as_str())));
    }
    keys
}

fn excluded(exclusions: &[Exclusion], e: &AuditEvent) -> bool {
    exclusions.iter().any(|x| {
        x.until.is_none_or(|u| e.time < u)
            && match x.kind {
                ExclusionKind::Actor => e.actor.id == x.value,
                ExclusionKind::Container => e
                    .container_key()
                    .is_some_and(|k| k.eq_ignore_ascii_case(&x.value)),
                ExclusionKind::Object => e.object_id() == Some(x.value.as_str()),
            }
    })
}

/// 32-bit FNV-1a of an object id: deterministic across processes (saved state must mean the same thing
/// after a restart), with about a 1 in 100,000 chance that two of 400 pages in one window collide.
fn item_hash(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn threshold(
    det: &Det,
    idx: u16,
    distinct: bool,
    state: &mut State,
    e: &AuditEvent,
    out: &mut Vec<AlertDraft>,
) {
    let Some(threshold) = det.threshold else {
        return;
    };
    let cap = usize::try_from(threshold).unwrap_or(usize::MAX).max(1);
    let t = e.time_ms();
    // An object-less view is counted as its own object: missing data must not hide a crawl.
    let item = if distinct {
        item_hash(e.object_id().unwrap_or(&e.id))
    } else {
        0
    };
    let windows = match state.windows.get_mut(e.actor.id.as_str()) {
        Some(ws) => ws,
        None => state.windows.entry(e.actor.id.clone()).or_default(),
    };
    let pos = match windows.iter().position(|(i, _)| *i == idx) {
        Some(p) => p,
        None => {
            windows.push((idx, SlidingWindow::new(t, det.window_ms, distinct)));
            windows.len() - 1
        }
    };
    let Some((_, window)) = windows.get_mut(pos) else {
        return;
    };
    window.trim(cap);
    if !window.observe(t, item, det.window_ms, cap) || window.len() < cap {
        return;
    }
    let Some(burst) = window.take_unreported() else {
        return;
    };
    let mut d = base_draft(det, e);
    d.group_window_ms = det.window_ms;
    d.count = burst.count;
    d.time_start = DateTime::from_timestamp_millis(burst.first_ms).unwrap_or(e.time);
    d.time_end = DateTime::from_timestamp_millis(burst.last_ms).filter(|end| *end > d.time_start);
    d.threshold = Some(u64::from(threshold));
    d.window_secs = det.spec.kind.window_secs();
    d.subject = if det.spec.condition == EventCondition::SensitiveQuery {
        search_query_text(e).map(short)
    } else {
        None
    };
    out.push(d);
}

fn single(det: &Det, e: &AuditEvent) -> AlertDraft {
    let mut d = base_draft(det, e);
    d.subject = setting_subject(e);
    d
}

fn new_country(det: &Det, state: &mut State, e: &AuditEvent, out: &mut Vec<AlertDraft>) {
    let t = e.time_ms();
    let country = e.country().map(str::trim).filter(|c| !c.is_empty());
    let h = match state.logins.get_mut(e.actor.id.as_str()) {
        Some(h) => h,
        None => state
            .logins
            .entry(e.actor.id.clone())
            .or_insert(LoginHistory {
                countries: Vec::new(),
                logins: 0,
                last_ms: t,
            }),
    };
    // Forgotten after 90 days without a login, decided here (not by when a sweep ran) so that batching and
    // arrival order cannot change it.
    if h.last_ms < t.saturating_sub(COUNTRY_MEMORY_MS) {
        h.countries.clear();
        h.logins = 0;
        h.last_ms = t;
    }
    if let Some(c) = country {
        let seen = h
            .countries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(c));
        let recent = seen
            .as_ref()
            .is_some_and(|(_, last)| *last > t.saturating_sub(COUNTRY_MEMORY_MS));
        if !recent && h.logins >= MIN_PRIOR_LOGINS {
            let mut d = base_draft(det, e);
            d.group_window_ms = HOUR_MS;
            d.subject = Some(short(
                match e.location.as_ref().and_then(|l| l.city.as_deref()) {
                    Some(city) => format!("{c} ({city})"),
                    None => c.to_string(),
                },
            ));
            out.push(d);
        }
        match seen {
            Some((_, last)) => *last = (*last).max(t),
            None => {
                if h.countries.len() >= MAX_COUNTRIES
                    && let Some(oldest) = h
                        .countries
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, (_, l))| *l)
                        .map(|(i, _)| i)
                {
                    h.countries.swap_remove(oldest);
                }
                h.countries.push((c.to_string(), t));
            }
        }
    }
    h.logins = h.logins.saturating_add(1);
    h.last_ms = h.last_ms.max(t);
}

fn travel(det: &Det, state: &mut State, e: &AuditEvent, out: &mut Vec<AlertDraft>) {
    let Some((lat, lon)) = e.coordinates() else {
        return;
    };
    let t = e.time_ms();
    let place = place_name(e);
    if let Some(prev) = state
        .travel
        .get(e.actor.id.as_str())
        .filter(|p| p.t >= t.saturating_sub(TRAVEL_MEMORY_MS))
    {
        let km = haversine_km(prev.lat, prev.lon, lat, lon);
        let dt_ms = t.abs_diff(prev.t);
        let impossible = km >= MIN_TRAVEL_KM
            && (dt_ms == 0 || km / (dt_ms as f64 / 3_600_000.0) > MAX_TRAVEL_KMH);
        if impossible {
            let mut d = base_draft(det, e);
            d.group_window_ms = HOUR_MS;
            let (from, to) = if prev.t <= t {
                (&prev.place, &place)
            } else {
                (&place, &prev.place)
            };
            d.subject = Some(short(format!(
                "{from} → {to}: {km:.0} km in {}",
                duration_text(dt_ms)
            )));
            d.time_start = DateTime::from_timestamp_millis(prev.t.min(t)).unwrap_or(e.time);
            d.time_end =
                DateTime::from_timestamp_millis(prev.t.max(t)).filter(|x| *x > d.time_start);
            d.evidence = vec![prev.event.clone(), e.id.clone()];
            out.push(d);
        }
        if prev.t > t {
            return;
        }
    }
    state.travel.insert(
        e.actor.id.clone(),
        LastLogin {
            lat,
            lon,
            t,
            place,
            event: e.id.clone(),
        },
    );
}

/// Findings of one (detection id, fingerprint), each with the field it was found in.
type FindingGroup<'a> = (String, String, Vec<&'a Found>);

/// Every finding in the event's strings: all of them in the content's title and body, secrets elsewhere.
fn scan_event(scanner: &ContentScanner, e: &AuditEvent) -> Vec<Found> {
    let mut found = Vec::new();
    e.visit_text(|field, text| {
        let content_text = field.is_content_text();
        if text.is_empty() || (!content_text && text.len() < MIN_SECRET_TEXT) {
            return;
        }
        found.extend(
            scanner
                .scan(text)
                .into_iter()
                .filter(|f| content_text || is_secret(f))
                .map(|f| (field.to_string(), f)),
        );
    });
    found
}

/// The secrets a redacted copy of `e` keeps beside its text ([`AuditEvent::secrets`]), as findings of the
/// scanners still enabled: what a scan of the redacted text can no longer see.
fn kept_findings<'a>(
    scanner: &'a ContentScanner,
    e: &'a AuditEvent,
) -> impl Iterator<Item = Found> + 'a {
    e.secrets.iter().filter_map(move |kept| {
        let info = super::content::scanner_info(&kept.kind)?;
        scanner.is_enabled(info.id).then(|| {
            (
                kept.field.clone(),
                Finding {
                    scanner: kept.kind.clone(),
                    category: info.category,
                    severity: info.severity,
                    start: 0,
                    end: 0,
                    redacted: kept.redacted.clone(),
                    fingerprint: kept.fingerprint.clone(),
                },
            )
        })
    })
}

/// Raise drafts for what the scanners found in the event (`found`, from [`Detector::redact_event`]; scanned
/// here when `None`): in the content text, and secrets anywhere else — a key in a page title, a message or
/// an entity name is as leaked as one in a body. Content findings group by object and fingerprint; the
/// object of an event without content is its context object, else its space or project, else none (the
/// actor is always part of the key).
fn content(
    compiled: &Compiled,
    e: &AuditEvent,
    found: Option<Vec<Found>>,
    out: &mut Vec<AlertDraft>,
) {
    let Some(scanner) = &compiled.scanner else {
        return;
    };
    let hits = match found {
        Some(found) => found,
        None => {
            // Scanning the event as it is: the original (tests), or a stored copy whose secrets are redacted
            // and kept beside it (re-detection), which are added back here.
            let mut hits = scan_event(scanner, e);
            hits.extend(kept_findings(scanner, e));
            hits
        }
    };
    if hits.is_empty() {
        return;
    }
    let title_hit = hits.iter().any(|(field, _)| field == "title");
    let object = e.object_id().or_else(|| e.container_key()).unwrap_or("-");
    // Group by (detection, fingerprint) in order of first appearance: deterministic, one draft each.
    let mut groups: Vec<FindingGroup<'_>> = Vec::new();
    for hit in &hits {
        let det_id = if hit.1.scanner.starts_with("custom:") {
            hit.1.scanner.clone()
        } else {
            "sensitive-content".to_string()
        };
        match groups
            .iter_mut()
            .find(|(d, fp, _)| *d == det_id && *fp == hit.1.fingerprint)
        {
            Some(g) => g.2.push(hit),
            None => groups.push((det_id, hit.1.fingerprint.clone(), vec![hit])),
        }
    }
    for (det_id, fingerprint, group) in groups {
        let severity = group
            .iter()
            .map(|(_, f)| f.severity)
            .max()
            .unwrap_or(Severity::Medium);
        let mut matches: Vec<ContentMatch> = Vec::new();
        for (field, f) in &group {
            if !matches
                .iter()
                .any(|m| m.kind == f.scanner && m.field == *field)
            {
                matches.push(ContentMatch {
                    kind: f.scanner.clone(),
                    redacted: f.redacted.clone(),
                    fingerprint: f.fingerprint.clone(),
                    field: (*field).to_string(),
                });
            }
        }
        let mut d = if det_id == "sensitive-content" {
            let Some(det) = compiled.content.and_then(|i| compiled.dets.get(i)) else {
                continue;
            };
            if excluded(&det.exclusions, e) {
                continue;
            }
            let mut d = base_draft(det, e);
            let mut kinds: Vec<&str> = Vec::new();
            for m in &matches {
                if !kinds.contains(&m.kind.as_str()) {
                    kinds.push(m.kind.as_str());
                }
            }
            d.title = format!("{}: {}", det.spec.title, kinds.join(", "));
            d.severity = severity;
            d
        } else {
            let Some(spec) = catalogue::spec("sensitive-content") else {
                continue;
            };
            let custom = compiled.custom.iter().find(|c| c.id == det_id);
            let Some(custom) = custom else { continue };
            if excluded(&custom.exclusions, e) {
                continue;
            }
            let mut d = draft_from(spec, DetectionId(custom.id.clone()), e);
            d.title = custom.name.clone();
            d.description = format!(
                "Content matched the custom detection '{}', which your organization defined for text it wants \
                 to know about.",
                custom.name
            );
            // The organization chose this severity; it wins over whatever the scanner reports.
            d.severity = custom.severity;
            d
        };
        d.group_key = format!("{det_id}|{}|{object}|{fingerprint}", e.actor.id);
        d.group_window_ms = CONTENT_GROUP_MS;
        d.matches = matches;
        // The title itself may hold the secret: then name the object instead. Without content, name the
        // action and the fields that held it (their text may be the secret).
        d.subject = match (&e.content, title_hit) {
            (Some(c), false) if c.title.as_ref().is_some_and(|t| !t.trim().is_empty()) => {
                c.title.clone().map(short)
            }
            (Some(c), _) => Some(format!(
                "{} {object}",
                c.object_type.as_deref().unwrap_or("object")
            )),
            (None, _) => {
                let mut fields: Vec<&str> = Vec::new();
                for (field, _) in &group {
                    if !fields.contains(&field.as_str()) {
                        fields.push(field);
                    }
                }
                Some(short(format!("{}: {}", e.action, fields.join(", "))))
            }
        };
        out.push(d);
    }
}

fn base_draft(det: &Det, e: &AuditEvent) -> AlertDraft {
    let mut d = draft_from(det.spec, det.id.clone(), e);
    d.evidence_actions = det.real_actions.clone();
    d
}

fn draft_from(spec: &'static DetectionSpec, id: DetectionId, e: &AuditEvent) -> AlertDraft {
    AlertDraft {
        group_key: format!("{}|{}", id.as_str(), e.actor.id),
        detection: id,
        title: spec.title.to_string(),
        severity: spec.severity,
        created: e.time,
        time_start: e.time,
        time_end: None,
        count: 1,
        actor: AlertActor {
            id: e.actor.id.clone(),
            name: e.actor.name.clone(),
            email: e.actor.email.clone(),
            ip: e.location.as_ref().and_then(|l| l.ip.clone()),
            country: e.country().map(str::to_string),
        },
        subject: None,
        product: e.product().map(str::to_string),
        site: e.site().map(str::to_string),
        description: spec.description.to_string(),
        investigation_steps: spec
            .investigation_steps
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        remediation: spec.remediation.iter().map(|s| (*s).to_string()).collect(),
        evidence: vec![e.id.clone()],
        evidence_actions: vec![e.action.clone()],
        matches: Vec::new(),
        window_secs: None,
        threshold: None,
        group_window_ms: HOUR_MS,
    }
}

fn short(s: String) -> String {
    text::truncate(s.trim(), SUBJECT_MAX)
}

/// The setting or target a single-event detection is about: the first context entity's name or e-mail,
/// else its id, else the message.
fn setting_subject(e: &AuditEvent) -> Option<String> {
    e.context
        .iter()
        .find_map(|c| {
            ["name", "displayName", "email", "appName", "domain", "title"]
                .iter()
                .find_map(|k| c.attr(k))
                .or(c.id.as_deref())
        })
        .or_else(|| e.message.as_ref().and_then(|m| m.content.as_deref()))
        .or_else(|| e.content.as_ref().and_then(|c| c.title.as_deref()))
        .filter(|s| !s.trim().is_empty())
        .map(|s| short(s.to_string()))
}

fn query_texts(e: &AuditEvent) -> impl Iterator<Item = &str> {
    e.context
        .iter()
        .flat_map(|c| SEARCH_QUERY_ATTRS.iter().filter_map(|k| c.attr(k)))
        .chain(e.message.as_ref().and_then(|m| m.content.as_deref()))
}

fn search_query_text(e: &AuditEvent) -> Option<String> {
    query_texts(e).next().map(str::to_string)
}

/// Whether any query text names a sensitive term at the start of a word (`ssn` must be a whole word).
fn sensitive_query(ac: &AhoCorasick, e: &AuditEvent) -> bool {
    query_texts(e).any(|q| {
        let b = q.as_bytes();
        ac.find_overlapping_iter(q).any(|m| {
            let left = m.start() == 0 || !b[m.start() - 1].is_ascii_alphanumeric();
            let whole = SENSITIVE_TERMS[m.pattern().as_usize()] != "ssn"
                || b.get(m.end()).is_none_or(|c| !c.is_ascii_alphanumeric());
            left && whole
        })
    })
}

/// Whether an authorized OAuth client looks like an AI agent or MCP client, from the names the event gives.
fn ai_client(e: &AuditEvent) -> bool {
    let mut texts: Vec<&str> = Vec::new();
    for c in &e.context {
        texts.extend(c.id.as_deref());
        texts.extend(c.attributes.values().filter_map(|v| v.as_str()));
    }
    if let Some(auth) = e.actor.auth.as_ref().and_then(|a| a.as_object()) {
        texts.extend(auth.values().filter_map(|v| v.as_str()));
    }
    texts.extend(e.message.as_ref().and_then(|m| m.content.as_deref()));
    texts.into_iter().any(|s| {
        let lower = s.to_ascii_lowercase();
        AI_FRAGMENTS.iter().any(|f| lower.contains(f))
            || lower.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
                AI_WORDS.contains(&w)
                    || (w.starts_with("gpt")
                        && w[3..].bytes().all(|b| b.is_ascii_digit() || b == b'o'))
            })
    })
}

fn place_name(e: &AuditEvent) -> String {
    match e.city_and_country() {
        Some(named) => text::truncate(&named, 80),
        None => e
            .location
            .as_ref()
            .and_then(|l| l.ip.clone().or_else(|| l.geo.clone()))
            .unwrap_or_else(|| "unknown place".to_string()),
    }
}

fn duration_text(ms: u64) -> String {
    let mins = ms / 60_000;
    match (mins / 60, mins % 60) {
        (0, 0) => "under a minute".to_string(),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let syd_lon = haversine_km(-33.87, 151.21, 51.51, -0.13);
        assert!((16_900.0..17_100.0).contains(&syd_lon), "{syd_lon}");
        let syd_mel = haversine_km(-33.87, 151.21, -37.81, 144.96);
        assert!((700.0..730.0).contains(&syd_mel), "{syd_mel}");
    }

    #[test]
    fn aliases_add_and_exclude() {
        let mut t = Tuning::default();
        t.actions
            .insert("page_viewed".into(), vec!["confluence_page_viewed".into()]);
        assert_eq!(
            resolve_aliases(&t, "page_viewed"),
            vec!["page_viewed", "confluence_page_viewed"]
        );
        t.actions.insert(
            "page_viewed".into(),
            vec!["!page_viewed".into(), "x".into()],
        );
        assert_eq!(resolve_aliases(&t, "page_viewed"), vec!["x"]);
        assert_eq!(resolve_aliases(&t, "issue_viewed"), vec!["issue_viewed"]);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_text(0), "under a minute");
        assert_eq!(duration_text(3_600_000), "1 h");
        assert_eq!(duration_text(5_400_000), "1 h 30 min");
    }
}
