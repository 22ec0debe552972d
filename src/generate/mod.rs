//! `vigil generate` and `vigil demo`'s data: a deterministic synthetic organization (people, sites, Confluence
//! spaces and pages, Jira projects and issues) whose audit events stream out in the DESIGN §3 shape, with
//! planted incidents the detection catalogue of DESIGN §5 must find and decoys it must not.
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
//! Everything about detections — ids, action keys, windows, thresholds, search terms, AI client names, login
//! rules — is read from [`crate::detect::catalogue`], never copied: incidents are planted round-robin over
//! `catalogue()` and shaped by each entry's `kind` (a threshold entry gets a burst of its actions that crosses
//! the default threshold inside its window; a single entry gets one event of one of its actions), and benign
//! caps are derived from the `more` thresholds. Adding a threshold or single-event detection to the catalogue
//! needs no change here. `tests/generate.rs` fails if a detection id or catalogue action key is written in a
//! string literal under `src/generate/`.
//!
//! Layout: `plan` (what is planted, the budget, the schedule, the live pacing), `benign` (background traffic,
//! per-actor caps and decoys), `incidents` (planting one incident per catalogue kind), `render` (an event to a
//! JSON line), `event` (the planned-event vocabulary), `org` (the company's static tables), `secrets` (valid
//! secrets for content incidents), `rng` and `json` (portable PRNG and hand-rolled JSON).
//!
//! May use `model` and `detect` only: no store, no engine, no tokio, no `std::fs`; the only I/O is the writer
//! handed to [`write_jsonl`].

mod benign;
mod event;
mod incidents;
mod json;
mod org;
mod plan;
mod render;
mod rng;
mod secrets;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use benign::UserState;
use event::Act;
use org::Org;
use plan::{Mode, Rules};
use rng::{Rng, mix};

/// What to generate. Every field takes part in the output, so two runs with equal options are identical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateOptions {
    /// Exact number of lines written, planted events included.
    pub events: u64,
    /// Everything random (people, homes, times, secrets) derives from it; the CLI's `--seed`.
    pub seed: u64,
    /// Incidents to plant, round-robin over the detection catalogue
    /// ([`catalogue()`](crate::detect::catalogue::catalogue)), in its order.
    pub incidents: u32,
    /// First instant of the span; a fixed date by default because the generator never reads the clock.
    pub start: DateTime<Utc>,
    /// Length of the span in days (at least 1).
    pub days: u32,
}

/// 2026-10-01T00:00:00Z, the default start of the span: fixed, because the generator never reads the clock.
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
/// `actor_id` is expected for it, which is what lets tests compare the detector's output with the truth.
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

/// What [`write_jsonl`] produced: the line count and the expected alerts (the CLI's `--manifest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateSummary {
    /// Lines written: always `GenerateOptions::events`.
    pub events: u64,
    /// The alerts a default-sensitivity run must raise, one per entry, in planting order.
    pub planted: Vec<PlantedIncident>,
}

/// Settings for [`Generator::live_with`]: an endless stream for the demo, paced in event time so that the
/// demo decides the real-time pace and the stream stays deterministic.
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

/// Stream `opts.events` JSON lines into `out`, one event per line, holding only the current line in memory
/// (a million lines need no more memory than ten).
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

/// A planted event waiting in the merge heap, ordered by time then planting order.
#[derive(Debug)]
struct Planted {
    time: i64,
    seq: u64,
    act: Act,
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

/// The streaming generator. Yields one JSON line (no trailing newline) per event; see the module docs for
/// the guarantees. Use [`Generator::next_into`] in hot loops to reuse one buffer.
pub struct Generator {
    rules: Rules,
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

fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Generator {
    /// A finite generator for `opts`: plans incidents and decoys up front (their events are the only thing
    /// held in memory), then merges them with the benign background in time order.
    pub fn new(opts: &GenerateOptions) -> Generator {
        plan::batch(opts)
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
        plan::live(opts)
    }

    /// Carry on as a live stream once a batch is exhausted: same people, same login histories and locations,
    /// so a demo can load a month of history and then keep going with incidents every `incident_every_ms`.
    /// Event time resumes where the batch stopped (or at `start` of the batch if it wrote nothing).
    pub fn then_live(mut self, step_ms: u64, incident_every_ms: u64) -> Generator {
        let resume = match &self.mode {
            Mode::Batch { schedule, .. } if self.last_time == i64::MIN => schedule.start(),
            _ => self.last_time,
        };
        self.mode = Mode::live(resume, step_ms, incident_every_ms, self.rules.pool());
        self
    }

    fn with_org(org: Org, seed: u64, rules: Rules) -> Generator {
        let geo = org::CITIES
            .iter()
            .map(|c| format!("{:.4},{:.4}", c.lat, c.lon))
            .collect();
        let users = org
            .users
            .iter()
            .map(|u| UserState::new(u.home, rules.watched.len()))
            .collect();
        Generator {
            rules,
            org,
            geo,
            rng: Rng::new(seed, 3),
            plan_rng: Rng::new(seed, 2),
            mode: Mode::idle(),
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
        let benign_t = self.mode.next_benign();
        let planted_t = self.heap.peek().map(|p| p.0.time);
        let use_planted = match (planted_t, benign_t) {
            (Some(p), Some(b)) => p <= b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let t;
        let act;
        if use_planted {
            let Reverse(p) = self.heap.pop()?;
            t = p.time;
            act = p.act;
        } else {
            t = benign_t?;
            self.advance_benign(t);
            act = self.benign(t);
        }
        self.render(t, &act, buf);
        self.last_time = self.last_time.max(t);
        Some(ms_to_time(t))
    }

    /// Queue a planted event; the heap merges it with the benign stream in time order.
    fn push(&mut self, time: i64, act: Act) {
        self.seq += 1;
        self.heap.push(Reverse(Planted {
            time,
            seq: self.seq,
            act,
        }));
    }
}

impl Iterator for Generator {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut buf = String::with_capacity(1024);
        self.next_into(&mut buf).map(|_| buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
