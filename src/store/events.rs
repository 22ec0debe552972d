//! Events, packed into runs: one tree, `event_runs`, keyed by UTC day + actor hash + first event time + a
//! sequence number, each value a [`run`](super::run) of that actor's events of that day in time order.
//!
//! Why runs: sled's open time and resident memory grow with the number of entries, not their bytes (a store
//! with 2 entries per event took 0.3 s and 400 MB just to open at 2M events). Runs of up to
//! [`MAX_RUN_EVENTS`](super::run::MAX_RUN_EVENTS) events or 16 KiB (compressed once final) cut the entries
//! ten-fold, and an actor's timeline is two contiguous range scans.
//!
//! The tree has two key spaces (see [`TAIL`]): the final space, keyed as above, and the tail space, the same
//! keys behind a `0xFF` byte, which holds the small runs a writer has not sealed yet. Read in order, an
//! actor-day's final runs and then its tail are its events in time order: the runs never overlap (each run's
//! events are no earlier than the previous run's), which makes a dedupe check one or two runs and lets a
//! timeline page stop as soon as it has enough. A time-ordered stream appends a small run per batch and actor
//! to the tail; once an actor-day's tail holds a full run's worth it is sealed into full runs in the final
//! space and deleted, in the same batch, so each event is written twice (small, then final) however the stream
//! is batched. An event older than its actor-day's newest (a late or replayed event) is merged into the runs it
//! falls among, which keeps the invariant.
//!
//! Dedupe identity is (actor, time, id): the Atlassian id is unique, and the time and actor place the lookup.

use std::collections::{HashMap, VecDeque};
use std::iter::Chain;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};

use super::keys::{
    RUN_KEY, TAIL, TAIL_KEY, day_from_bytes, day_of, hash64, is_tail, run_first_ms, run_key,
    run_key_of, run_prefix, tail_key,
};
use super::run::{RunBuilder, RunView, concat, is_final};
use super::zdict::{self, ZDict};
use super::{Store, StoreError};
use crate::model::AuditEvent;

/// Which events of a planned batch are new.
#[derive(Debug, Clone, Default)]
pub struct EventPlan {
    slots: Vec<bool>,
}

impl EventPlan {
    /// Whether event `i` of the planned batch is new.
    pub fn is_new(&self, i: usize) -> bool {
        self.slots.get(i).copied().unwrap_or(false)
    }

    /// Counts and flags, as an [`InsertOutcome`].
    pub fn outcome(&self) -> InsertOutcome {
        let new = self.slots.iter().filter(|s| **s).count() as u64;
        InsertOutcome {
            duplicates: self.slots.len() as u64 - new,
            new,
            stored: self.slots.clone(),
        }
    }
}

/// Batches whose events a [`Planner`] remembers: enough to cover every batch planned but not yet written while
/// planning runs ahead of writing (the pipeline's channel holds two). Events the writer holds back longer
/// (see [`Store::hold_writes`]) are found in its set of held keys.
const RECENT_BATCHES: usize = 8;

/// (time, hash of the id) → the ids planned with them (a hash collision keeps both).
type RecentIds = HashMap<(i64, u64), Vec<Box<str>>>;

/// Decides which events of a stream are new, batch after batch, reading the store as little as possible:
/// an event newer than everything stored or planned so far cannot be a duplicate, so the common case — a
/// time-ordered stream — costs no read at all. Recently planned events are remembered, so planning may run
/// ahead of writing (on another thread) without letting a duplicate through.
pub struct Planner {
    store: Store,
    /// Newest event time stored before this planner started or planned since.
    max_ms: i64,
    recent: VecDeque<Vec<(i64, u64)>>,
    recent_ids: RecentIds,
}

impl Planner {
    /// Plan one batch: `true` per new event, `false` per duplicate (in the store, in a recent batch or earlier
    /// in this one).
    pub fn plan(&mut self, events: &[AuditEvent]) -> Result<EventPlan, StoreError> {
        let mut slots = Vec::with_capacity(events.len());
        let mut keys = Vec::with_capacity(events.len());
        let max_before = self.max_ms;
        for ev in events {
            let t = ev.time_ms();
            let k = (t, hash64(&ev.id));
            let seen = self
                .recent_ids
                .get(&k)
                .is_some_and(|ids| ids.iter().any(|id| **id == *ev.id));
            // Newer than anything stored or planned before this batch: it cannot be in the store.
            let new = !seen && (t > max_before || !self.store.event_stored(ev)?);
            if new {
                keys.push(k);
                self.recent_ids
                    .entry(k)
                    .or_default()
                    .push(ev.id.as_str().into());
                self.max_ms = self.max_ms.max(t);
            }
            slots.push(new);
        }
        self.recent.push_back(keys);
        while self.recent.len() > RECENT_BATCHES {
            for k in self.recent.pop_front().unwrap_or_default() {
                self.recent_ids.remove(&k);
            }
        }
        Ok(EventPlan { slots })
    }
}

/// What a batch insert did with each event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertOutcome {
    /// `true` where the event was new and stored, `false` where it was already there.
    pub stored: Vec<bool>,
    pub new: u64,
    pub duplicates: u64,
}

/// Extra passes over pages just read in bulk, so that sled's batched LRU sees enough accesses to evict.
const LRU_TOUCHES: usize = 3;

/// The stored form of one event: its JSON without the leading `id` and `time`, which the run's directory holds
/// already (every event's id is there for the dedupe, and its time to the millisecond for the order): about
/// 20 bytes an event even after compression, an id being random. Public so the pipeline can encode on its
/// parsing thread, off the path that writes. An id too long for the directory keeps the whole JSON.
pub fn encode_event(ev: &AuditEvent) -> Vec<u8> {
    let full = serde_json::to_vec(ev).unwrap_or_default();
    if ev.id.len() > u16::MAX as usize {
        return full;
    }
    let (Ok(id), Ok(time)) = (
        serde_json::to_string(&ev.id),
        serde_json::to_string(&ev.time),
    ) else {
        return full;
    };
    let prefix = format!("{{\"id\":{id},\"time\":{time},");
    match full.strip_prefix(prefix.as_bytes()) {
        Some(rest) => {
            let mut v = Vec::with_capacity(rest.len() + 1);
            v.push(b'{');
            v.extend_from_slice(rest);
            v
        }
        None => full,
    }
}

/// An event from its directory entry and stored body: a whole JSON (schema 3 and older, or a long id) as it
/// is, else the body with the id and time put back.
fn decode(id: &[u8], time_ms: i64, body: &[u8]) -> Option<AuditEvent> {
    if body.starts_with(b"{\"id\":") {
        return serde_json::from_slice(body).ok();
    }
    let id = std::str::from_utf8(id).ok()?;
    let time = DateTime::<Utc>::from_timestamp_millis(time_ms)?;
    let rest = body.get(1..)?;
    let mut v = Vec::with_capacity(body.len() + id.len() + 48);
    v.extend_from_slice(b"{\"id\":");
    serde_json::to_writer(&mut v, id).ok()?;
    v.extend_from_slice(b",\"time\":");
    serde_json::to_writer(&mut v, &time).ok()?;
    v.push(b',');
    v.extend_from_slice(rest);
    serde_json::from_slice(&v).ok()
}

/// The runs a store would hold for these events if each actor-day arrived at once: what the ingest
/// benchmark writes to bare sled to time the floor under [`Store::write_planned`].
pub fn event_runs(events: &[AuditEvent]) -> Vec<([u8; RUN_KEY], Vec<u8>)> {
    packed_runs(events, encode_event, |b| b.finish(true, None))
}

/// Every actor-day's events packed into full runs at once, bodies made by `encode` and values by `seal`.
fn packed_runs(
    events: &[AuditEvent],
    encode: impl Fn(&AuditEvent) -> Vec<u8>,
    seal: impl Fn(&RunBuilder) -> Vec<u8>,
) -> Vec<([u8; RUN_KEY], Vec<u8>)> {
    let mut order: Vec<(i32, u64, i64, usize)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let t = e.time_ms();
            (day_of(t), hash64(&e.actor.id), t, i)
        })
        .collect();
    order.sort_unstable();
    let mut out = Vec::new();
    let mut seq = 0u32;
    for group in order.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let items: Vec<(i64, &[u8], Vec<u8>)> = group
            .iter()
            .map(|&(_, _, t, i)| (t, events[i].id.as_bytes(), encode(&events[i])))
            .collect();
        for b in build_runs(items.iter().map(|(t, id, body)| (*t, *id, body.as_slice()))) {
            seq = seq.wrapping_add(1);
            out.push((
                run_key(group[0].0, group[0].1, b.first_ms().unwrap_or(0), seq),
                seal(&b),
            ));
        }
    }
    out
}

/// The events of `runs` (in the order they were written) and then `items`, sorted by time. Stable: events of
/// the same millisecond keep that order.
fn in_time_order<'a>(
    runs: &'a [RunView<'_>],
    items: &[(i64, &'a [u8], &'a [u8])],
) -> Vec<(i64, &'a [u8], &'a [u8])> {
    let mut all: Vec<(i64, &[u8], &[u8])> = runs
        .iter()
        .flat_map(RunView::entries)
        .map(|e| (e.time_ms, e.id, e.body))
        .collect();
    all.extend_from_slice(items);
    all.sort_by_key(|e| e.0);
    all
}

/// Pack events (in time order) into as few runs as the caps allow.
fn build_runs<'a>(items: impl Iterator<Item = (i64, &'a [u8], &'a [u8])>) -> Vec<RunBuilder> {
    let mut runs = Vec::new();
    let mut cur = RunBuilder::default();
    for (t, id, body) in items {
        if cur.would_overflow(id.len() + body.len()) {
            runs.push(std::mem::take(&mut cur));
        }
        cur.push(t, id, body);
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

/// What the writer remembers of one actor-day: the newest event time stored for it, the runs of its tail
/// (oldest first), which are sealed together into full runs once they hold enough, and the events it holds
/// back (see [`Store::hold_writes`]). Fewer than [`MAX_RUN_EVENTS`](super::run::MAX_RUN_EVENTS) tail runs:
/// each holds an event at least, and that many make a full run.
#[derive(Debug, Default)]
struct Tail {
    /// Newest event time in the store (held events are newer still, or as new).
    last_ms: i64,
    runs: Vec<TailRun>,
    /// Events not written yet, in time order, all at or after `last_ms`.
    held: Vec<Held>,
    /// The writer's batch number when the oldest held event came.
    held_since: u64,
    /// Bytes of ids and bodies held.
    held_bytes: usize,
}

impl Tail {
    /// Events and payload bytes of its tail runs.
    fn run_size(&self) -> (usize, usize) {
        self.runs
            .iter()
            .fold((0, 0), |(c, b), r| (c + r.count, b + r.bytes))
    }
}

#[derive(Debug)]
struct TailRun {
    /// Its key in the tail space.
    key: [u8; TAIL_KEY],
    count: usize,
    bytes: usize,
    /// The value while it is only in the batch being built (not yet readable from sled).
    pending: Option<Vec<u8>>,
}

/// The dedupe identity (actor hash, time, id) of every event the writer holds back. An event leaves it only
/// once the batch that writes it is applied, so a check that looks here first and then in the store always
/// finds it in one of the two. The id is shared with the held event (one allocation per event, where a copy
/// for each of the event, this set and the release list made three, measurable in a dense stream).
pub(super) type HeldKeys = std::collections::HashSet<(u64, i64, Arc<[u8]>)>;

/// Runs this process's writer has put in the store since it opened, by kind: what the ingest bench reports
/// per thousand events (each small run is written again when sealed, and each write is a leaf sled rewrites).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunWrites {
    /// Small runs written to the tail.
    pub small: u64,
    /// Runs written to the final space by appends and merges (sealing at the end and compaction not counted).
    pub final_runs: u64,
}

/// An event the writer holds back: its time, id and encoded body.
#[derive(Debug)]
struct Held {
    time_ms: i64,
    id: Arc<[u8]>,
    body: Vec<u8>,
}

/// Most batches an event is held back while holding is on (see [`Store::hold_writes`]). A thousand events of a
/// dense stream (a big organization's minutes) bring one or two events of each of hundreds of people, each
/// active in a third of the batches or so: a person's half run (see [`is_final`]) takes some 20 to 40 batches
/// to gather, and goes to the final space at once; what has not filled by then goes to the tail as one small
/// run per actor-day, not one per batch.
const HOLD_BATCHES: u64 = 48;

/// Most body bytes held back at once: past it, the actor-days that have waited longest are written (as small
/// runs) until three quarters are left. Bounds the memory holding takes; about two thousand people's half runs.
const HOLD_BYTES: usize = 16 << 20;

/// Most actor-days the writer remembers; past it, days before the newest two are forgotten (they reload from
/// the store with one read if written again).
const MAX_TAILS: usize = 20_000;

/// Writer-side state of the event runs, shared by every clone of a [`Store`] (behind a mutex: one writer at a
/// time appends and merges).
#[derive(Debug)]
pub(super) struct RunWriter {
    tails: HashMap<(i32, u64), Tail>,
    newest_day: i32,
    /// Whether appends are held back (see [`Store::hold_writes`]).
    hold: bool,
    /// Calls of [`Store::write_planned`] so far: the clock held events age by.
    batch_no: u64,
    /// Body bytes held back, every actor-day.
    held_bytes: usize,
    /// Held events put in the batch being built: out of [`HeldKeys`] once it is applied.
    released: Vec<(u64, i64, Arc<[u8]>)>,
    writes: RunWrites,
    /// Actor-days that started holding, oldest first, with the batch they started in (an entry whose
    /// actor-day has been written since, or holds from a later batch, is stale and skipped): the age and
    /// byte caps write from its front without looking at every actor-day.
    held_order: VecDeque<(u64, (i32, u64))>,
    /// Actor-days with a tail run only in the batch being built (see [`TailRun::pending`]).
    pending_in: Vec<(i32, u64)>,
    seq: AtomicU32,
    packer: Packer,
}

/// How run values are compressed: the store's dictionary, or the samples to train it on while there is none.
#[derive(Debug, Default)]
pub(super) struct Packer {
    /// The dictionary final runs are compressed with (see `zdict`); `None` until the store has one.
    dict: Option<std::sync::Arc<ZDict>>,
    /// Bodies of final runs kept to train the first dictionary on, while there is none.
    samples: Vec<Vec<u8>>,
    sample_bytes: usize,
}

impl Default for RunWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl RunWriter {
    pub(super) fn new() -> Self {
        Self {
            tails: HashMap::new(),
            newest_day: i32::MIN,
            hold: false,
            batch_no: 0,
            held_bytes: 0,
            released: Vec::new(),
            writes: RunWrites::default(),
            held_order: VecDeque::new(),
            pending_in: Vec::new(),
            seq: AtomicU32::new(rand::random()),
            packer: Packer::default(),
        }
    }

    /// Use `dict` for the runs written from now on (the store's current dictionary, at open).
    pub(super) fn set_dict(&mut self, dict: std::sync::Arc<ZDict>) {
        self.packer = Packer {
            dict: Some(dict),
            ..Packer::default()
        };
    }

    fn next_seq(&self) -> u32 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Forget what the writer knows (after a sweep deleted runs under it). Only once nothing is held
    /// ([`Store::write_held_locked`]): held events are in no other place.
    pub(super) fn forget(&mut self) {
        debug_assert!(self.tails.values().all(|t| t.held.is_empty()));
        self.tails.clear();
    }
}

/// Packs the runs of actor-days, given in key order, into full runs, all compressed (see
/// [`Store::import_runs`]).
#[derive(Default)]
struct Repack {
    at: Option<(i32, u64)>,
    run: RunBuilder,
    /// Events taken in.
    events: u64,
    /// Runs written since the caller last applied its batch.
    written: usize,
}

impl Repack {
    /// Take in the run `run` of actor-day `at`.
    fn add(
        &mut self,
        store: &Store,
        w: &mut RunWriter,
        batch: &mut sled::Batch,
        at: (i32, u64),
        run: &RunView<'_>,
    ) -> Result<(), StoreError> {
        if self.at != Some(at) {
            self.finish(store, w, batch)?;
            self.at = Some(at);
        }
        for e in run.entries() {
            if self.run.would_overflow(e.id.len() + e.body.len()) {
                self.emit(store, w, batch)?;
            }
            self.run.push(e.time_ms, e.id, e.body);
            self.events += 1;
        }
        Ok(())
    }

    /// Write out what is pending.
    fn finish(
        &mut self,
        store: &Store,
        w: &mut RunWriter,
        batch: &mut sled::Batch,
    ) -> Result<(), StoreError> {
        if !self.run.is_empty() {
            self.emit(store, w, batch)?;
        }
        Ok(())
    }

    fn emit(
        &mut self,
        store: &Store,
        w: &mut RunWriter,
        batch: &mut sled::Batch,
    ) -> Result<(), StoreError> {
        let b = std::mem::take(&mut self.run);
        let Some((day, ah)) = self.at else {
            return Ok(());
        };
        let key = run_key(day, ah, b.first_ms().unwrap_or(0), w.next_seq());
        batch.insert(&key[..], store.seal(&mut w.packer, &b, true)?);
        self.written += 1;
        Ok(())
    }
}

impl Store {
    /// The value of a run: compressed with the store's dictionary. A final one, while the store has no
    /// dictionary yet, goes in plain zstd and keeps its bodies to train one on; a small one then goes in lz4.
    /// Small runs are compressed too (each is written once and read back once, when sealed): with the
    /// dictionary a one-event run takes ~200 bytes where lz4 took ~600, and those bytes stay on disk as
    /// garbage until sled's cleaner reuses them.
    fn seal(&self, w: &mut Packer, b: &RunBuilder, fin: bool) -> Result<Vec<u8>, StoreError> {
        if !fin {
            return Ok(match w.dict.as_deref() {
                Some(d) => b.finish(true, Some(d)),
                None => b.finish_small(),
            });
        }
        if w.dict.is_none() {
            w.samples.push(b.bodies().to_vec());
            w.sample_bytes += b.bodies().len();
            if w.sample_bytes >= zdict::SAMPLE_BYTES && w.samples.len() >= zdict::SAMPLE_RUNS {
                self.train_dict(w)?;
            }
        }
        Ok(b.finish(true, w.dict.as_deref()))
    }

    /// Train the store's dictionary on the samples kept, store it (before any run that uses it, so a crash
    /// never leaves a run naming a dictionary the store lacks) and use it from now on. A sample zstd cannot
    /// train on is dropped and collected again.
    fn train_dict(&self, w: &mut Packer) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let samples = std::mem::take(&mut w.samples);
        w.sample_bytes = 0;
        let Some(raw) = zdict::train(&samples) else {
            tracing::warn!(
                runs = samples.len(),
                "no dictionary could be trained; sampling again"
            );
            return Ok(());
        };
        let dict = zdict::register(raw);
        self.meta
            .insert(dict_key(dict.id), dict.raw.as_slice())
            .map_err(|e| self.sled(e))?;
        self.meta
            .insert(META_DICT, &dict.id.to_be_bytes())
            .map_err(|e| self.sled(e))?;
        tracing::info!(
            dict = dict.id,
            runs = samples.len(),
            ms = started.elapsed().as_millis() as u64,
            "trained the store's compression dictionary"
        );
        w.dict = Some(dict);
        Ok(())
    }

    /// Seal the tails (see [`TAIL`]) of every actor-day before `before_day` (`None`: all of them): each is
    /// packed into full runs in the final space (the last one may be small), compressed with the dictionary.
    /// The tail of an actor-day that saw a few events stays small for good once the day is over, and such
    /// tails are most of the runs of a quiet organization. A running engine seals days before yesterday
    /// (today's and yesterday's may still grow); `vigil ingest` seals all at its end.
    ///
    /// Reads the tail space only. It once also read each actor-day's last final run, to pack it in when
    /// small: at 10M events that was a read of most of the store's leaves, which sled's cache kept resident
    /// (the ingest's peak went from ~220 to ~500 MB in its last seconds), for runs a time-ordered stream
    /// never leaves small (its final runs are all full; only merges of late events and retention cuts leave
    /// small ones there, and `vigil compact` packs those). Returns the runs rewritten. Not durable until
    /// [`Store::flush`].
    pub fn seal_small_runs(&self, before_day: Option<i32>) -> Result<u64, StoreError> {
        let mut w = self.run_writer.lock().unwrap_or_else(|p| p.into_inner());
        self.write_held_locked(&mut w)?;
        let mut end = vec![TAIL];
        match before_day {
            Some(day) => end.extend_from_slice(&super::keys::day_bytes(day)),
            None => end.extend_from_slice(&[0xFF; RUN_KEY]),
        }
        let mut sealed = 0u64;
        let mut batch = sled::Batch::default();
        let mut in_batch = 0;
        // One actor-day's tail: (day and actor hash, keys and values).
        let mut group: ((i32, u64), Vec<(sled::IVec, sled::IVec)>) = ((0, 0), Vec::new());
        for kv in self.runs.range(vec![TAIL]..end) {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            let rk = run_key_of(&k);
            let at = day_from_bytes(rk)
                .zip(super::keys::run_actor(rk))
                .ok_or_else(|| self.corrupt("event_runs", "malformed key"))?;
            if at != group.0 {
                in_batch += self.seal_tail(&mut w, &mut batch, &mut group)?;
            }
            group.0 = at;
            group.1.push((k, v));
            if in_batch >= 1_000 {
                self.runs
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(|e| self.sled(e))?;
                sealed += in_batch as u64;
                in_batch = 0;
            }
        }
        in_batch += self.seal_tail(&mut w, &mut batch, &mut group)?;
        sealed += in_batch as u64;
        self.runs.apply_batch(batch).map_err(|e| self.sled(e))?;
        // The writer's tails named runs that are gone now.
        w.forget();
        Ok(sealed)
    }

    /// Pack one actor-day's tail into full runs in the final space (see [`Store::seal_small_runs`]); empties
    /// the group and returns the runs it rewrote.
    fn seal_tail(
        &self,
        w: &mut RunWriter,
        batch: &mut sled::Batch,
        group: &mut ((i32, u64), Vec<(sled::IVec, sled::IVec)>),
    ) -> Result<usize, StoreError> {
        let olds = std::mem::take(&mut group.1);
        if olds.is_empty() {
            return Ok(0);
        }
        let (day, ah) = group.0;
        // Key order is (first time, sequence number): runs starting at the same instant may come in either
        // order; the sort by time puts every event back in place.
        let views = self.parse_runs(olds.iter().map(|(_, v)| &v[..]))?;
        let all = in_time_order(&views, &[]);
        for (k, _) in &olds {
            batch.remove(k);
        }
        for b in build_runs(all.into_iter()) {
            let key = run_key(day, ah, b.first_ms().unwrap_or(0), w.next_seq());
            batch.insert(&key[..], self.seal(&mut w.packer, &b, true)?);
        }
        Ok(olds.len())
    }

    /// Forget every dictionary but the one the writer uses: after [`Store::import_runs`] re-sealed every run
    /// with it, no run names another.
    pub(super) fn prune_dicts(&self) -> Result<(), StoreError> {
        let keep = self
            .run_writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .packer
            .dict
            .as_ref()
            .map(|d| dict_key(d.id));
        for kv in self.meta.scan_prefix(DICT_PREFIX) {
            let (k, _) = kv.map_err(|e| self.sled(e))?;
            if keep.as_deref() != Some(k.as_ref()) {
                self.meta.remove(k).map_err(|e| self.sled(e))?;
            }
        }
        Ok(())
    }

    /// Register every dictionary the store holds and give the writer the current one (at open).
    pub(super) fn load_dicts(&self) -> Result<(), StoreError> {
        for kv in self.meta.scan_prefix(DICT_PREFIX) {
            let (_, v) = kv.map_err(|e| self.sled(e))?;
            zdict::register(v.to_vec());
        }
        let Some(id) = self.meta.get(META_DICT).map_err(|e| self.sled(e))? else {
            return Ok(());
        };
        let id = u32::from_be_bytes(
            id.as_ref()
                .try_into()
                .map_err(|_| self.corrupt("meta", "malformed dictionary id"))?,
        );
        let dict = zdict::lookup(id)
            .ok_or_else(|| self.corrupt("meta", format!("dictionary {id} is missing")))?;
        self.run_writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_dict(dict);
        Ok(())
    }

    /// Store a batch of events, skipping those already stored (in the store or earlier in the batch). Returns
    /// which were new. Not durable until [`Store::flush`].
    pub fn insert_events(&self, events: &[AuditEvent]) -> Result<InsertOutcome, StoreError> {
        let mut planner = self.planner()?;
        let plan = planner.plan(events)?;
        let mut bodies: Vec<Vec<u8>> = events.iter().map(encode_event).collect();
        self.write_planned(events, &mut bodies, &plan)?;
        Ok(plan.outcome())
    }

    /// A [`Planner`] for inserts that follow, starting from what the store holds now.
    pub fn planner(&self) -> Result<Planner, StoreError> {
        let max_ms = self
            .last_event_time()?
            .map_or(i64::MIN, |t| t.timestamp_millis());
        Ok(Planner {
            store: self.clone(),
            max_ms,
            recent: VecDeque::new(),
            recent_ids: HashMap::new(),
        })
    }

    /// Whether this event (same actor, time and id) is stored. Runs of an actor-day do not overlap, so only
    /// the run starting at or before its time (and one before it on a tie) can hold it.
    fn event_stored(&self, ev: &AuditEvent) -> Result<bool, StoreError> {
        let t = ev.time_ms();
        let (day, ah) = (day_of(t), hash64(&ev.actor.id));
        // Held first, then the store: a held event leaves the set only once it is readable there.
        let held = self.held_keys.lock().unwrap_or_else(|p| p.into_inner());
        if !held.is_empty() && held.contains(&(ah, t, Arc::from(ev.id.as_bytes()))) {
            return Ok(true);
        }
        drop(held);
        let lo = run_key(day, ah, i64::MIN, 0);
        for kv in self.actor_day_runs(day, ah, &lo, t).rev() {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            if RunView::contains(&v, t, ev.id.as_bytes())
                .ok_or_else(|| self.corrupt("event_runs", "malformed run"))?
            {
                return Ok(true);
            }
            if run_first_ms(run_key_of(&k)).is_none_or(|f| f < t) {
                break;
            }
        }
        Ok(false)
    }

    /// Second half of an insert: write the events a plan marked new, with their encoded bodies
    /// ([`encode_event`]; the ones written or held are taken out of `bodies`). `events` must be the planned
    /// slice (same order and ids; the bodies may have been redacted since planning). One sled batch: a crash
    /// leaves all of it or none. While holding is on ([`Store::hold_writes`]), some events wait in memory
    /// for later batches.
    pub fn write_planned(
        &self,
        events: &[AuditEvent],
        bodies: &mut [Vec<u8>],
        plan: &EventPlan,
    ) -> Result<u64, StoreError> {
        let mut order: Vec<(i32, u64, i64, usize)> = (0..events.len())
            .filter(|i| plan.is_new(*i))
            .map(|i| {
                let t = events[i].time_ms();
                (day_of(t), hash64(&events[i].actor.id), t, i)
            })
            .collect();
        if order.is_empty() {
            return Ok(0);
        }
        // Stable: equal times keep arrival order.
        order.sort_by_key(|&(d, a, t, _)| (d, a, t));
        let newest = order.iter().map(|o| o.2).max().unwrap_or(i64::MIN);
        let mut w = self.run_writer.lock().unwrap_or_else(|p| p.into_inner());
        w.batch_no += 1;
        let mut batch = sled::Batch::default();
        let mut written = 0u64;
        for group in order.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let items: Vec<(i64, &[u8], Vec<u8>)> = group
                .iter()
                .map(|&(_, _, t, i)| {
                    let body = bodies.get_mut(i).map(std::mem::take).unwrap_or_default();
                    (t, events[i].id.as_bytes(), body)
                })
                .collect();
            written += self.append_group(&mut w, &mut batch, group[0].0, group[0].1, items)?;
        }
        // Held events that have waited long enough, and past the byte cap the ones that have waited longest.
        let due = w.batch_no.saturating_sub(HOLD_BATCHES);
        written += self.emit_held_while(&mut w, &mut batch, |_, since| since <= due)?;
        if w.held_bytes > HOLD_BYTES {
            written +=
                self.emit_held_while(&mut w, &mut batch, |w, _| w.held_bytes > HOLD_BYTES / 4 * 3)?;
        }
        let newest_day = day_of(newest);
        w.newest_day = w.newest_day.max(newest_day);
        if w.tails.len() > MAX_TAILS {
            // What is forgotten must be in the store first.
            written += self.emit_held_while(&mut w, &mut batch, |_, _| true)?;
        }
        // The newest-time watermark goes first: a `Planner` takes every event newer than it as new without
        // looking, so it must never fall behind stored events. Written after the batch, a crash between the
        // two (a full disk, a kill) left a durable batch under an old watermark, and the same input ingested
        // again stored that batch a second time. Ahead of the data after a crash, it only costs lookups.
        self.meta
            .fetch_and_update(META_LAST_EVENT, |old| {
                let cur = old
                    .and_then(|v| v.try_into().ok().map(i64::from_be_bytes))
                    .unwrap_or(i64::MIN);
                Some(cur.max(newest).to_be_bytes().to_vec())
            })
            .map_err(|e| self.sled(e))?;
        self.runs.apply_batch(batch).map_err(|e| self.sled(e))?;
        self.applied(&mut w);
        if w.tails.len() > MAX_TAILS {
            let keep_from = w.newest_day.saturating_sub(1);
            w.tails.retain(|(d, _), _| *d >= keep_from);
            // Still too many (a flood of distinct actors in one day): forget them all; each reloads with one
            // read when its actor writes again.
            if w.tails.len() > MAX_TAILS {
                w.tails.clear();
            }
        }
        drop(w);
        self.bump("events", written)?;
        Ok(order.len() as u64)
    }

    /// Hold appends back in memory (`true`) or write every batch whole (`false`, the default). For a bulk
    /// ingest, which calls [`Store::write_held`] (or [`Store::flush`]) before anything reads what it wrote: a
    /// time-ordered stream then writes most events once, straight into full runs, instead of once small and
    /// once sealed, and with one small run per actor-day every few batches, not one per batch. Measured at
    /// 1M events of a dense stream (10M over 30 days): ~600 fewer sled writes and zstd calls per thousand
    /// events. Held events are only in memory until written: a crash loses them, as it loses a batch sled
    /// has not flushed, and the pipeline's re-detection markers cover them. Turning it off writes them.
    pub fn hold_writes(&self, on: bool) -> Result<(), StoreError> {
        let mut w = self.run_writer.lock().unwrap_or_else(|p| p.into_inner());
        w.hold = on;
        if !on {
            self.write_held_locked(&mut w)?;
        }
        Ok(())
    }

    /// Write every held event (see [`Store::hold_writes`]), so that reads see them.
    pub fn write_held(&self) -> Result<(), StoreError> {
        let mut w = self.run_writer.lock().unwrap_or_else(|p| p.into_inner());
        self.write_held_locked(&mut w)
    }

    /// [`Store::write_held`] under the writer's lock: every writer-side operation other than an append starts
    /// with it, since they read or rewrite runs and would not see held events.
    pub(super) fn write_held_locked(&self, w: &mut RunWriter) -> Result<(), StoreError> {
        // Every actor-day holding is in the queue.
        if w.held_order.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        let written = self.emit_held_while(w, &mut batch, |_, _| true)?;
        self.runs.apply_batch(batch).map_err(|e| self.sled(e))?;
        self.applied(w);
        self.bump("events", written)
    }

    /// After a batch is applied: its runs are readable, and the held events it wrote are found there.
    fn applied(&self, w: &mut RunWriter) {
        let RunWriter {
            tails, pending_in, ..
        } = w;
        for at in pending_in.drain(..) {
            for r in tails.get_mut(&at).map_or(&mut [][..], |t| &mut t.runs[..]) {
                r.pending = None;
            }
        }
        if !w.released.is_empty() {
            let mut keys = self.held_keys.lock().unwrap_or_else(|p| p.into_inner());
            for k in w.released.drain(..) {
                keys.remove(&k);
            }
        }
    }

    /// Write the held events of actor-days from the front of the queue (oldest first) while `more` says so,
    /// given the writer and the batch the front one started holding in. Returns how many events.
    fn emit_held_while(
        &self,
        w: &mut RunWriter,
        batch: &mut sled::Batch,
        more: impl Fn(&RunWriter, u64) -> bool,
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        while let Some(&(since, at)) = w.held_order.front() {
            let live = w
                .tails
                .get(&at)
                .is_some_and(|t| !t.held.is_empty() && t.held_since == since);
            if live && !more(w, since) {
                break;
            }
            w.held_order.pop_front();
            if live {
                n += self.emit_held(w, batch, at.0, at.1)?;
            }
        }
        Ok(n)
    }

    /// Append one actor-day's new events (time order) to what it holds, merging late ones into the store as
    /// the tail policy says; what it holds is written once it makes a full run with the tail (or at once, when
    /// not holding). Returns the events written.
    fn append_group(
        &self,
        w: &mut RunWriter,
        batch: &mut sled::Batch,
        day: i32,
        ah: u64,
        items: Vec<(i64, &[u8], Vec<u8>)>,
    ) -> Result<u64, StoreError> {
        if let std::collections::hash_map::Entry::Vacant(e) = w.tails.entry((day, ah)) {
            e.insert(self.load_tail(day, ah)?);
        }
        let last_stored = w.tails.get(&(day, ah)).map_or(i64::MIN, |t| t.last_ms);
        // Late events: rewrite the runs they fall among. Only the late ones, so that a batch mixing a backfill
        // with live events rewrites the backfill's span, not the whole day. The rest follow every stored
        // event (held ones are newer still) and are appended as any others.
        let split = items.partition_point(|it| it.0 < last_stored);
        let mut written = 0;
        if split > 0 {
            let late: Vec<(i64, &[u8], &[u8])> = items[..split]
                .iter()
                .map(|(t, id, body)| (*t, *id, body.as_slice()))
                .collect();
            self.merge_out_of_order(w, batch, day, ah, &late)?;
            written += split as u64;
        }
        if split == items.len() {
            return Ok(written);
        }
        let batch_no = w.batch_no;
        let mut added = 0;
        let tail = w.tails.entry((day, ah)).or_default();
        if tail.held.is_empty() {
            tail.held_since = batch_no;
            if w.hold {
                w.held_order.push_back((batch_no, (day, ah)));
            }
        }
        let resort = tail.held.last().is_some_and(|h| h.time_ms > items[split].0);
        // While holding, the dedupe check must find held events (a planner remembers only its own recent
        // batches); they leave the set once written (see `HeldKeys`).
        let mut keys = w
            .hold
            .then(|| self.held_keys.lock().unwrap_or_else(|p| p.into_inner()));
        for (t, id, body) in items.into_iter().skip(split) {
            let id: Arc<[u8]> = id.into();
            if let Some(keys) = keys.as_mut() {
                keys.insert((ah, t, id.clone()));
            }
            added += id.len() + body.len();
            tail.held.push(Held {
                time_ms: t,
                id,
                body,
            });
        }
        drop(keys);
        if resort {
            // Stable: equal times keep arrival order.
            tail.held.sort_by_key(|h| h.time_ms);
        }
        let (count, bytes) = tail.run_size();
        tail.held_bytes += added;
        let full = is_final(count + tail.held.len(), bytes + tail.held_bytes);
        w.held_bytes += added;
        if full || !w.hold {
            written += self.emit_held(w, batch, day, ah)?;
        }
        Ok(written)
    }

    /// Write what one actor-day holds: sealed with its tail into full runs in the final space once together
    /// they make one (the last run built, if small, becomes the tail), else as one small run in the tail.
    /// Each event is written twice at most (small, then final) however the stream is batched: the
    /// binary-counter merge this replaced rewrote it four or five times, and every rewrite is garbage sled
    /// keeps on disk until its cleaner catches up. Returns the events written.
    fn emit_held(
        &self,
        w: &mut RunWriter,
        batch: &mut sled::Batch,
        day: i32,
        ah: u64,
    ) -> Result<u64, StoreError> {
        let RunWriter {
            tails,
            packer,
            seq,
            held_bytes,
            hold,
            released,
            writes,
            pending_in,
            ..
        } = w;
        let Some(tail) = tails.get_mut(&(day, ah)) else {
            return Ok(0);
        };
        let held = std::mem::take(&mut tail.held);
        let new_bytes = std::mem::take(&mut tail.held_bytes);
        let Some(last) = held.last().map(|h| h.time_ms) else {
            return Ok(0);
        };
        let first = held[0].time_ms;
        if *hold {
            released.extend(held.iter().map(|h| (ah, h.time_ms, h.id.clone())));
        }
        *held_bytes = held_bytes.saturating_sub(new_bytes);
        let (count, bytes) = tail.run_size();
        let sealing = !tail.runs.is_empty() && is_final(count + held.len(), bytes + new_bytes);
        let olds: Vec<([u8; TAIL_KEY], Vec<u8>)> = if sealing {
            let mut olds = Vec::with_capacity(tail.runs.len());
            for r in tail.runs.drain(..) {
                let v = match r.pending {
                    Some(v) => v,
                    None => self.run_value(&r.key)?,
                };
                olds.push((r.key, v));
            }
            olds
        } else {
            Vec::new()
        };
        let views = self.parse_runs(olds.iter().map(|(_, v)| &v[..]))?;
        let items: Vec<(i64, &[u8], &[u8])> = held
            .iter()
            .map(|h| (h.time_ms, &h.id[..], h.body.as_slice()))
            .collect();
        let all = in_time_order(&views, &items);
        for (key, _) in &olds {
            batch.remove(&key[..]);
        }
        for b in build_runs(all.into_iter()) {
            let key = run_key(
                day,
                ah,
                b.first_ms().unwrap_or(first),
                seq.fetch_add(1, Ordering::Relaxed),
            );
            let fin = b.is_final();
            let value = self.seal(packer, &b, fin)?;
            if fin {
                // Only the last run built can be small; every full one before it is sealed for good.
                batch.insert(&key[..], value.as_slice());
                tail.runs.clear();
                writes.final_runs += 1;
            } else {
                let key = tail_key(&key);
                batch.insert(&key[..], value.as_slice());
                writes.small += 1;
                pending_in.push((day, ah));
                tail.runs.push(TailRun {
                    key,
                    count: b.len(),
                    bytes: b.payload_bytes(),
                    pending: Some(value),
                });
            }
        }
        tail.last_ms = tail.last_ms.max(last);
        Ok(held.len() as u64)
    }

    /// What the writer needs to know of an actor-day it has not seen in this process: its newest event time
    /// and its tail, which the next appends seal together.
    fn load_tail(&self, day: i32, ah: u64) -> Result<Tail, StoreError> {
        let lo = run_key(day, ah, i64::MIN, 0);
        let hi = run_key(day, ah, i64::MAX, u32::MAX);
        let mut tail = Tail {
            last_ms: i64::MIN,
            ..Tail::default()
        };
        let malformed = || self.corrupt("event_runs", "malformed run");
        // Every run of the tail: sealing only some would put final runs after the rest.
        for kv in self.runs.range(tail_key(&lo)..=tail_key(&hi)).rev() {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            if tail.last_ms == i64::MIN {
                tail.last_ms = RunView::header(&v).ok_or_else(malformed)?.1;
            }
            let (count, bytes) = RunView::size(&v).ok_or_else(malformed)?;
            let key: [u8; TAIL_KEY] = k
                .as_ref()
                .try_into()
                .map_err(|_| self.corrupt("event_runs", "malformed key"))?;
            tail.runs.push(TailRun {
                key,
                count,
                bytes,
                pending: None,
            });
        }
        tail.runs.reverse();
        if tail.runs.is_empty()
            && let Some(kv) = self.runs.range(lo..=hi).next_back()
        {
            let (_, v) = kv.map_err(|e| self.sled(e))?;
            tail.last_ms = RunView::header(&v).ok_or_else(malformed)?.1;
        }
        Ok(tail)
    }

    /// The runs of one actor-day from the key `from` (of either space) through the last run starting at or
    /// before `to_ms`: the final space's, then the tail space's, which is time order (a tail never holds an
    /// event older than the actor-day's final runs). Reversed, newest first.
    fn actor_day_runs(
        &self,
        day: i32,
        ah: u64,
        from: &[u8],
        to_ms: i64,
    ) -> Chain<sled::Iter, sled::Iter> {
        let hi = run_key(day, ah, to_ms, u32::MAX);
        let tail_from = if is_tail(from) {
            from.to_vec()
        } else {
            tail_key(&run_key(day, ah, i64::MIN, 0)).to_vec()
        };
        // From a tail key, the first range is empty (its start sorts after its end).
        self.runs
            .range(from.to_vec()..=hi.to_vec())
            .chain(self.runs.range(tail_from..=tail_key(&hi).to_vec()))
    }

    /// Every run of one day, every actor: the final space's, then the tail space's (neither in time order
    /// across actors).
    fn day_runs(&self, day: i32) -> Chain<sled::Iter, sled::Iter> {
        let lo = run_key(day, 0, i64::MIN, 0);
        let hi = run_key(day, u64::MAX, i64::MAX, u32::MAX);
        self.runs
            .range(lo..=hi)
            .chain(self.runs.range(tail_key(&lo)..=tail_key(&hi)))
    }

    /// Where a scan of an actor-day's runs from time `t` on must start: the key of the run starting at or
    /// before `t` (runs do not overlap, so it is the one that may hold `t`), in either space, else the day's
    /// first key.
    fn run_holding(&self, day: i32, ah: u64, t: i64) -> Result<Vec<u8>, StoreError> {
        let lo = run_key(day, ah, i64::MIN, 0);
        match self.actor_day_runs(day, ah, &lo, t).next_back() {
            Some(kv) => Ok(kv.map_err(|e| self.sled(e))?.0.to_vec()),
            None => Ok(lo.to_vec()),
        }
    }

    /// Parse run values the writer is about to rewrite; any damage is an error naming the tree.
    fn parse_runs<'v>(
        &self,
        values: impl Iterator<Item = &'v [u8]>,
    ) -> Result<Vec<RunView<'v>>, StoreError> {
        values
            .map(RunView::parse)
            .collect::<Option<_>>()
            .ok_or_else(|| self.corrupt("event_runs", "malformed run"))
    }

    fn run_value(&self, key: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.runs
            .get(key)
            .map_err(|e| self.sled(e))?
            .map(|v| v.to_vec())
            .ok_or_else(|| self.corrupt("event_runs", "a run the writer knew is gone"))
    }

    /// Late events: read every run of the actor-day that overlaps their span, sort everything together and
    /// write it back, so runs still never overlap. When no final run starts after the span, the tail follows
    /// it and is taken in whole: the full runs built go to the final space and the last one, if small,
    /// becomes the tail. Otherwise everything goes to the final space and the tail is left as it is.
    fn merge_out_of_order(
        &self,
        w: &mut RunWriter,
        batch: &mut sled::Batch,
        day: i32,
        ah: u64,
        items: &[(i64, &[u8], &[u8])],
    ) -> Result<(), StoreError> {
        let (first, last) = (items[0].0, items[items.len() - 1].0);
        // The run starting at or before `first` may reach into the span; every run starting up to `last` does.
        // (When the one at `first` is in the tail, no final run can reach the span and this range is empty.)
        let start = self.run_holding(day, ah, first)?;
        let hi = run_key(day, ah, last, u32::MAX);
        let mut old: Vec<(sled::IVec, sled::IVec)> = Vec::new();
        for kv in self.runs.range(start..=hi.to_vec()) {
            old.push(kv.map_err(|e| self.sled(e))?);
        }
        let day_end = run_key(day, ah, i64::MAX, u32::MAX);
        let next = self
            .runs
            .range((
                Bound::Excluded(hi.to_vec()),
                Bound::Included(day_end.to_vec()),
            ))
            .next()
            .transpose()
            .map_err(|e| self.sled(e))?;
        let into_tail = match next {
            // The final run just after the span, when it is small, is taken in too: input that arrives newest
            // first (an API export, page after page) then still packs into full runs instead of one small run
            // per actor and batch.
            Some((k, v)) => {
                if RunView::is_small(&v)
                    .ok_or_else(|| self.corrupt("event_runs", "malformed run"))?
                {
                    old.push((k, v));
                }
                false
            }
            None => {
                let lo = run_key(day, ah, i64::MIN, 0);
                for kv in self.runs.range(tail_key(&lo)..=tail_key(&day_end)) {
                    old.push(kv.map_err(|e| self.sled(e))?);
                }
                true
            }
        };
        let runs = self.parse_runs(old.iter().map(|(_, v)| &v[..]))?;
        let all = in_time_order(&runs, items);
        for (k, _) in &old {
            batch.remove(k);
        }
        let built = build_runs(all.into_iter());
        let n = built.len();
        let mut tail_runs = Vec::new();
        for (i, b) in built.into_iter().enumerate() {
            let key = run_key(day, ah, b.first_ms().unwrap_or(first), w.next_seq());
            let fin = b.is_final();
            let value = self.seal(&mut w.packer, &b, fin)?;
            if into_tail && !fin && i + 1 == n {
                let key = tail_key(&key);
                batch.insert(&key[..], value.as_slice());
                w.writes.small += 1;
                w.pending_in.push((day, ah));
                tail_runs.push(TailRun {
                    key,
                    count: b.len(),
                    bytes: b.payload_bytes(),
                    pending: Some(value),
                });
            } else {
                batch.insert(&key[..], value);
                w.writes.final_runs += 1;
            }
        }
        if into_tail {
            let tail = w.tails.entry((day, ah)).or_default();
            tail.runs = tail_runs;
            tail.last_ms = tail.last_ms.max(last);
        }
        Ok(())
    }

    /// Number of events stored.
    pub fn event_count(&self) -> u64 {
        self.counter("events")
    }

    /// Events of every actor in time order within `[from, to)`, at most `limit` (a day at a time).
    pub fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        let Some((min_day, max_day)) = self.day_span()? else {
            return Ok(out);
        };
        for day in day_of(from).max(min_day)..=day_of(to - 1).min(max_day) {
            let mut today: Vec<AuditEvent> = Vec::new();
            for kv in self.day_runs(day) {
                let (_, v) = kv.map_err(|e| self.sled(e))?;
                let run = RunView::parse(&v)
                    .ok_or_else(|| self.corrupt("event_runs", "malformed run"))?;
                for e in run.entries().filter(|e| (from..to).contains(&e.time_ms)) {
                    today.push(self.decode_entry(&e)?);
                }
            }
            today.sort_by_key(AuditEvent::time_ms);
            out.extend(today);
            if out.len() >= limit {
                break;
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    fn decode_entry(&self, e: &super::run::Entry<'_>) -> Result<AuditEvent, StoreError> {
        decode(e.id, e.time_ms, e.body)
            .ok_or_else(|| self.corrupt("event_runs", "undecodable event"))
    }

    /// The newest stored event time, if any.
    pub fn last_event_time(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let v = self.meta.get(META_LAST_EVENT).map_err(|e| self.sled(e))?;
        Ok(v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(i64::from_be_bytes)
            .filter(|ms| *ms != i64::MIN)
            .and_then(DateTime::from_timestamp_millis))
    }

    /// First and last day holding any run (of either space).
    fn day_span(&self) -> Result<Option<(i32, i32)>, StoreError> {
        let finals = || self.runs.range(..[TAIL]);
        let tails = || self.runs.range([TAIL]..);
        let ends = [
            finals().next(),
            finals().next_back(),
            tails().next(),
            tails().next_back(),
        ];
        let mut span: Option<(i32, i32)> = None;
        for kv in ends.into_iter().flatten() {
            let (k, _) = kv.map_err(|e| self.sled(e))?;
            let day = day_from_bytes(run_key_of(&k))
                .ok_or_else(|| self.corrupt("event_runs", "malformed key"))?;
            span = Some(span.map_or((day, day), |(a, b)| (a.min(day), b.max(day))));
        }
        Ok(span)
    }

    /// An actor's events around a moment: up to `before` events at or before `around` and up to `after` events
    /// after it, oldest first. Walks the actor's runs outward from `around`, a day at a time; cost grows with
    /// `before + after` (and the number of days without activity crossed), not with the actor's history.
    pub fn actor_timeline(
        &self,
        actor_id: &str,
        around: DateTime<Utc>,
        before: usize,
        after: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let Some((min_day, max_day)) = self.day_span()? else {
            return Ok(Vec::new());
        };
        let ah = hash64(actor_id);
        let t = around.timestamp_millis();
        let d0 = day_of(t);

        let mut older: Vec<AuditEvent> = Vec::new();
        let mut day = d0.min(max_day);
        while older.len() < before && day >= min_day {
            let to = if day == d0 { t } else { i64::MAX };
            let lo = run_key(day, ah, i64::MIN, 0);
            for kv in self.actor_day_runs(day, ah, &lo, to).rev() {
                let (_, v) = kv.map_err(|e| self.sled(e))?;
                let run = RunView::parse(&v)
                    .ok_or_else(|| self.corrupt("event_runs", "malformed run"))?;
                for e in run.entries().rev().filter(|e| e.time_ms <= t) {
                    let ev = self.decode_entry(&e)?;
                    // Two actors may share a hash; the key only narrows, the id decides.
                    if ev.actor.id == actor_id {
                        older.push(ev);
                    }
                }
                if older.len() >= before {
                    break;
                }
            }
            day -= 1;
        }
        older.truncate(before);
        older.reverse();

        let mut newer: Vec<AuditEvent> = Vec::new();
        let mut day = d0.max(min_day);
        while newer.len() < after && day <= max_day {
            // On the first day, start at the run holding `around`: its later events are after it.
            let start = if day == d0 {
                self.run_holding(day, ah, t)?
            } else {
                run_key(day, ah, i64::MIN, 0).to_vec()
            };
            for kv in self.actor_day_runs(day, ah, &start, i64::MAX) {
                let (_, v) = kv.map_err(|e| self.sled(e))?;
                let run = RunView::parse(&v)
                    .ok_or_else(|| self.corrupt("event_runs", "malformed run"))?;
                for e in run.entries().filter(|e| e.time_ms > t) {
                    let ev = self.decode_entry(&e)?;
                    if ev.actor.id == actor_id {
                        newer.push(ev);
                    }
                }
                if newer.len() >= after {
                    break;
                }
            }
            day += 1;
        }
        newer.truncate(after);
        older.extend(newer);
        Ok(older)
    }

    /// Every stored event of an actor, a UTC day at a time, each day's events in `(time, id)` order: what
    /// re-detection replays. Memory is bounded by the actor's busiest day, not its history.
    pub fn actor_history(
        &self,
        actor_id: &str,
        mut each_day: impl FnMut(Vec<AuditEvent>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let Some((min_day, max_day)) = self.day_span()? else {
            return Ok(());
        };
        let ah = hash64(actor_id);
        for day in min_day..=max_day {
            let lo = run_key(day, ah, i64::MIN, 0);
            let mut events = Vec::new();
            for kv in self.actor_day_runs(day, ah, &lo, i64::MAX) {
                let (_, v) = kv.map_err(|e| self.sled(e))?;
                let run = RunView::parse(&v)
                    .ok_or_else(|| self.corrupt("event_runs", "malformed run"))?;
                for e in run.entries() {
                    let ev = self.decode_entry(&e)?;
                    // Two actors may share a hash; the key only narrows, the id decides.
                    if ev.actor.id == actor_id {
                        events.push(ev);
                    }
                }
            }
            // sled's page cache records accesses in 256 shards and only acts on a shard's accesses 64 at a
            // time, so one pass over many large pages (a replay reads an actor's whole history) leaves most of
            // them resident whatever `cache_capacity` says: reading a 1M-event store back held ~330 MB.
            // Touching the day's pages again (cheap: they are in memory now) lets the cache see the accesses
            // and evict down to its size (~130 MB for the same read).
            for _ in 0..LRU_TOUCHES {
                for kv in self.actor_day_runs(day, ah, &lo, i64::MAX) {
                    kv.map_err(|e| self.sled(e))?;
                }
            }
            if !events.is_empty() {
                events.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
                each_day(events)?;
            }
        }
        Ok(())
    }

    /// An actor's events with time in `[from, to]`, oldest first, at most `limit`.
    pub fn actor_events_between(
        &self,
        actor_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.visit_actor_events(actor_id, from, to, |ev| {
            out.push(ev);
            out.len() < limit
        })?;
        Ok(out)
    }

    /// Hand an actor's events with time in `[from, to]` to `each`, oldest first, until it returns `false`.
    /// The alert detail's evidence and login baseline read through it: they stop as soon as they have what
    /// they came for, so the cost follows what they need, not the actor's whole span.
    pub fn visit_actor_events(
        &self,
        actor_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(AuditEvent) -> bool,
    ) -> Result<(), StoreError> {
        let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
        let ah = hash64(actor_id);
        if from > to {
            return Ok(());
        }
        for day in day_of(from)..=day_of(to) {
            // The run starting at or before `from` may hold events of the span.
            let start = self.run_holding(day, ah, from)?;
            for kv in self.actor_day_runs(day, ah, &start, to) {
                let (_, v) = kv.map_err(|e| self.sled(e))?;
                let run = RunView::parse(&v)
                    .ok_or_else(|| self.corrupt("event_runs", "malformed run"))?;
                for e in run.entries().filter(|e| (from..=to).contains(&e.time_ms)) {
                    let ev = self.decode_entry(&e)?;
                    // Two actors may share a hash; the key only narrows, the id decides.
                    if ev.actor.id == actor_id && !each(ev) {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Delete events older than `before`; returns how many went. Retention. Whole days before `before`'s day
    /// go run by run; runs of that day are cut at `before`.
    pub fn delete_events_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let cut = before.timestamp_millis();
        let cut_day = day_of(cut);
        let mut w = self.run_writer.lock().unwrap_or_else(|p| p.into_inner());
        self.write_held_locked(&mut w)?;
        let mut n = 0u64;
        // Whole days, in both spaces.
        let end = run_prefix(cut_day, 0);
        let mut tail_end = vec![TAIL];
        tail_end.extend_from_slice(&end);
        for (from, to) in [(Vec::new(), end.to_vec()), (vec![TAIL], tail_end)] {
            loop {
                let mut batch = sled::Batch::default();
                let mut in_batch = 0;
                for kv in self.runs.range(from.clone()..to.clone()).take(2_000) {
                    let (k, v) = kv.map_err(|e| self.sled(e))?;
                    n += RunView::header(&v).map_or(0, |(c, _)| c as u64);
                    batch.remove(k);
                    in_batch += 1;
                }
                if in_batch == 0 {
                    break;
                }
                self.runs.apply_batch(batch).map_err(|e| self.sled(e))?;
            }
        }
        // The cut day: drop or trim runs that start before the cut (a tail's rest stays in the tail).
        let mut batch = sled::Batch::default();
        for kv in self.day_runs(cut_day) {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            if run_first_ms(run_key_of(&k)).is_none_or(|f| f >= cut) {
                continue;
            }
            let run =
                RunView::parse(&v).ok_or_else(|| self.corrupt("event_runs", "malformed run"))?;
            let keep: Vec<_> = run.entries().filter(|e| e.time_ms >= cut).collect();
            n += (run.len() - keep.len()) as u64;
            batch.remove(k.clone());
            if let Some(first) = keep.first() {
                let mut b = RunBuilder::default();
                for e in &keep {
                    b.push(e.time_ms, e.id, e.body);
                }
                let mut key = k.to_vec();
                let at = key.len() - RUN_KEY + 12;
                key[at..at + 8].copy_from_slice(&super::keys::time_bytes(first.time_ms));
                batch.insert(key, self.seal(&mut w.packer, &b, b.is_final())?);
            }
        }
        self.runs.apply_batch(batch).map_err(|e| self.sled(e))?;
        w.forget();
        drop(w);
        if n > 0 {
            self.meta
                .fetch_and_update(b"events", |old| {
                    let c = old
                        .and_then(|v| v.try_into().ok().map(u64::from_be_bytes))
                        .unwrap_or(0);
                    Some(c.saturating_sub(n).to_be_bytes().to_vec())
                })
                .map_err(|e| self.sled(e))?;
        }
        Ok(n)
    }

    /// Runs written by appends and merges since the store opened (see [`RunWrites`]).
    pub fn run_writes(&self) -> RunWrites {
        self.run_writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .writes
    }

    /// Number of run entries (what sled's open cost follows). Walks the tree: for the benches.
    #[doc(hidden)]
    pub fn event_run_entries(&self) -> usize {
        self.runs.len()
    }

    /// Copy the runs of `old` (schema 3 or this one) into this store, each sealed as this schema seals it:
    /// final runs in zstd with a dictionary trained first on the earliest of them, so that every run gets it.
    /// What the migration from schema 3 and `vigil compact` do with events. Returns the events copied.
    pub(super) fn import_runs(&self, old: &sled::Db) -> Result<u64, StoreError> {
        let tree = old.open_tree("event_runs").map_err(|e| self.sled(e))?;
        let mut w = self.run_writer.lock().unwrap_or_else(|p| p.into_inner());
        self.write_held_locked(&mut w)?;
        let reseal = |v: &[u8]| -> Option<RunBuilder> { Some(concat(&[RunView::parse(v)?])) };
        let w = &mut *w;
        if w.packer.dict.is_none() {
            for kv in tree.iter() {
                let (_, v) = kv.map_err(|e| self.sled(e))?;
                let b = reseal(&v).ok_or_else(|| self.corrupt("event_runs", "malformed run"))?;
                if b.is_final() {
                    w.packer.samples.push(b.bodies().to_vec());
                    w.packer.sample_bytes += b.bodies().len();
                    if w.packer.sample_bytes >= zdict::SAMPLE_BYTES
                        && w.packer.samples.len() >= zdict::SAMPLE_RUNS
                    {
                        break;
                    }
                }
            }
            // A store too small to train on keeps collecting as it grows.
            if w.packer.samples.len() >= 8 {
                self.train_dict(&mut w.packer)?;
            }
        }
        // Each actor-day's runs, in time order (its final runs, then its tail), are packed again into as few
        // full runs as the caps allow, all compressed, all in the final space: fewer entries, and every event
        // written once. Two cursors, one per key space, merged by actor-day.
        let mut batch = sled::Batch::default();
        let mut packing = Repack::default();
        let mut finals = tree.range(..[TAIL]).peekable();
        let mut tails = tree.range([TAIL]..).peekable();
        let at_of = |k: &[u8]| -> Option<[u8; 12]> { run_key_of(k).get(..12)?.try_into().ok() };
        loop {
            let take_tail = match (finals.peek(), tails.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(Ok((f, _))), Some(Ok((t, _)))) => at_of(t) < at_of(f),
                // An error: take it from whichever cursor holds it.
                (Some(Err(_)), _) => false,
                (_, Some(Err(_))) => true,
            };
            let next = if take_tail {
                tails.next()
            } else {
                finals.next()
            };
            let Some(kv) = next else { break };
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            let k = run_key_of(&k);
            let run =
                RunView::parse(&v).ok_or_else(|| self.corrupt("event_runs", "malformed run"))?;
            let at = (
                day_from_bytes(k).ok_or_else(|| self.corrupt("event_runs", "malformed key"))?,
                super::keys::run_actor(k)
                    .ok_or_else(|| self.corrupt("event_runs", "malformed key"))?,
            );
            packing.add(self, w, &mut batch, at, &run)?;
            if packing.written >= 1_000 {
                self.runs
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(|e| self.sled(e))?;
                packing.written = 0;
            }
        }
        packing.finish(self, w, &mut batch)?;
        let n = packing.events;
        self.runs.apply_batch(batch).map_err(|e| self.sled(e))?;
        Ok(n)
    }

    /// Event runs by value format (plain, lz4, zstd without and with a dictionary): (runs, events, bytes)
    /// each, for the benches.
    #[doc(hidden)]
    pub fn run_formats(&self) -> Result<[(u64, u64, u64); 4], StoreError> {
        let mut out = [(0u64, 0u64, 0u64); 4];
        for kv in self.runs.iter() {
            let (_, v) = kv.map_err(|e| self.sled(e))?;
            let slot = match (super::run::codec_of(&v), super::run::dict_of(&v)) {
                (_, Some(0)) => 2,
                (_, Some(_)) => 3,
                (Some(2), None) => 1,
                _ => 0,
            };
            out[slot].0 += 1;
            out[slot].1 += RunView::header(&v).map_or(0, |h| h.0 as u64);
            out[slot].2 += v.len() as u64;
        }
        Ok(out)
    }

    /// Runs with the fixed-size directory of schemas 3 and 4. For the migration tests.
    #[doc(hidden)]
    pub fn fixed_layout_runs(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for kv in self.runs.iter() {
            let (_, v) = kv.map_err(|e| self.sled(e))?;
            let compact = super::run::is_compact(&v)
                .ok_or_else(|| self.corrupt("event_runs", "malformed run"))?;
            n += u64::from(!compact);
        }
        Ok(n)
    }

    /// Every run in time order per actor-day (final space, then tail): (day and actor, whether it is small,
    /// whether it is in the tail). For the tests of the tail policy.
    #[doc(hidden)]
    pub fn run_sizes(&self) -> Result<Vec<([u8; 12], bool, bool)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.runs.iter() {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            let at: [u8; 12] = run_key_of(&k)
                .get(..12)
                .and_then(|p| p.try_into().ok())
                .ok_or_else(|| self.corrupt("event_runs", "malformed key"))?;
            let small =
                RunView::is_small(&v).ok_or_else(|| self.corrupt("event_runs", "malformed run"))?;
            out.push((at, small, is_tail(&k)));
        }
        // Stable: each space's runs keep their key order.
        out.sort_by_key(|r| (r.0, r.2));
        Ok(out)
    }

    /// Write `events` as schema 3 did (final runs in lz4), for the migration tests; bumps the event count.
    #[doc(hidden)]
    pub fn put_schema3_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // Schema 3 stored each event's whole JSON.
        let whole = |e: &AuditEvent| serde_json::to_vec(e).unwrap_or_default();
        let mut batch = sled::Batch::default();
        for (key, value) in packed_runs(events, whole, |b| b.finish_schema3(b.is_final())) {
            batch.insert(&key[..], value);
        }
        self.runs.apply_batch(batch).map_err(|e| self.sled(e))?;
        self.bump("events", events.len() as u64)?;
        let newest = events
            .iter()
            .map(AuditEvent::time_ms)
            .max()
            .unwrap_or(i64::MIN);
        self.meta
            .insert(META_LAST_EVENT, &newest.to_be_bytes())
            .map_err(|e| self.sled(e))?;
        self.flush()
    }

    /// Whether the run holding the event `id` of `actor` at `time` is compressed with a dictionary, and which
    /// (0: none; `None`: the event is not in a zstd run). For the tests of the codec policy.
    #[doc(hidden)]
    pub fn dict_of_run(&self, actor: &str, time: DateTime<Utc>) -> Result<Option<u32>, StoreError> {
        let t = time.timestamp_millis();
        let (day, ah) = (day_of(t), hash64(actor));
        let lo = run_key(day, ah, i64::MIN, 0);
        let Some(kv) = self.actor_day_runs(day, ah, &lo, t).next_back() else {
            return Ok(None);
        };
        let (_, v) = kv.map_err(|e| self.sled(e))?;
        Ok(super::run::dict_of(&v))
    }

    /// Schemas 0–2 → 3: read the old actor index (actor hash + time + id hash → event JSON) of `old`, which is
    /// already in actor-then-time order, and write it as full runs. The event counter comes over with meta.
    pub(super) fn import_legacy_events(&self, old: &sled::Db) -> Result<u64, StoreError> {
        #[derive(serde::Deserialize)]
        struct IdOnly {
            id: String,
        }
        let old = old.open_tree("events_by_actor").map_err(|e| self.sled(e))?;
        let mut n = 0u64;
        let mut newest = i64::MIN;
        let mut batch = sled::Batch::default();
        let mut in_batch = 0;
        let mut group: Vec<(i64, String, sled::IVec)> = Vec::new();
        let mut group_at: Option<(u64, i32)> = None;
        let mut seq = 0u32;
        let mut flush_group = |group: &mut Vec<(i64, String, sled::IVec)>,
                               at: (u64, i32),
                               batch: &mut sled::Batch,
                               in_batch: &mut usize| {
            for b in build_runs(
                group
                    .iter()
                    .map(|(t, id, body)| (*t, id.as_bytes(), body.as_ref())),
            ) {
                seq = seq.wrapping_add(1);
                let key = run_key(at.1, at.0, b.first_ms().unwrap_or(0), seq);
                batch.insert(&key[..], b.finish(b.is_final(), None));
                *in_batch += 1;
            }
            group.clear();
        };
        for kv in old.iter() {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            let (Some(ah), Some(t)) = (
                k.get(..8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes),
                k.get(8..16).map(super::keys::time_from_bytes),
            ) else {
                return Err(self.corrupt("events_by_actor", "malformed key"));
            };
            let id = serde_json::from_slice::<IdOnly>(&v)
                .map_err(|e| self.corrupt("events_by_actor", format!("undecodable event: {e}")))?
                .id;
            let at = (ah, day_of(t));
            if group_at.is_some_and(|g| g != at) {
                flush_group(
                    &mut group,
                    group_at.unwrap_or(at),
                    &mut batch,
                    &mut in_batch,
                );
            }
            group_at = Some(at);
            group.push((t, id, v));
            newest = newest.max(t);
            n += 1;
            if in_batch >= 1_000 {
                self.runs
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(|e| self.sled(e))?;
                in_batch = 0;
            }
        }
        if let Some(at) = group_at {
            flush_group(&mut group, at, &mut batch, &mut in_batch);
        }
        self.runs.apply_batch(batch).map_err(|e| self.sled(e))?;
        if n > 0 {
            let last = self
                .last_event_time()?
                .map_or(i64::MIN, |t| t.timestamp_millis());
            self.meta
                .insert(META_LAST_EVENT, &last.max(newest).to_be_bytes())
                .map_err(|e| self.sled(e))?;
        }
        Ok(n)
    }

    /// Write events the way schema 2 did (a primary tree and an actor index holding the JSON), for the
    /// migration test. Bumps the event counter as schema 2 did.
    #[doc(hidden)]
    pub fn put_legacy_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let primary = self.db.open_tree("events").map_err(|e| self.sled(e))?;
        let by_actor = self
            .db
            .open_tree("events_by_actor")
            .map_err(|e| self.sled(e))?;
        for ev in events {
            let ah = hash64(&ev.actor.id);
            let key = super::keys::event_key(ev.time_ms(), hash64(&ev.id));
            let mut pv = ah.to_be_bytes().to_vec();
            pv.extend_from_slice(&(ev.id.len() as u16).to_be_bytes());
            pv.extend_from_slice(ev.id.as_bytes());
            primary.insert(key, pv).map_err(|e| self.sled(e))?;
            by_actor
                .insert(
                    super::keys::actor_key(ah, &key),
                    serde_json::to_vec(ev).unwrap_or_default(),
                )
                .map_err(|e| self.sled(e))?;
        }
        self.bump("events", events.len() as u64)
    }
}

/// Meta key of the newest event time stored (big-endian i64 ms).
pub(super) const META_LAST_EVENT: &[u8] = b"events.last_ms";

/// Meta key of the current dictionary's id.
pub(super) const META_DICT: &[u8] = b"zdict.current";
/// Meta key prefix of the dictionaries, by id (kept for as long as the store lives: runs name them).
const DICT_PREFIX: &[u8] = b"zdict/";

fn dict_key(id: u32) -> Vec<u8> {
    let mut k = DICT_PREFIX.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}
