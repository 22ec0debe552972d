//! `vigil generate`: a deterministic synthetic organization (people, sites, Confluence spaces and pages, Jira
//! projects and issues) whose audit events stream out in the DESIGN §3 shape, with planted incidents the
//! detection catalogue of DESIGN §5 must find and decoys it must not.
//!
//! Contract, relied on by tests and by the demo:
//! - The same [`GenerateOptions`] give byte-identical output: a private PRNG (not `rand`, whose algorithms may
//!   change), no wall clock, no hash-map iteration.
//! - `events: N` yields exactly N lines. Planted incident and decoy events count towards N; the benign
//!   background fills the rest. An incident that does not fit in the budget is not planted (and so is not in
//!   [`GenerateSummary::planted`]); decoys take at most a quarter of the budget.
//! - Times never decrease and stay inside `start .. start + days`.
//! - Benign activity stays under every threshold of the `more` sensitivity, so the only alerts at default
//!   sensitivity are the planted ones: exactly one per [`PlantedIncident`] (detection, actor).
//!
//! Uses nothing but `model`-level crates (serde_json for tests, chrono for times); no I/O beyond the writer
//! handed to [`write_jsonl`].

mod json;
mod org;
mod rng;
mod secrets;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt::Write as _;
use std::io::Write;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use org::{CITIES, Org, SITES};
use rng::{Rng, mix};

/// The detection ids of DESIGN §5, in catalogue order: incidents are planted round-robin over this list.
pub const CATALOGUE: &[&str] = &[
    "page-crawling",
    "issue-crawling",
    "suspicious-search",
    "bulk-export",
    "mass-download",
    "mass-deletion",
    "failed-login-burst",
    "login-new-country",
    "impossible-travel",
    "admin-impersonation",
    "org-admin-granted",
    "auth-policy-weakened",
    "two-step-disabled",
    "ip-allowlist-changed",
    "verified-domain-changed",
    "admin-api-key-created",
    "user-api-token-created",
    "data-security-policy-changed",
    "classification-lowered",
    "public-link-enabled",
    "site-export",
    "app-installed",
    "ai-agent-connected",
    "audit-stream-changed",
    "sensitive-content",
];

/// What to generate. Every field takes part in the output, so two runs with equal options are identical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateOptions {
    /// Exact number of lines written, planted events included.
    pub events: u64,
    /// Everything random (people, homes, times, secrets) derives from it; the CLI's `--seed`.
    pub seed: u64,
    /// Incidents to plant, round-robin over [`CATALOGUE`].
    pub incidents: u32,
    /// First instant of the span; a fixed date by default because the generator never reads the clock.
    pub start: DateTime<Utc>,
    /// Length of the span in days (at least 1).
    pub days: u32,
}

/// 2026-10-01T00:00:00Z, the default start of the span.
pub fn default_start() -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_812_800, 0)
        .single()
        .unwrap_or_default()
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            events: 100_000,
            seed: 1,
            incidents: 0,
            start: default_start(),
            days: 30,
        }
    }
}

/// An incident the generator planted: at default sensitivity exactly one alert of `detection` about
/// `actor_id` is expected for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlantedIncident {
    /// Catalogue id (DESIGN §5), as the alert's `detection` will read.
    pub detection: String,
    /// Account id of the actor the alert will be about.
    pub actor_id: String,
    /// Event time at which the alert should fire: the event that crosses the default threshold, or the
    /// single activity itself.
    pub time: DateTime<Utc>,
}

/// What [`write_jsonl`] produced: the line count and the expected alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateSummary {
    /// Lines written: always `GenerateOptions::events`.
    pub events: u64,
    /// The alerts a default-sensitivity run must raise, one per entry, in planting order.
    pub planted: Vec<PlantedIncident>,
}

/// Settings for [`Generator::live_with`]: an endless stream for the demo, paced in event time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// Same meaning as [`GenerateOptions::seed`]: the same seed gives the same people as a batch.
    pub seed: u64,
    /// Event time of the first event.
    pub start: DateTime<Utc>,
    /// Mean event-time gap between benign events, in ms (at least 1).
    pub step_ms: u64,
    /// Event time between planted incidents, in ms; bursts are compressed to fit half of it.
    pub incident_every_ms: u64,
}

impl LiveOptions {
    /// Two events a second and an incident every 20 s of event time: lively enough for a demo queue.
    pub fn new(seed: u64, start: DateTime<Utc>) -> Self {
        Self {
            seed,
            start,
            step_ms: 500,
            incident_every_ms: 20_000,
        }
    }
}

/// Stream `opts.events` JSON lines into `out`, one event per line, holding only the current line in memory.
pub fn write_jsonl(
    opts: &GenerateOptions,
    out: &mut impl Write,
) -> std::io::Result<GenerateSummary> {
    let mut generator = Generator::new(opts);
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut line = String::with_capacity(2048);
    let mut n = 0u64;
    while generator.next_into(&mut line).is_some() {
        line.push('\n');
        w.write_all(line.as_bytes())?;
        n += 1;
    }
    w.flush()?;
    Ok(GenerateSummary {
        events: n,
        planted: generator.planted().to_vec(),
    })
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// First users: background people who are never incident actors nor decoys, so benign traffic always has
/// someone free to act.
const BACKGROUND: usize = 12;
/// Decoy users, one per near-threshold behaviour.
const DECOYS: usize = 7;
/// Incident actors are taken from here on.
const POOL: usize = BACKGROUND + DECOYS;
/// No benign activity for an incident actor this long before and after the incident, so its counts are
/// exactly the planted ones and login history around it is known.
const BLACKOUT: i64 = 6 * HOUR;
/// Benign travel is never faster than this (an impossible-travel check fires at 900 km/h).
const BENIGN_KMH: f64 = 300.0;

/// Per-actor caps on benign activity: (limit, window). Each window is a little longer than the detection's,
/// each limit well under the `more` threshold (100 / 100 / 5 / 50 / 10 / 5).
const CAPS: [(usize, i64); 6] = [
    (40, 11 * MINUTE), // distinct pages viewed
    (40, 11 * MINUTE), // distinct issues viewed
    (2, 65 * MINUTE),  // exports
    (15, 11 * MINUTE), // attachment downloads
    (2, 11 * MINUTE),  // deletions
    (2, 11 * MINUTE),  // failed logins
];
const CAP_VIEW: usize = 0;
const CAP_ISSUE: usize = 1;
const CAP_EXPORT: usize = 2;
const CAP_DOWNLOAD: usize = 3;
const CAP_DELETE: usize = 4;
const CAP_FAILED: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    PageCreated,
    PageUpdated,
    BlogCreated,
    Comment,
    IssueCreated,
    IssueUpdated,
    AiPrompt,
}

/// One event to render, by reference into the organization; cheap to queue by the thousand.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Spec {
    View {
        user: u32,
        page: u32,
    },
    IssueView {
        user: u32,
        issue: u32,
    },
    Search {
        user: u32,
        query: &'static str,
    },
    Export {
        user: u32,
        page: u32,
    },
    Download {
        user: u32,
        page: u32,
        att: u8,
    },
    Delete {
        user: u32,
        page: u32,
    },
    Login {
        user: u32,
        city: u8,
    },
    LoginFailed {
        user: u32,
        city: u8,
    },
    Write {
        user: u32,
        kind: WriteKind,
        obj: u32,
        secret: Option<Box<str>>,
    },
    Admin {
        user: u32,
        action: &'static str,
        target: u32,
    },
}

impl Spec {
    fn user(&self) -> usize {
        match self {
            Spec::View { user, .. }
            | Spec::IssueView { user, .. }
            | Spec::Search { user, .. }
            | Spec::Export { user, .. }
            | Spec::Download { user, .. }
            | Spec::Delete { user, .. }
            | Spec::Login { user, .. }
            | Spec::LoginFailed { user, .. }
            | Spec::Write { user, .. }
            | Spec::Admin { user, .. } => *user as usize,
        }
    }
}

/// A planted event waiting in the merge heap, ordered by time then planting order.
#[derive(Debug)]
struct Planted {
    time: i64,
    seq: u64,
    spec: Spec,
}

impl PartialEq for Planted {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Planted {}
impl PartialOrd for Planted {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Planted {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// What the generator remembers about each person while streaming.
#[derive(Debug, Clone)]
struct UserState {
    /// Where requests currently come from: the city of the last successful login.
    city: usize,
    last_login: Option<(i64, usize)>,
    logins: u32,
    caps: [VecDeque<i64>; 6],
    /// Sorted, non-overlapping intervals with no benign activity.
    blackout: Vec<(i64, i64)>,
    blackout_at: usize,
}

impl UserState {
    fn blocked(&mut self, t: i64) -> bool {
        while self.blackout_at < self.blackout.len() && self.blackout[self.blackout_at].1 < t {
            self.blackout_at += 1;
        }
        self.blackout
            .get(self.blackout_at)
            .is_some_and(|b| b.0 <= t)
    }

    fn admit(&mut self, cap: usize, t: i64) -> bool {
        let (limit, window) = CAPS[cap];
        let q = &mut self.caps[cap];
        while q.front().is_some_and(|&x| x <= t - window) {
            q.pop_front();
        }
        if q.len() < limit {
            q.push_back(t);
            true
        } else {
            false
        }
    }
}

/// Benign event times for a batch: the budget spread over hours by a working-hours weight, evenly (with jitter)
/// inside each hour, so times never decrease.
#[derive(Debug)]
struct Schedule {
    start: i64,
    cum: Vec<u64>,
    total: u64,
    benign: u64,
    hour: usize,
    i: u64,
    k: u64,
}

impl Schedule {
    fn new(start: i64, hours: usize, benign: u64) -> Schedule {
        let mut cum = Vec::with_capacity(hours + 1);
        cum.push(0u64);
        let mut acc = 0u64;
        for h in 0..hours {
            let t = start + h as i64 * HOUR;
            let days = t.div_euclid(DAY);
            let hour = t.rem_euclid(DAY) / HOUR;
            let weekend = matches!((days + 4).rem_euclid(7), 0 | 6);
            let w = match hour {
                7..=19 => 20,
                20..=23 => 10,
                _ => 5,
            };
            acc += if weekend { w / 5 } else { w };
            cum.push(acc);
        }
        let mut s = Schedule {
            start,
            cum,
            total: acc.max(1),
            benign,
            hour: 0,
            i: 0,
            k: 0,
        };
        s.k = s.count(0);
        s
    }

    fn count(&self, h: usize) -> u64 {
        let f = |c: u64| (u128::from(self.benign) * u128::from(c) / u128::from(self.total)) as u64;
        match (self.cum.get(h), self.cum.get(h + 1)) {
            (Some(&a), Some(&b)) => f(b) - f(a),
            _ => 0,
        }
    }

    /// Benign events in the busiest hour, to size the organization.
    fn peak(&self) -> u64 {
        (0..self.cum.len() - 1)
            .map(|h| self.count(h))
            .max()
            .unwrap_or(0)
    }

    fn next(&mut self, rng: &mut Rng) -> Option<i64> {
        while self.i >= self.k {
            self.hour += 1;
            if self.hour + 1 >= self.cum.len() {
                return None;
            }
            self.i = 0;
            self.k = self.count(self.hour);
        }
        let slot = (self.i as f64 + rng.unit()) * HOUR as f64 / self.k as f64;
        self.i += 1;
        Some(self.start + self.hour as i64 * HOUR + (slot as i64).min(HOUR - 1))
    }
}

#[derive(Debug)]
enum Mode {
    Batch {
        schedule: Schedule,
        next: Option<i64>,
    },
    Live {
        next: i64,
        step: i64,
        every: i64,
        next_incident: i64,
        k: u64,
        cursor: usize,
    },
}

/// The streaming generator. Yields one JSON line (no trailing newline) per event; see the module docs for
/// the guarantees. Use [`Generator::next_into`] in hot loops to reuse one buffer.
pub struct Generator {
    org: Org,
    geo: Vec<String>,
    rng: Rng,
    plan_rng: Rng,
    mode: Mode,
    heap: BinaryHeap<Reverse<Planted>>,
    seq: u64,
    users: Vec<UserState>,
    planted: Vec<PlantedIncident>,
    id_key: u64,
    counter: u64,
    scratch: String,
    last_time: i64,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("users", &self.org.users.len())
            .field("emitted", &self.counter)
            .field("pending_planted", &self.heap.len())
            .finish_non_exhaustive()
    }
}

/// Events one planted incident of catalogue entry `det` costs.
fn incident_cost(det: usize) -> u64 {
    match CATALOGUE[det] {
        "page-crawling" | "issue-crawling" => 250,
        "suspicious-search" => org::SENSITIVE_QUERIES.len() as u64,
        "bulk-export" | "failed-login-burst" => 12,
        "mass-download" => 120,
        "mass-deletion" => 30,
        "login-new-country" => 7,
        "impossible-travel" => 2,
        _ => 1,
    }
}

/// Action keys a single-activity detection is planted with, rotating by round.
fn admin_actions(detection: &str) -> &'static [&'static str] {
    match detection {
        "admin-impersonation" => &["user_logged_in_as_user"],
        "org-admin-granted" => &["org_admin_role_granted", "site_admin_role_granted"],
        "auth-policy-weakened" => &[
            "authentication_policy_updated",
            "two_step_enforcement_disabled",
            "sso_disabled",
        ],
        "two-step-disabled" => &["user_two_step_disabled"],
        "ip-allowlist-changed" => &["ip_allowlist_updated", "ip_allowlist_removed"],
        "verified-domain-changed" => &["domain_verified", "domain_removed"],
        "admin-api-key-created" => &["admin_api_key_created"],
        "user-api-token-created" => &["api_token_created"],
        "data-security-policy-changed" => &[
            "data_security_policy_updated",
            "data_security_policy_deactivated",
            "data_security_policy_deleted",
        ],
        "classification-lowered" => &["classification_level_decreased"],
        "public-link-enabled" => &["public_link_enabled", "anonymous_access_enabled"],
        "site-export" => &["site_export_started", "site_backup_created"],
        "app-installed" => &["app_installed", "app_removed"],
        "ai-agent-connected" => &["mcp_server_connected"],
        "audit-stream-changed" => &["audit_log_webhook_updated", "audit_log_webhook_deleted"],
        _ => &[],
    }
}

/// Benign organization chores: admin actions no detection watches.
const CHORES: &[&str] = &[
    "user_invited",
    "group_created",
    "user_added_to_group",
    "product_access_granted",
];

fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Generator {
    /// A finite generator for `opts`: plans incidents and decoys up front (their events are the only thing
    /// held in memory), then merges them with the benign background in time order.
    pub fn new(opts: &GenerateOptions) -> Generator {
        let days = opts.days.max(1);
        let start = opts.start.timestamp_millis();
        let span = i64::from(days) * DAY;
        let plan_rng = Rng::new(opts.seed, 2);

        // Decide what is planted first: the benign budget is what is left.
        let n = opts.incidents as usize;
        let mut budget = opts.events;
        let mut dets = Vec::with_capacity(n);
        for i in 0..n {
            let det = i % CATALOGUE.len();
            let cost = incident_cost(det);
            if cost > budget {
                break;
            }
            budget -= cost;
            dets.push(det);
        }
        const DECOY_COST: u64 = 99 + 99 + 5 + 4 + 9 + 49 + 2;
        let mut decoy_rounds = 0u64;
        let wanted_rounds = u64::from(days / 7).max(1);
        while decoy_rounds < wanted_rounds
            && (decoy_rounds + 1) * DECOY_COST <= opts.events / 4
            && DECOY_COST <= budget
        {
            budget -= DECOY_COST;
            decoy_rounds += 1;
        }

        let schedule = Schedule::new(start, days as usize * 24, budget);
        let by_rate = (schedule.peak() as usize * 2).div_ceil(30);
        let user_count = by_rate
            .max(64)
            .max(POOL + dets.len() + 16)
            .min(2_000.max(POOL + dets.len() + 16));
        let mut org_rng = Rng::new(opts.seed, 1);
        let org = Org::build(user_count, &mut org_rng);

        let mut g = Generator::with_org(org, opts.seed);
        g.plan_rng = plan_rng;
        g.mode = Mode::Batch {
            schedule,
            next: None,
        };

        // Incidents, spread over the span after a warm-up (login history) and before a tail (bursts finish).
        let warm = DAY.min(span / 3);
        let tail = 2 * HOUR;
        let usable = (span - warm - tail).max(HOUR);
        let mut used = vec![false; user_count];
        let mut cursor = POOL;
        for (i, &det) in dets.iter().enumerate() {
            let t = start + warm + usable * (2 * i as i64 + 1) / (2 * dets.len() as i64);
            let needs_far = CATALOGUE[det] == "impossible-travel";
            let mut u = cursor;
            while u < user_count
                && (used[u] || (needs_far && CITIES[g.org.users[u].home].far.is_none()))
            {
                u += 1;
            }
            if u >= user_count {
                // Cannot happen with POOL + incidents + 16 users and most homes having a far city; be safe.
                u = (POOL..user_count).find(|&x| !used[x]).unwrap_or(POOL);
            }
            used[u] = true;
            while cursor < user_count && used[cursor] {
                cursor += 1;
            }
            g.org.users[u].travels = false;
            g.plant(det, i / CATALOGUE.len(), u, t, start, None);
        }
        for r in 0..decoy_rounds {
            let base = start + span * (2 * r as i64 + 1) / (2 * decoy_rounds as i64);
            g.plant_decoys(base, start + span - HOUR);
        }
        for s in &mut g.users {
            s.blackout.sort_unstable();
        }
        if let Mode::Batch { schedule, next } = &mut g.mode {
            *next = schedule.next(&mut g.rng);
        }
        g
    }

    /// An endless generator for the demo with [`LiveOptions::new`] defaults.
    pub fn live(seed: u64, start: DateTime<Utc>) -> Generator {
        Self::live_with(&LiveOptions::new(seed, start))
    }

    /// An endless generator: benign events every `step_ms` of event time on average and an incident every
    /// `incident_every_ms`, bursts compressed to fit. Planted incidents appear in [`Generator::planted`] about
    /// one interval before their events. Login detections are best-effort here: the actor must already have
    /// a login history in the stream, and a new-country login that is also too fast is recorded as both.
    pub fn live_with(opts: &LiveOptions) -> Generator {
        let mut org_rng = Rng::new(opts.seed, 1);
        let org = Org::build(64, &mut org_rng);
        let mut g = Generator::with_org(org, opts.seed);
        let start = opts.start.timestamp_millis();
        let every = i64::try_from(opts.incident_every_ms.max(1_000)).unwrap_or(20_000);
        g.mode = Mode::Live {
            next: start,
            step: i64::try_from(opts.step_ms.max(1)).unwrap_or(500),
            every,
            next_incident: start + every,
            k: 0,
            cursor: POOL,
        };
        g
    }

    /// Carry on as a live stream once a batch is exhausted: same people, same login histories and locations,
    /// so a demo can load a month of history and then keep going with incidents every `incident_every_ms`.
    /// Event time resumes where the batch stopped (or at `start` of the batch if it wrote nothing).
    pub fn then_live(mut self, step_ms: u64, incident_every_ms: u64) -> Generator {
        let resume = match &self.mode {
            Mode::Batch { schedule, .. } if self.last_time == i64::MIN => schedule.start,
            _ => self.last_time,
        };
        let every = i64::try_from(incident_every_ms.max(1_000)).unwrap_or(20_000);
        self.mode = Mode::Live {
            next: resume,
            step: i64::try_from(step_ms.max(1)).unwrap_or(500),
            every,
            next_incident: resume + every,
            k: 0,
            cursor: POOL,
        };
        self
    }

    fn with_org(org: Org, seed: u64) -> Generator {
        let geo = CITIES
            .iter()
            .map(|c| format!("{:.4},{:.4}", c.lat, c.lon))
            .collect();
        let users = org
            .users
            .iter()
            .map(|u| UserState {
                city: u.home,
                last_login: None,
                logins: 0,
                caps: Default::default(),
                blackout: Vec::new(),
                blackout_at: 0,
            })
            .collect();
        Generator {
            org,
            geo,
            rng: Rng::new(seed, 3),
            plan_rng: Rng::new(seed, 2),
            mode: Mode::Batch {
                schedule: Schedule::new(0, 0, 0),
                next: None,
            },
            heap: BinaryHeap::new(),
            seq: 0,
            users,
            planted: Vec::new(),
            id_key: mix(seed ^ 0x1d_c0de),
            counter: 0,
            scratch: String::with_capacity(256),
            last_time: i64::MIN,
        }
    }

    /// Incidents planned so far, in planting order: all of them for a batch, a growing list when live.
    pub fn planted(&self) -> &[PlantedIncident] {
        &self.planted
    }

    /// Write the next event into `buf` (cleared first) and return its event time; `None` when a batch is done.
    pub fn next_into(&mut self, buf: &mut String) -> Option<DateTime<Utc>> {
        let benign_t = match &mut self.mode {
            Mode::Batch { next, .. } => *next,
            Mode::Live { next, .. } => Some(*next),
        };
        let planted_t = self.heap.peek().map(|p| p.0.time);
        let use_planted = match (planted_t, benign_t) {
            (Some(p), Some(b)) => p <= b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let t;
        let spec;
        if use_planted {
            let Reverse(p) = self.heap.pop()?;
            t = p.time;
            spec = p.spec;
        } else {
            t = benign_t?;
            self.advance_benign(t);
            spec = self.benign(t);
        }
        self.render(t, &spec, buf);
        self.last_time = self.last_time.max(t);
        Some(ms_to_time(t))
    }

    fn advance_benign(&mut self, t: i64) {
        let mut plan_live = None;
        match &mut self.mode {
            Mode::Batch { schedule, next } => *next = schedule.next(&mut self.rng),
            Mode::Live {
                next,
                step,
                next_incident,
                every,
                ..
            } => {
                *next = t + *step / 2 + self.rng.below(*step as u64 + 1) as i64;
                if t + *every >= *next_incident {
                    plan_live = Some(*next_incident);
                    *next_incident += *every;
                }
            }
        }
        if let Some(at) = plan_live {
            self.plan_live(at, t);
        }
    }

    fn plan_live(&mut self, at: i64, now: i64) {
        let Mode::Live {
            every, k, cursor, ..
        } = &mut self.mode
        else {
            return;
        };
        let every = *every;
        let n = self.users.len();
        for _ in 0..CATALOGUE.len() {
            let det = (*k as usize) % CATALOGUE.len();
            let round = *k as usize / CATALOGUE.len();
            *k += 1;
            let name = CATALOGUE[det];
            let ok = |u: usize, users: &[UserState], org: &Org| match name {
                "login-new-country" => users[u].logins >= 5 && users[u].city == org.users[u].home,
                "impossible-travel" => {
                    CITIES[org.users[u].home].far.is_some() && users[u].city == org.users[u].home
                }
                _ => true,
            };
            let found = (0..n - POOL)
                .map(|j| POOL + (*cursor - POOL + j) % (n - POOL))
                .find(|&u| ok(u, &self.users, &self.org));
            if let Some(u) = found {
                *cursor = POOL + (u - POOL + 1) % (n - POOL);
                let (first, last) = self.plant(det, round, u, at, now, Some(every / 2));
                let s = &mut self.users[u];
                let from = now.max(s.blackout.last().map_or(i64::MIN, |b| b.1 + 1));
                s.blackout.push((from, last.max(first) + 10 * MINUTE));
                return;
            }
        }
    }

    /// Plant incident `det` for user `u` at `t`; returns the time span of its events. In batch mode
    /// (`compress` is `None`) it also blacks the actor out around it.
    fn plant(
        &mut self,
        det: usize,
        round: usize,
        u: usize,
        t: i64,
        start: i64,
        compress: Option<i64>,
    ) -> (i64, i64) {
        let name = CATALOGUE[det];
        let user = u as u32;
        let actor_id = self.org.users[u].id.clone();
        let record = |planted: &mut Vec<PlantedIncident>, detection: &str, at: i64| {
            planted.push(PlantedIncident {
                detection: detection.to_string(),
                actor_id: actor_id.clone(),
                time: ms_to_time(at),
            })
        };
        let dur = |d: i64| compress.map_or(d, |c| d.min(c));
        let pages = Org::page_count() as u64;
        let mut events: Vec<(i64, Spec)> = Vec::new();
        let mut fire_at = t;
        let mut burst = |rng: &mut Rng,
                         n: usize,
                         span: i64,
                         threshold: usize,
                         f: &mut dyn FnMut(&mut Rng, usize) -> Spec| {
            let gap = (span / n as i64).max(1);
            let mut fire = t;
            for j in 0..n {
                let at = t + j as i64 * gap + rng.below((gap / 2).max(1) as u64) as i64;
                if j + 1 == threshold {
                    fire = at;
                }
                events.push((at, f(rng, j)));
            }
            fire
        };
        match name {
            "page-crawling" => {
                let off = self.plan_rng.below(pages);
                fire_at = burst(
                    &mut self.plan_rng,
                    250,
                    dur(8 * MINUTE),
                    200,
                    &mut |_, j| Spec::View {
                        user,
                        page: ((off + j as u64) % pages) as u32,
                    },
                );
            }
            "issue-crawling" => {
                let issues = Org::issue_count() as u64;
                let off = self.plan_rng.below(issues);
                fire_at = burst(
                    &mut self.plan_rng,
                    250,
                    dur(8 * MINUTE),
                    200,
                    &mut |_, j| Spec::IssueView {
                        user,
                        issue: ((off + j as u64) % issues) as u32,
                    },
                );
            }
            "suspicious-search" => {
                let q = org::SENSITIVE_QUERIES;
                fire_at = burst(
                    &mut self.plan_rng,
                    q.len(),
                    dur(40 * MINUTE),
                    10,
                    &mut |_, j| Spec::Search { user, query: q[j] },
                );
            }
            "bulk-export" => {
                let off = self.plan_rng.below(pages);
                fire_at = burst(&mut self.plan_rng, 12, dur(30 * MINUTE), 10, &mut |_, j| {
                    Spec::Export {
                        user,
                        page: ((off + j as u64 * 7) % pages) as u32,
                    }
                });
            }
            "mass-download" => {
                let off = self.plan_rng.below(pages);
                fire_at = burst(
                    &mut self.plan_rng,
                    120,
                    dur(8 * MINUTE),
                    100,
                    &mut |_, j| Spec::Download {
                        user,
                        page: ((off + j as u64 / 3) % pages) as u32,
                        att: (j % 3) as u8,
                    },
                );
            }
            "mass-deletion" => {
                let off = self.plan_rng.below(pages);
                fire_at = burst(&mut self.plan_rng, 30, dur(8 * MINUTE), 25, &mut |_, j| {
                    Spec::Delete {
                        user,
                        page: ((off + j as u64) % pages) as u32,
                    }
                });
            }
            "failed-login-burst" => {
                let city = org::ATTACKER_CITIES[round % org::ATTACKER_CITIES.len()] as u8;
                fire_at = burst(&mut self.plan_rng, 12, dur(5 * MINUTE), 10, &mut |_, _| {
                    Spec::LoginFailed { user, city }
                });
            }
            "login-new-country" => {
                let home = self.org.users[u].home;
                if compress.is_none() {
                    // Six home logins spaced out before the incident: the "long history" the detection needs.
                    let last = t - BLACKOUT;
                    let gap = (20 * HOUR).min((last - start) / 6).max(MINUTE);
                    for j in 0..6i64 {
                        let at = (last - gap * (5 - j)).max(start);
                        events.push((
                            at,
                            Spec::Login {
                                user,
                                city: home as u8,
                            },
                        ));
                    }
                }
                let abroad = CITIES[home].abroad;
                events.push((
                    t,
                    Spec::Login {
                        user,
                        city: abroad as u8,
                    },
                ));
                // Live: no room for a blackout, so a new-country login that is also too fast counts twice.
                if compress.is_some()
                    && let Some((lt, lc)) = self.users[u].last_login
                    && org::distance_km(lc, abroad) > 900.0 * (t - lt) as f64 / HOUR as f64
                {
                    record(&mut self.planted, "impossible-travel", t);
                }
            }
            "impossible-travel" => {
                let home = self.org.users[u].home;
                let far = CITIES[home].far.unwrap_or(org::ATTACKER_CITIES[0]);
                let before = if compress.is_some() {
                    3_000
                } else {
                    30 * MINUTE
                };
                events.push((
                    t - before,
                    Spec::Login {
                        user,
                        city: home as u8,
                    },
                ));
                events.push((
                    t,
                    Spec::Login {
                        user,
                        city: far as u8,
                    },
                ));
            }
            "sensitive-content" => {
                let kind = secrets::KINDS[round % secrets::KINDS.len()];
                let secret = secrets::sentence(kind, &mut self.plan_rng).into_boxed_str();
                let kinds = [
                    WriteKind::PageCreated,
                    WriteKind::Comment,
                    WriteKind::AiPrompt,
                    WriteKind::IssueCreated,
                    WriteKind::PageUpdated,
                    WriteKind::BlogCreated,
                ];
                let kind = kinds[round % kinds.len()];
                let bound = if matches!(kind, WriteKind::IssueCreated) {
                    Org::issue_count()
                } else {
                    Org::page_count()
                };
                let obj = self.plan_rng.below(bound as u64) as u32;
                events.push((
                    t,
                    Spec::Write {
                        user,
                        kind,
                        obj,
                        secret: Some(secret),
                    },
                ));
            }
            other => {
                let actions = admin_actions(other);
                let action = actions
                    .get(round % actions.len().max(1))
                    .copied()
                    .unwrap_or("org_admin_role_granted");
                let target = self.plan_rng.below(BACKGROUND as u64) as u32;
                events.push((
                    t,
                    Spec::Admin {
                        user,
                        action,
                        target,
                    },
                ));
            }
        }
        record(&mut self.planted, name, fire_at);
        let first = events.iter().map(|e| e.0).min().unwrap_or(t);
        let last = events.iter().map(|e| e.0).max().unwrap_or(t);
        // Benign blackout covers the incident itself (not the spread-out login history before it).
        let core_first = if name == "login-new-country" {
            t
        } else {
            first
        };
        if compress.is_none() {
            self.users[u]
                .blackout
                .push((core_first - BLACKOUT, last + BLACKOUT));
        }
        for (at, spec) in events {
            self.push(at, spec);
        }
        (first, last)
    }

    /// One round of near-threshold behaviour by the decoy users, each just under the `more` threshold.
    fn plant_decoys(&mut self, base: i64, end: i64) {
        let pages = Org::page_count() as u64;
        let issues = Org::issue_count() as u64;
        for d in 0..DECOYS {
            let user = (BACKGROUND + d) as u32;
            let t = (base + d as i64 * 3 * HOUR + 17 * MINUTE).min(end - 2 * HOUR);
            let off = self.plan_rng.below(pages);
            let mut ev: Vec<(i64, Spec)> = Vec::new();
            let mut spread = |n: usize, span: i64, f: &dyn Fn(usize) -> Spec| {
                for j in 0..n {
                    ev.push((t + span * j as i64 / n as i64, f(j)));
                }
            };
            match d {
                // 99 distinct pages in 9 minutes (page-crawling `more` is 100).
                0 => spread(99, 9 * MINUTE, &|j| Spec::View {
                    user,
                    page: ((off + j as u64) % pages) as u32,
                }),
                // 99 distinct issues in 9 minutes.
                1 => spread(99, 9 * MINUTE, &|j| Spec::IssueView {
                    user,
                    issue: ((off + j as u64) % issues) as u32,
                }),
                // 4 failed logins in 6 minutes, then the right password (`more` is 5).
                2 => {
                    let home = self.org.users[user as usize].home as u8;
                    spread(5, 6 * MINUTE, &|j| {
                        if j < 4 {
                            Spec::LoginFailed { user, city: home }
                        } else {
                            Spec::Login { user, city: home }
                        }
                    });
                }
                // 4 exports in 50 minutes (`more` is 5 per hour).
                3 => spread(4, 50 * MINUTE, &|j| Spec::Export {
                    user,
                    page: ((off + j as u64 * 11) % pages) as u32,
                }),
                // 9 deletions in 8 minutes (`more` is 10).
                4 => spread(9, 8 * MINUTE, &|j| Spec::Delete {
                    user,
                    page: ((off + j as u64) % pages) as u32,
                }),
                // 49 downloads in 8 minutes (`more` is 50).
                5 => spread(49, 8 * MINUTE, &|j| Spec::Download {
                    user,
                    page: ((off + j as u64 / 4) % pages) as u32,
                    att: (j % 4) as u8,
                }),
                // 2 sensitive searches in 40 minutes (`more` is 3 per hour).
                _ => spread(2, 40 * MINUTE, &|j| Spec::Search {
                    user,
                    query: if j == 0 {
                        "how to reset my password"
                    } else {
                        "salary bands"
                    },
                }),
            }
            let first = ev.first().map_or(t, |e| e.0);
            let last = ev.last().map_or(t, |e| e.0);
            self.users[user as usize]
                .blackout
                .push((first - 2 * HOUR, last + 2 * HOUR));
            self.org.users[user as usize].travels = false;
            for (at, spec) in ev {
                self.push(at, spec);
            }
        }
    }

    fn push(&mut self, time: i64, spec: Spec) {
        self.seq += 1;
        self.heap.push(Reverse(Planted {
            time,
            seq: self.seq,
            spec,
        }));
    }

    /// Pick an available person (working hours preferred, never one in a blackout) and something harmless
    /// for them to do, within the per-actor caps.
    fn benign(&mut self, t: i64) -> Spec {
        let n = self.users.len();
        let utc_hour = t.rem_euclid(DAY) / HOUR;
        let weekend = matches!((t.div_euclid(DAY) + 4).rem_euclid(7), 0 | 6);
        let mut u = 0;
        for attempt in 0..4 {
            u = self.rng.below(n as u64) as usize;
            let off = i64::from(CITIES[self.org.users[u].home].utc_offset);
            let local = (utc_hour + off).rem_euclid(24);
            if attempt == 3 || (!weekend && (8..=18).contains(&local)) {
                break;
            }
        }
        for _ in 0..n {
            if !self.users[u].blocked(t) {
                break;
            }
            u = (u + 1) % n;
        }
        let user = u as u32;
        let pages = Org::page_count() as u64;
        let page = |rng: &mut Rng| -> u32 {
            // Half of reading happens in the person's own team space.
            if rng.chance(0.5) {
                let s = u % org::SPACES.len();
                (s * org::PAGES_PER_SPACE) as u32 + rng.below(org::PAGES_PER_SPACE as u64) as u32
            } else {
                rng.below(pages) as u32
            }
        };
        let roll = self.rng.below(1000);
        let spec = match roll {
            0..300 => {
                let page = page(&mut self.rng);
                self.users[u]
                    .admit(CAP_VIEW, t)
                    .then_some(Spec::View { user, page })
            }
            300..530 => {
                let issue = self.rng.below(Org::issue_count() as u64) as u32;
                self.users[u]
                    .admit(CAP_ISSUE, t)
                    .then_some(Spec::IssueView { user, issue })
            }
            530..590 => Some(Spec::Search {
                user,
                query: self.rng.pick(org::BENIGN_QUERIES),
            }),
            590..640 => Some(Spec::Write {
                user,
                kind: WriteKind::PageUpdated,
                obj: page(&mut self.rng),
                secret: None,
            }),
            640..655 => Some(Spec::Write {
                user,
                kind: WriteKind::PageCreated,
                obj: page(&mut self.rng),
                secret: None,
            }),
            655..660 => Some(Spec::Write {
                user,
                kind: WriteKind::BlogCreated,
                obj: page(&mut self.rng),
                secret: None,
            }),
            660..710 => Some(Spec::Write {
                user,
                kind: WriteKind::Comment,
                obj: page(&mut self.rng),
                secret: None,
            }),
            710..730 => Some(Spec::Write {
                user,
                kind: WriteKind::IssueCreated,
                obj: self.rng.below(Org::issue_count() as u64) as u32,
                secret: None,
            }),
            730..745 => Some(Spec::Write {
                user,
                kind: WriteKind::AiPrompt,
                obj: page(&mut self.rng),
                secret: None,
            }),
            745..775 => {
                let page = page(&mut self.rng);
                let att = self.rng.below(4) as u8;
                self.users[u]
                    .admit(CAP_DOWNLOAD, t)
                    .then_some(Spec::Download { user, page, att })
            }
            775..779 => {
                let page = page(&mut self.rng);
                self.users[u]
                    .admit(CAP_EXPORT, t)
                    .then_some(Spec::Export { user, page })
            }
            779..781 => {
                let page = page(&mut self.rng);
                self.users[u]
                    .admit(CAP_DELETE, t)
                    .then_some(Spec::Delete { user, page })
            }
            781..806 => Some(self.benign_login(u, t)),
            806..810 => {
                let city = self.users[u].city as u8;
                self.users[u]
                    .admit(CAP_FAILED, t)
                    .then_some(Spec::LoginFailed { user, city })
            }
            810..815 if self.org.users[u].admin => {
                let target = self.rng.below(n as u64) as u32;
                Some(Spec::Admin {
                    user,
                    action: self.rng.pick(CHORES),
                    target,
                })
            }
            _ => None,
        };
        spec.unwrap_or_else(|| Spec::Write {
            user,
            kind: WriteKind::IssueUpdated,
            obj: self.rng.below(Org::issue_count() as u64) as u32,
            secret: None,
        })
    }

    /// A login from home, sometimes from the person's second city, but never faster than [`BENIGN_KMH`]
    /// from the previous login: if the wanted city is too far for the time elapsed, they are still where
    /// they last logged in.
    fn benign_login(&mut self, u: usize, t: i64) -> Spec {
        let person = &self.org.users[u];
        let home = CITIES[person.home];
        let mut city = match home.second {
            Some(second) if person.travels && self.rng.chance(0.15) => second,
            _ => person.home,
        };
        if let Some((lt, lc)) = self.users[u].last_login {
            let km = org::distance_km(lc, city);
            let hours = (t - lt) as f64 / HOUR as f64;
            if km > 0.0 && (hours <= 0.0 || km / hours > BENIGN_KMH) {
                city = lc;
            }
        }
        Spec::Login {
            user: u as u32,
            city: city as u8,
        }
    }

    fn event_id(&mut self, buf: &mut String) {
        const M48: u64 = (1 << 48) - 1;
        let c = self.counter;
        self.counter += 1;
        let a = mix(self.id_key ^ c);
        // A bijection on 48 bits of the counter: unique ids that do not look sequential.
        let mut x = (c ^ self.id_key) & M48;
        x = (x ^ (x >> 19)) & M48;
        x = x.wrapping_mul(0x9e37_79b9_7f4b) & M48;
        x = (x ^ (x >> 23)) & M48;
        let _ = write!(
            buf,
            "\"{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}\"",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((a >> 48) & 0x3fff),
            x
        );
    }

    fn render(&mut self, t: i64, spec: &Spec, buf: &mut String) {
        buf.clear();
        let u = spec.user();
        // Logins move the person; everything else happens from where they are.
        if let Spec::Login { city, .. } = spec {
            let s = &mut self.users[u];
            s.city = usize::from(*city);
            s.last_login = Some((t, usize::from(*city)));
            s.logins += 1;
        }
        let city = match spec {
            Spec::Login { city, .. } | Spec::LoginFailed { city, .. } => usize::from(*city),
            _ => self.users[u].city,
        };
        let mut msg = std::mem::take(&mut self.scratch);
        msg.clear();
        buf.push_str("{\"id\":");
        self.event_id(buf);
        buf.push_str(",\"type\":\"events\",\"attributes\":{\"time\":");
        json::time(buf, t);
        let person = &self.org.users[u];
        let action: &str = match spec {
            Spec::View { page, .. } => {
                if org::page(*page as usize).blog {
                    "blogpost_viewed"
                } else {
                    "page_viewed"
                }
            }
            Spec::IssueView { .. } => "issue_viewed",
            Spec::Search { .. } => "search_performed",
            Spec::Export { .. } => "page_exported",
            Spec::Download { .. } => "attachment_downloaded",
            Spec::Delete { .. } => "page_deleted",
            Spec::Login { .. } => "user_login",
            Spec::LoginFailed { .. } => "user_login_failed",
            Spec::Write { kind, .. } => match kind {
                WriteKind::PageCreated => "page_created",
                WriteKind::PageUpdated => "page_updated",
                WriteKind::BlogCreated => "blogpost_created",
                WriteKind::Comment => "comment_created",
                WriteKind::IssueCreated => "issue_created",
                WriteKind::IssueUpdated => "issue_updated",
                WriteKind::AiPrompt => "ai_prompt_submitted",
            },
            Spec::Admin { action, .. } => action,
        };
        buf.push(',');
        json::field(buf, "action", action);
        buf.push(',');
        json::key(buf, "actor");
        buf.push('{');
        json::field(buf, "id", &person.id);
        buf.push(',');
        json::field(buf, "name", &person.name);
        buf.push(',');
        json::field(buf, "email", &person.email);
        let api_token = matches!(
            spec,
            Spec::Write {
                kind: WriteKind::IssueCreated | WriteKind::IssueUpdated,
                secret: None,
                ..
            }
        ) && person.automation
            && self.rng.chance(0.4);
        if api_token {
            let _ = write!(
                buf,
                ",\"auth\":{{\"authType\":\"api-token\",\"tokenId\":\"tok-{}\",\"tokenLabel\":\"jira-automation\"}}",
                &person.id[..8]
            );
        }
        buf.push('}');

        // context, container, content and message, per kind of event.
        let site_of_user =
            usize::from(CITIES[person.home].lon > -30.0 && CITIES[person.home].lon < 60.0);
        match spec {
            Spec::View { page, .. } | Spec::Export { page, .. } | Spec::Delete { page, .. } => {
                let p = org::page(*page as usize);
                let kind = if p.blog { "blogpost" } else { "page" };
                entity_context(buf, &p.id.to_string(), kind, &p.title);
                containers_space(buf, &p);
                self.location(buf, u, city);
                content(
                    buf,
                    kind,
                    &p.id.to_string(),
                    &p.title,
                    None,
                    p.space.key,
                    "confluence",
                    &page_url(&p),
                );
                let verb = match spec {
                    Spec::View { .. } => "Viewed",
                    Spec::Export { .. } => "Exported",
                    _ => "Deleted",
                };
                let _ = write!(msg, "{verb} {kind} '{}' in {}", p.title, p.space.name);
            }
            Spec::Download { page, att, .. } => {
                let p = org::page(*page as usize);
                let file =
                    org::ATTACHMENTS[(p.id as usize + usize::from(*att)) % org::ATTACHMENTS.len()];
                let att_id = format!("att{}{}", p.id, att);
                let _ = write!(
                    buf,
                    ",\"context\":[{{\"id\":\"{att_id}\",\"type\":\"attachments\",\"attributes\":{{\"fileName\":"
                );
                json::string(buf, file);
                buf.push_str("}}]");
                containers_space(buf, &p);
                self.location(buf, u, city);
                content(
                    buf,
                    "attachment",
                    &att_id,
                    file,
                    None,
                    p.space.key,
                    "confluence",
                    &page_url(&p),
                );
                let _ = write!(msg, "Downloaded attachment '{file}' from '{}'", p.title);
            }
            Spec::IssueView { issue, .. } => {
                let i = org::issue(*issue as usize);
                issue_context(buf, &i);
                containers_project(buf, &i);
                self.location(buf, u, city);
                content(
                    buf,
                    "issue",
                    &i.id.to_string(),
                    &i.summary,
                    None,
                    i.project.key,
                    "jira",
                    &issue_url(&i),
                );
                let _ = write!(msg, "Viewed issue {} '{}'", i.key, i.summary);
            }
            Spec::Search { query, .. } => {
                buf.push_str(",\"context\":[{\"type\":\"search\",\"attributes\":{\"query\":");
                json::string(buf, query);
                buf.push_str("}}]");
                containers_site(buf, site_of_user);
                self.location(buf, u, city);
                let _ = write!(msg, "Searched for '{query}'");
            }
            Spec::Login { .. } => {
                buf.push_str(",\"context\":[]");
                containers_site(buf, site_of_user);
                self.location(buf, u, city);
                let _ = write!(msg, "Logged in as {}", person.email);
            }
            Spec::LoginFailed { .. } => {
                buf.push_str(",\"context\":[]");
                containers_site(buf, site_of_user);
                self.location(buf, u, city);
                let _ = write!(msg, "Failed login attempt for {}", person.email);
            }
            Spec::Write {
                kind, obj, secret, ..
            } => {
                let mut body = String::with_capacity(320);
                let sentences = 2 + self.rng.below(3);
                for s in 0..sentences {
                    if s > 0 {
                        body.push(' ');
                    }
                    body.push_str(self.rng.pick(org::PROSE));
                }
                if secret.is_none() && self.rng.chance(0.06) {
                    body.push(' ');
                    body.push_str(self.rng.pick(org::DECOY_PROSE));
                }
                if let Some(secret) = secret {
                    body.push_str("\n\n");
                    body.push_str(secret);
                }
                match kind {
                    WriteKind::IssueCreated | WriteKind::IssueUpdated => {
                        let i = org::issue(*obj as usize);
                        issue_context(buf, &i);
                        containers_project(buf, &i);
                        self.location(buf, u, city);
                        let id = i.id.to_string();
                        content(
                            buf,
                            "issue",
                            &id,
                            &i.summary,
                            Some(&body),
                            i.project.key,
                            "jira",
                            &issue_url(&i),
                        );
                        let verb = if *kind == WriteKind::IssueCreated {
                            "Created"
                        } else {
                            "Updated"
                        };
                        let _ = write!(msg, "{verb} issue {} '{}'", i.key, i.summary);
                    }
                    _ => {
                        let p = org::page(*obj as usize);
                        let parent = if p.blog { "blogpost" } else { "page" };
                        let n = self.counter;
                        // (object type, id, title) of what was written, and the entity it hangs off.
                        let (object, id, title) = match kind {
                            WriteKind::Comment => (
                                "comment",
                                format!("{}{:04}", p.id, n % 10_000),
                                format!("Re: {}", p.title),
                            ),
                            WriteKind::AiPrompt => (
                                "ai_prompt",
                                format!("prompt-{:x}", mix(n ^ self.id_key) >> 16),
                                format!("Summarise '{}'", p.title),
                            ),
                            WriteKind::BlogCreated => (
                                "blogpost",
                                (p.id + 5).to_string(),
                                format!("{} weekly update", p.space.name),
                            ),
                            WriteKind::PageCreated => (
                                "page",
                                (p.id + 3).to_string(),
                                format!("{} (draft)", p.title),
                            ),
                            _ => (parent, p.id.to_string(), p.title.clone()),
                        };
                        match kind {
                            WriteKind::Comment | WriteKind::AiPrompt => {
                                entity_context(buf, &p.id.to_string(), parent, &p.title)
                            }
                            _ => entity_context(buf, &id, object, &title),
                        }
                        containers_space(buf, &p);
                        self.location(buf, u, city);
                        let product = if *kind == WriteKind::AiPrompt {
                            "rovo"
                        } else {
                            "confluence"
                        };
                        content(
                            buf,
                            object,
                            &id,
                            &title,
                            Some(&body),
                            p.space.key,
                            product,
                            &page_url(&p),
                        );
                        let _ = match kind {
                            WriteKind::Comment => write!(
                                msg,
                                "Commented on {parent} '{}' in {}",
                                p.title, p.space.name
                            ),
                            WriteKind::AiPrompt => {
                                write!(msg, "Asked Rovo to summarise '{}'", p.title)
                            }
                            WriteKind::BlogCreated => {
                                write!(msg, "Published blog post '{title}' in {}", p.space.name)
                            }
                            WriteKind::PageCreated => {
                                write!(msg, "Created page '{title}' in {}", p.space.name)
                            }
                            _ => write!(msg, "Updated {parent} '{title}' in {}", p.space.name),
                        };
                    }
                }
            }
            Spec::Admin { action, target, .. } => {
                let target = &self.org.users[*target as usize % self.org.users.len()];
                let (kind, id, name) = admin_subject(action, target);
                let _ = write!(buf, ",\"context\":[{{\"id\":");
                json::string(buf, &id);
                let _ = write!(buf, ",\"type\":\"{kind}\",\"attributes\":{{\"name\":");
                json::string(buf, &name);
                if kind == "users" {
                    buf.push(',');
                    json::field(buf, "email", &target.email);
                }
                buf.push_str("}}]");
                containers_site(buf, 0);
                self.location(buf, u, city);
                let mut words = action.replace('_', " ");
                if let Some(first) = words.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                let _ = write!(msg, "{words}: {name}");
            }
        }
        buf.push_str("},\"message\":{\"content\":");
        json::string(buf, &msg);
        buf.push_str(",\"format\":\"simple\"}}");
        self.scratch = msg;
    }

    fn location(&self, buf: &mut String, u: usize, city: usize) {
        let c = &CITIES[city];
        let host = self.org.users[u].host;
        let _ = write!(
            buf,
            ",\"location\":{{\"ip\":\"{}.{}.{}.{}\",\"geo\":\"{}\",\"countryName\":",
            c.net[0], c.net[1], host[0], host[1], self.geo[city]
        );
        json::string(buf, c.country);
        buf.push_str(",\"regionName\":");
        json::string(buf, c.region);
        buf.push_str(",\"city\":");
        json::string(buf, c.name);
        buf.push('}');
    }
}

impl Iterator for Generator {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut buf = String::with_capacity(1024);
        self.next_into(&mut buf).map(|_| buf)
    }
}

fn page_url(p: &org::PageRef) -> String {
    format!(
        "{}/wiki/spaces/{}/pages/{}",
        SITES[p.space.site].host, p.space.key, p.id
    )
}

fn issue_url(i: &org::IssueRef) -> String {
    format!("{}/browse/{}", SITES[i.project.site].host, i.key)
}

fn entity_context(buf: &mut String, id: &str, kind: &str, title: &str) {
    let _ = write!(
        buf,
        ",\"context\":[{{\"id\":\"{id}\",\"type\":\"{kind}s\",\"attributes\":{{\"title\":"
    );
    json::string(buf, title);
    buf.push_str("}}]");
}

fn issue_context(buf: &mut String, i: &org::IssueRef) {
    let _ = write!(
        buf,
        ",\"context\":[{{\"id\":\"{}\",\"type\":\"issues\",\"attributes\":{{\"key\":\"{}\",\"summary\":",
        i.id, i.key
    );
    json::string(buf, &i.summary);
    buf.push_str("}}]");
}

fn site_entity(buf: &mut String, site: usize) {
    let s = &SITES[site];
    let _ = write!(
        buf,
        "{{\"id\":\"{}\",\"type\":\"sites\",\"attributes\":{{\"siteHostName\":\"{}\",\"siteName\":\"{}\"}}}}",
        s.id, s.host, s.name
    );
}

fn containers_site(buf: &mut String, site: usize) {
    buf.push_str(",\"container\":[");
    site_entity(buf, site);
    buf.push(']');
}

fn containers_space(buf: &mut String, p: &org::PageRef) {
    buf.push_str(",\"container\":[");
    site_entity(buf, p.space.site);
    let _ = write!(
        buf,
        ",{{\"id\":\"{}\",\"type\":\"spaces\",\"attributes\":{{\"key\":\"{}\",\"name\":\"{}\"}}}}]",
        p.space.key, p.space.key, p.space.name
    );
}

fn containers_project(buf: &mut String, i: &org::IssueRef) {
    buf.push_str(",\"container\":[");
    site_entity(buf, i.project.site);
    let _ = write!(
        buf,
        ",{{\"id\":\"{}\",\"type\":\"projects\",\"attributes\":{{\"key\":\"{}\",\"name\":\"{}\"}}}}]",
        i.project.key, i.project.key, i.project.name
    );
}

#[allow(clippy::too_many_arguments)]
fn content(
    buf: &mut String,
    object_type: &str,
    id: &str,
    title: &str,
    body: Option<&str>,
    container_key: &str,
    product: &str,
    url: &str,
) {
    buf.push_str(",\"content\":{");
    json::field(buf, "objectType", object_type);
    buf.push(',');
    json::field(buf, "objectId", id);
    buf.push(',');
    json::field(buf, "title", title);
    if let Some(body) = body {
        buf.push(',');
        json::field(buf, "body", body);
    }
    buf.push(',');
    json::field(buf, "containerKey", container_key);
    buf.push(',');
    json::field(buf, "product", product);
    buf.push(',');
    json::field(buf, "url", url);
    buf.push('}');
}

/// The entity an admin action is about: (type, id, name).
fn admin_subject(action: &str, target: &org::User) -> (&'static str, String, String) {
    let s = |x: &str| x.to_string();
    match action {
        a if a.contains("policy")
            || a.starts_with("two_step_enforcement")
            || a == "sso_disabled" =>
        {
            (
                "policies",
                s("policy-auth-default"),
                s("Default authentication policy"),
            )
        }
        a if a.starts_with("data_security") => (
            "policies",
            s("policy-dsp-1"),
            s("Block export of Restricted pages"),
        ),
        a if a.starts_with("ip_allowlist") => (
            "ip-allowlists",
            s("allowlist-1"),
            s("Office and VPN ranges"),
        ),
        a if a.starts_with("domain_") => ("domains", s("domain-2"), s("acme-partners.example")),
        "admin_api_key_created" => ("api-keys", s("key-org-admin-2"), s("automation")),
        "api_token_created" => ("api-tokens", s("tok-new"), s("personal script")),
        "classification_level_decreased" => (
            "pages",
            s("98003"),
            s("Confidential → Internal: Payments API overview"),
        ),
        a if a.starts_with("public_link") || a.starts_with("anonymous") => {
            ("pages", s("98010"), s("Payments API FAQ"))
        }
        a if a.starts_with("site_") => ("sites", s(SITES[0].id), s(SITES[0].name)),
        a if a.starts_with("app_") => ("apps", s("app-timesheet-pro"), s("Timesheet Pro")),
        "mcp_server_connected" => ("apps", s("app-mcp-claude"), s("Claude (MCP client)")),
        a if a.starts_with("audit_log_webhook") => (
            "webhooks",
            s("webhook-1"),
            s("https://siem.acme-corp.example/hooks/atlassian"),
        ),
        "group_created" => ("groups", s("group-contractors"), s("contractors")),
        _ => ("users", target.id.clone(), target.name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_complete_and_admin_actions_resolve() {
        assert_eq!(CATALOGUE.len(), 25);
        for d in CATALOGUE {
            let single = !matches!(
                *d,
                "page-crawling"
                    | "issue-crawling"
                    | "suspicious-search"
                    | "bulk-export"
                    | "mass-download"
                    | "mass-deletion"
                    | "failed-login-burst"
                    | "login-new-country"
                    | "impossible-travel"
                    | "sensitive-content"
            );
            assert_eq!(single, !admin_actions(d).is_empty(), "{d}");
        }
    }

    #[test]
    fn city_links_hold() {
        for (i, c) in CITIES.iter().enumerate() {
            if let Some(s) = c.second {
                assert_eq!(CITIES[s].country, c.country, "{}", c.name);
                assert!(org::distance_km(i, s) < 800.0, "{}", c.name);
            }
            if let Some(f) = c.far {
                assert_eq!(CITIES[f].country, c.country, "{}", c.name);
                assert!(org::distance_km(i, f) > 1_700.0, "{}", c.name);
            }
            assert_ne!(CITIES[c.abroad].country, c.country, "{}", c.name);
            // A new-country login after a 6 h blackout must not also be impossible travel.
            if org::HOMES.contains(&i) {
                assert!(
                    org::distance_km(i, c.abroad) < 900.0 * 6.0 * 0.7,
                    "{}",
                    c.name
                );
            }
        }
    }

    #[test]
    fn caps_admit_up_to_the_limit_per_window() {
        let mut g = Generator::live(1, default_start());
        let s = &mut g.users[0];
        let admitted = (0..10).filter(|i| s.admit(CAP_FAILED, i * 1_000)).count();
        assert_eq!(admitted, CAPS[CAP_FAILED].0);
        assert!(s.admit(CAP_FAILED, CAPS[CAP_FAILED].1 + 1_000));
    }

    #[test]
    fn batch_then_live_continues_in_time() {
        let opts = GenerateOptions {
            events: 5_000,
            days: 2,
            incidents: 3,
            ..GenerateOptions::default()
        };
        let mut g = Generator::new(&opts);
        let mut buf = String::new();
        let mut last = None;
        while let Some(t) = g.next_into(&mut buf) {
            last = Some(t);
        }
        let mut live = g.then_live(500, 20_000);
        let next = live.next_into(&mut buf);
        assert!(next.is_some() && next >= last);
        for _ in 0..2_000 {
            assert!(live.next_into(&mut buf).is_some());
        }
        assert!(live.planted().len() > 3);
    }

    #[test]
    fn benign_caps_stay_under_more_thresholds() {
        let more = [100, 100, 5, 50, 10, 5];
        for (cap, m) in CAPS.iter().zip(more) {
            assert!(cap.0 < m);
        }
    }
}
