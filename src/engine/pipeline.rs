//! The ingest pipeline, in two stages that run on two threads when reading a stream:
//!
//! 1. *prepare* (reader thread): frame and parse records, plan which events are new ([`Planner`]: no store
//!    read for a time-ordered stream), run the detector on the new ones in arrival order, redact the secrets
//!    it found;
//! 2. *commit* (caller's thread): encode the new events, write the batch, group its drafts into alerts, fill
//!    evidence from the actor index, write the alerts it touched.
//!
//! Since the store packs events into runs, parsing is what bounds ingest; encoding sits on the commit side to
//! even the two threads out. The engine's HTTP requests, already parsed, come through
//! [`Pipeline::process_parts`]: several requests as one batch in time order. Success is reported
//! only after [`Pipeline::finish`] (or [`Pipeline::checkpoint`]) has flushed.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;

use chrono::Utc;
use ulid::Ulid;

use super::redetect::{fill_evidence, reconcile, replay_actor};
use super::workers::BatchCounts;
use crate::detect::tuning::Tuning;
use crate::detect::{AlertDraft, Detector, DetectorState, absorb, alert_from_draft, can_absorb};
use crate::ingest::{Reader, Record, RejectedRecord, SortLimits, TimeSorter};
use crate::model::TimeLimits;
use crate::model::{Alert, AuditEvent};
use crate::store::{EventPlan, Planner, QuarantineRecord, Store, StoreError, encode_event};

/// Events per store batch: large enough to amortise sled's per-batch cost, small enough to bound memory.
const BATCH: usize = 1000;

/// Prepared batches waiting for the commit stage; with the batch being prepared and the one being committed,
/// at most four are in memory.
const IN_FLIGHT: usize = 2;

/// Meta key of the persisted detector state.
const DETECTOR_STATE: &str = "detector_state";

/// Meta key prefix of the re-detection markers: before a batch's events are written, the actors it brings
/// are recorded under this prefix; a checkpoint (detector state saved) removes them. Markers found at start
/// mean a crash came between: those actors are replayed from the store, so the alerts are a clean run's.
const PENDING: &str = "redetect/";

/// What went wrong while ingesting, with the source named.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read {source_name}: {error}")]
    Read {
        source_name: String,
        error: std::io::Error,
    },
    #[error("detection settings: {0}")]
    Tuning(String),
}

/// Counters of one pipeline's life, printed as the `ingest` summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestStats {
    pub ingested: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    /// New alerts raised.
    pub alerts: u64,
    /// Existing alerts grown by continuing activity.
    pub alerts_grown: u64,
    /// Events that arrived behind their actor's newest: stored, and their actors re-detected.
    pub late: u64,
    /// Actors whose stored events were replayed to keep their alerts order-independent.
    pub redetected: u64,
}

impl std::fmt::Display for IngestStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ingested={} duplicates={} quarantined={} alerts={}",
            self.ingested, self.duplicates, self.quarantined, self.alerts
        )
    }
}

/// One batch after the prepare stage: events (redacted), which are new, the drafts detection raised on them
/// in order, and the records refused.
struct Prepared {
    events: Vec<AuditEvent>,
    plan: EventPlan,
    drafts: Vec<AlertDraft>,
    rejected: Vec<QuarantineRecord>,
}

/// A committed batch's buffers, handed back to the thread that allocated them to be freed there: freeing a
/// batch on the writing thread cost as much as a third of writing it.
type Spent = Vec<AuditEvent>;

/// The prepare stage's state: the planner and the detector.
struct Preparer {
    planner: Planner,
    detector: Detector,
    limits: TimeLimits,
}

impl Preparer {
    fn prepare(
        &mut self,
        events: Vec<AuditEvent>,
        rejected: Vec<QuarantineRecord>,
    ) -> Result<Prepared, PipelineError> {
        let staged = self.stage(events, rejected, Vec::new());
        self.finish(staged.events, staged.rejected)
    }

    /// The first half of [`Preparer::prepare`]: refuse implausible times, redact refused records, put the
    /// events in `(time, id)` order. Events may carry a tag each (`tags[i]` for `events[i]`, or no tags at
    /// all): the tags follow their events through the time check and the sort, so that a batch made of
    /// several senders' parts can tell each sender what became of its own events.
    fn stage(
        &mut self,
        events: Vec<AuditEvent>,
        mut rejected: Vec<QuarantineRecord>,
        tags: Vec<u32>,
    ) -> Staged {
        let tagged = !tags.is_empty();
        // Implausible times are refused like any bad record: they must never move the detector's clock.
        let now = Utc::now();
        let mut kept = Vec::with_capacity(events.len());
        let mut kept_tags = Vec::with_capacity(tags.len());
        let mut refused_tags = Vec::new();
        for (i, mut ev) in events.into_iter().enumerate() {
            let tag = tags.get(i).copied();
            match self.limits.check(ev.time, now) {
                Ok(()) => {
                    kept.push(ev);
                    kept_tags.extend(tag);
                }
                Err(reason) => {
                    self.detector.redact_event(&mut ev);
                    // The whole event (the store's form leaves out what a run's directory holds).
                    let raw = serde_json::to_vec(&ev).unwrap_or_default();
                    rejected.push(QuarantineRecord {
                        source: "time check".to_string(),
                        line: 0,
                        offset: 0,
                        reason: format!("event {}: {reason}", ev.id),
                        size: raw.len() as u64,
                        at: now,
                        raw,
                    });
                    refused_tags.extend(tag);
                }
            }
        }
        let mut events = kept;
        // A refused record is kept for the operator to read, but a secret in it must not be kept in full either.
        for r in &mut rejected {
            redact_quarantined(&self.detector, r);
        }
        // Each actor's events in (time, id) order: a batch that arrived newest first (an API page) needs no
        // replay.
        let order =
            |a: &AuditEvent, b: &AuditEvent| (a.time_ms(), &a.id).cmp(&(b.time_ms(), &b.id));
        let tags = if tagged {
            // The same stable order, applied to events and tags alike.
            let mut perm: Vec<usize> = (0..events.len()).collect();
            perm.sort_by(|&a, &b| order(&events[a], &events[b]));
            let mut slots: Vec<Option<AuditEvent>> = events.into_iter().map(Some).collect();
            events = perm.iter().filter_map(|&i| slots[i].take()).collect();
            perm.iter().map(|&i| kept_tags[i]).collect()
        } else {
            events.sort_by(order);
            Vec::new()
        };
        Staged {
            events,
            tags,
            rejected,
            refused_tags,
        }
    }

    /// The second half of [`Preparer::prepare`], on events in `(time, id)` order: plan which are new, detect
    /// on those.
    fn finish(
        &mut self,
        mut events: Vec<AuditEvent>,
        rejected: Vec<QuarantineRecord>,
    ) -> Result<Prepared, PipelineError> {
        let plan = self.planner.plan(&events)?;
        let mut drafts = Vec::new();
        // Detection sees each new event once, in arrival order, redacted: the scan that redacts is the one
        // `sensitive-content` is raised from, and nothing derived from the event (alerts, detector state)
        // can hold a secret the stored copy does not.
        for (i, ev) in events.iter_mut().enumerate() {
            if plan.is_new(i) {
                self.detector.redact_event(ev);
                drafts.extend(self.detector.observe(ev));
            }
        }
        Ok(Prepared {
            events,
            plan,
            drafts,
            rejected,
        })
    }
}

/// A batch after [`Preparer::stage`]: events in order with their tags (empty when untagged), the records
/// refused, and the tags of the events the time check refused.
struct Staged {
    events: Vec<AuditEvent>,
    tags: Vec<u32>,
    rejected: Vec<QuarantineRecord>,
    refused_tags: Vec<u32>,
}

/// Redact the secrets the content scanners find in a refused record's kept bytes and in its reason (which
/// may quote a value), and only then cut the quoted value short, so that the cut never leaves a secret's
/// prefix the scanners no longer recognise. Bytes that are not UTF-8 are read lossily for the scan; they
/// are only replaced when a secret was found, and then by the redacted text. Logged here, once redacted.
fn redact_quarantined(detector: &Detector, r: &mut QuarantineRecord) {
    let text = String::from_utf8_lossy(&r.raw);
    if let Some(clean) = detector.redact_text(&text) {
        r.raw = clean.into_bytes();
    }
    if let Some(clean) = detector.redact_text(&r.reason) {
        r.reason = clean;
    }
    r.reason = crate::model::text::cut_quoted(&r.reason, crate::model::text::QUOTE_SHOWN);
    tracing::debug!(source = %r.source, line = r.line, reason = %r.reason, "record quarantined");
}

/// The commit stage's state: writes, grouping, counters.
struct Committer {
    store: Store,
    /// Alerts touched in the current batch, written together at its end.
    dirty: HashMap<Ulid, Alert>,
    /// Group key → alert id for groups touched in this batch (the store's `G` index answers the rest).
    groups: HashMap<String, Ulid>,
    /// New alerts whose evidence is filled from the actor index once their batch is written.
    backfill: Vec<(Ulid, AlertDraft)>,
    /// Drafts absorbed into alerts that were already stored. They are replayed onto a fresh read under the
    /// store's alert lock at the end of the batch, so an analyst's change made meanwhile is kept.
    grown: HashMap<Ulid, Vec<AlertDraft>>,
    stats: IngestStats,
    /// Alerts written since the last [`Pipeline::take_touched`]: (raised, grown).
    touched: (Vec<Ulid>, Vec<Ulid>),
    /// Off for one-shot ingests (nobody reads `touched`), on for the engine.
    track_touched: bool,
    /// Re-detection markers written since the last checkpoint (and found at start).
    pending: Vec<String>,
    /// Actors those markers name: a batch records only actors not in it yet, so that the markers of a long
    /// run between checkpoints stay as big as the set of actors, not the number of batches.
    marked: std::collections::HashSet<String>,
}

impl Committer {
    /// Write, group, fill evidence, save alerts: one prepared batch. Hands the buffers back for freeing.
    fn commit(&mut self, batch: Prepared) -> Result<Spent, PipelineError> {
        let Prepared {
            events,
            plan,
            drafts,
            rejected,
        } = batch;
        self.store.quarantine_records(&rejected)?;
        self.stats.quarantined += rejected.len() as u64;
        self.mark_pending(&events, &plan)?;
        if self.store.forwards_events() {
            // Before the events: a crash between the two forwards them again, never not at all.
            let new: Vec<AuditEvent> = events
                .iter()
                .enumerate()
                .filter(|(i, _)| plan.is_new(*i))
                .map(|(_, e)| e.clone())
                .collect();
            self.store.enqueue_forward(&new)?;
        }
        let mut bodies: Vec<Vec<u8>> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                if plan.is_new(i) {
                    encode_event(e)
                } else {
                    Vec::new()
                }
            })
            .collect();
        self.store.write_planned(&events, &mut bodies, &plan)?;
        drop(bodies);
        let outcome = plan.outcome();
        self.stats.ingested += outcome.new;
        self.stats.duplicates += outcome.duplicates;
        for draft in drafts {
            self.apply_draft(draft)?;
        }
        // Evidence comes from the actor index, which now holds this batch too (held events written first).
        if !self.backfill.is_empty() {
            self.store.write_held()?;
        }
        for (id, draft) in std::mem::take(&mut self.backfill) {
            if let Some(mut alert) = self.dirty.remove(&id) {
                fill_evidence(&self.store, &mut alert, &draft)?;
                self.dirty.insert(id, alert);
            }
        }
        let grown = std::mem::take(&mut self.grown);
        let new: Vec<Alert> = self
            .dirty
            .drain()
            .filter(|(id, _)| !grown.contains_key(id))
            .map(|(_, a)| a)
            .collect();
        self.store.save_alerts(&new)?;
        let ids: Vec<Ulid> = grown.keys().copied().collect();
        self.store.modify_alerts(&ids, |alert| {
            for draft in grown.get(&alert.id).into_iter().flatten() {
                absorb(alert, draft);
            }
            Ok(true)
        })?;
        if self.track_touched {
            self.touched.1.extend(new.iter().map(|a| a.id));
            self.touched.1.extend(ids);
        }
        self.groups.clear();
        Ok(events)
    }

    /// Record the actors whose new events this batch stores, before storing them (sled makes writes durable
    /// in order): a crash before the next checkpoint leaves the marker, and the next start replays them.
    /// Actors a marker since the last checkpoint already names are left out (a `vigil ingest` checkpoints
    /// only at its end: one marker per batch made 120 MB of them over 10M events, all read back to delete).
    fn mark_pending(
        &mut self,
        events: &[AuditEvent],
        plan: &EventPlan,
    ) -> Result<(), PipelineError> {
        let mut actors: Vec<&str> = events
            .iter()
            .enumerate()
            .filter(|(i, _)| plan.is_new(*i))
            .map(|(_, e)| e.actor.id.as_str())
            .filter(|a| !self.marked.contains(*a))
            .collect();
        if actors.is_empty() {
            return Ok(());
        }
        actors.sort_unstable();
        actors.dedup();
        let key = format!("{PENDING}{}", Ulid::new());
        let value = serde_json::to_vec(&actors)
            .map_err(|e| PipelineError::Tuning(format!("cannot record pending actors: {e}")))?;
        self.store.meta_put(&key, &value)?;
        self.pending.push(key);
        self.marked.extend(actors.into_iter().map(str::to_owned));
        Ok(())
    }

    fn apply_draft(&mut self, draft: AlertDraft) -> Result<(), PipelineError> {
        if let Some(id) = self.groups.get(&draft.group_key).copied() {
            if let Some(alert) = self.dirty.get_mut(&id)
                && can_absorb(alert, &draft)
            {
                absorb(alert, &draft);
                self.stats.alerts_grown += 1;
                if let Some(drafts) = self.grown.get_mut(&id) {
                    drafts.push(draft);
                }
                return Ok(());
            }
        } else if let Some(mut alert) = self.store.latest_in_group(&draft.group_key)?
            && can_absorb(&alert, &draft)
        {
            absorb(&mut alert, &draft);
            self.stats.alerts_grown += 1;
            self.groups.insert(draft.group_key.clone(), alert.id);
            self.grown.insert(alert.id, vec![draft]);
            self.dirty.insert(alert.id, alert);
            return Ok(());
        }
        let ms = draft.created.timestamp_millis().max(0) as u64;
        let id = Ulid::from_parts(ms, rand::random::<u128>());
        let mut alert = alert_from_draft(&draft, id);
        // Event time, like `created`: the same input gives the same alert, history included.
        alert.history.push(crate::model::HistoryEntry {
            time: draft.created,
            who: "vigil".to_string(),
            what: format!(
                "raised by {} ({})",
                draft.detection,
                crate::model::activities(draft.count)
            ),
        });
        self.stats.alerts += 1;
        if self.track_touched {
            self.touched.0.push(id);
        }
        self.groups.insert(draft.group_key.clone(), id);
        self.dirty.insert(id, alert);
        if !draft.evidence_actions.is_empty() && draft.count > 1 {
            self.backfill.push((id, draft));
        }
        Ok(())
    }
}

/// Parse → store → detect → alerts, in batches.
pub struct Pipeline {
    prep: Preparer,
    commit: Committer,
    events: Vec<AuditEvent>,
    rejected: Vec<QuarantineRecord>,
    late_at_start: u64,
    /// Alerts stored when the pipeline opened: the ingest summary counts what this run added.
    alerts_at_start: u64,
    sort_limits: SortLimits,
}

impl Pipeline {
    /// A pipeline over `store` with `tuning`, resuming the detector state the last run left. Content
    /// fingerprints use `fingerprint_key` when the operator configured one, else the store's own random key.
    pub fn new(
        store: Store,
        tuning: &Tuning,
        fingerprint_key: Option<&[u8]>,
    ) -> Result<Self, PipelineError> {
        let key = match fingerprint_key {
            Some(k) => k.to_vec(),
            None => store.fingerprint_key()?,
        };
        let mut detector =
            Detector::new(tuning, &key).map_err(|e| PipelineError::Tuning(e.to_string()))?;
        if let Some(state) = store.meta_get(DETECTOR_STATE)? {
            match serde_json::from_slice::<DetectorState>(&state) {
                Ok(state) => detector.restore_state(state),
                Err(e) => {
                    tracing::warn!(error = %e, "detector state unreadable; windows start empty")
                }
            }
        }
        let late_at_start = detector.stats().late_events;
        let limits = TimeLimits::default();
        // A detector clock moved by an implausible event (stores written before the time check) recovers:
        // the actors concerned are replayed without it.
        let mut redo: Vec<String> =
            detector.forget_beyond(limits.latest(Utc::now()).timestamp_millis());
        let mut pending = Vec::new();
        for (key, value) in store.meta_with_prefix(PENDING)? {
            redo.extend(serde_json::from_slice::<Vec<String>>(&value).unwrap_or_default());
            pending.push(key);
        }
        redo.sort();
        redo.dedup();
        let alerts_at_start = store.status_counts().total();
        let mut pipeline = Self {
            prep: Preparer {
                planner: store.planner()?,
                detector,
                limits,
            },
            commit: Committer {
                store,
                dirty: HashMap::new(),
                groups: HashMap::new(),
                backfill: Vec::new(),
                grown: HashMap::new(),
                stats: IngestStats::default(),
                touched: Default::default(),
                track_touched: false,
                pending,
                marked: Default::default(),
            },
            events: Vec::with_capacity(BATCH),
            rejected: Vec::new(),
            late_at_start,
            alerts_at_start,
            sort_limits: SortLimits::default(),
        };
        if !redo.is_empty() {
            tracing::info!(
                actors = redo.len(),
                "re-detecting actors whose events a crash or an implausible clock left undetected"
            );
            pipeline.redetect(&redo)?;
        }
        Ok(pipeline)
    }

    /// How [`Pipeline::ingest_reader`] sorts an out-of-order input (`[engine] sort_chunk_events`,
    /// `sort_runs`).
    pub fn set_sort_limits(&mut self, limits: SortLimits) {
        self.sort_limits = limits;
    }

    /// Event times outside `limits` are quarantined from now on (`[engine]` sets them).
    pub fn set_time_limits(&mut self, limits: TimeLimits) {
        self.prep.limits = limits;
    }

    /// Replay each actor's stored events and reconcile its alerts (see the `redetect` module).
    fn redetect(&mut self, actors: &[String]) -> Result<(), PipelineError> {
        let now = Utc::now();
        for actor in actors {
            let (replayed, first) = replay_actor(
                &self.commit.store,
                &mut self.prep.detector,
                actor,
                &self.prep.limits,
                now,
            )?;
            let done = reconcile(&self.commit.store, actor, first, replayed)?;
            self.commit.stats.redetected += 1;
            if self.commit.track_touched {
                self.commit.touched.0.extend(done.raised);
                self.commit.touched.1.extend(done.changed);
                self.commit.touched.1.extend(done.deleted);
            }
        }
        Ok(())
    }

    /// Read every record of `input`, naming it `source` in quarantine. Parsing, planning and detection run on
    /// a second thread while this one writes. An I/O error stops this input only; what was read before it is
    /// kept. A failed write stops reading at once (the reader finishes the batch in hand, not the input).
    pub fn ingest_reader(
        &mut self,
        source: &str,
        input: impl Read + Send,
    ) -> Result<(), PipelineError> {
        self.ingest_records(source, Reader::new(input))
    }

    /// [`Pipeline::ingest_reader`] for a file whose end is in sight: a second thread parses every other
    /// chunk of records ahead of detection ([`Reader::with_parse_thread`]), which reads ahead by a few
    /// hundred records. Not for a stream that may stay open without sending (stdin, a pipe, a socket): its
    /// records would wait for the next few hundred, and a failed write would wait for them too.
    pub fn ingest_file(&mut self, source: &str, file: std::fs::File) -> Result<(), PipelineError> {
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        if regular {
            self.ingest_records(source, Reader::with_parse_thread(file))
        } else {
            self.ingest_reader(source, file)
        }
    }

    fn ingest_records(
        &mut self,
        source: &str,
        reader: Reader<impl Read + Send>,
    ) -> Result<(), PipelineError> {
        self.process_batch()?;
        let (tx, rx) = mpsc::sync_channel::<Prepared>(IN_FLIGHT);
        let (back_tx, back_rx) = mpsc::channel::<Spent>();
        let Self {
            prep,
            commit,
            sort_limits,
            ..
        } = self;
        let sorter = Sorting {
            dir: commit.store.dir().to_path_buf(),
            limits: *sort_limits,
        };
        // A stream in bulk: the store holds appends back for a few batches (see `Store::hold_writes`) and
        // writes them all before this returns, so nothing reads past what is held.
        commit.store.hold_writes(true)?;
        let ingested = std::thread::scope(|scope| {
            let reader = scope.spawn(|| prepare_stream(source, reader, &sorter, prep, tx, back_rx));
            let mut committed = Ok(());
            for batch in rx.iter() {
                match commit.commit(batch) {
                    Ok(spent) => {
                        let _ = back_tx.send(spent);
                    }
                    Err(e) => {
                        committed = Err(e);
                        break;
                    }
                }
            }
            // Hang up at the first failure (a full disk): the reader stops at its next batch instead of
            // reading the rest of the input, which for stdin may never end.
            drop(rx);
            let read = reader
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            committed.and(read)
        });
        let settled = commit.store.hold_writes(false);
        ingested?;
        Ok(settled?)
    }

    /// Queue one parsed event (sources that deliver events one by one); a full batch is processed at once.
    pub fn push_event(&mut self, ev: AuditEvent) -> Result<(), PipelineError> {
        self.events.push(ev);
        if self.events.len() >= BATCH {
            self.process_batch()?;
        }
        Ok(())
    }

    /// Queue one rejected record for quarantine.
    pub fn push_rejected(&mut self, source: &str, r: RejectedRecord) -> Result<(), PipelineError> {
        self.rejected.push(quarantine_record(source, r));
        if self.rejected.len() >= BATCH {
            self.process_batch()?;
        }
        Ok(())
    }

    /// Prepare and commit several senders' records as one batch, after whatever is queued: in time order
    /// together, so that requests that arrived out of order need no re-detection when they arrive together,
    /// and with one store batch for all. Returns what became of each part's records, in `parts` order (an
    /// event sent twice is new for the first part that holds it, in time order, and a duplicate for the
    /// others). Not durable until the next flush.
    pub(crate) fn process_parts(
        &mut self,
        parts: Vec<(Arc<str>, Vec<Record>)>,
    ) -> Result<Vec<BatchCounts>, PipelineError> {
        self.process_batch()?;
        let mut counts = vec![BatchCounts::default(); parts.len()];
        let mut events = Vec::new();
        let mut tags = Vec::new();
        let mut rejected = Vec::new();
        for (part, (source, records)) in (0u32..).zip(parts) {
            for rec in records {
                match rec {
                    Record::Event(ev) => {
                        events.push(*ev);
                        tags.push(part);
                    }
                    Record::Rejected(r) => {
                        rejected.push(quarantine_record(&source, r));
                        counts[part as usize].quarantined += 1;
                    }
                }
            }
        }
        if events.is_empty() && rejected.is_empty() {
            return Ok(counts);
        }
        let Staged {
            events,
            tags,
            rejected,
            refused_tags,
        } = self.prep.stage(events, rejected, tags);
        for t in refused_tags {
            counts[t as usize].quarantined += 1;
        }
        let prepared = self.prep.finish(events, rejected)?;
        for (i, t) in tags.into_iter().enumerate() {
            let c = &mut counts[t as usize];
            if prepared.plan.is_new(i) {
                c.accepted += 1;
            } else {
                c.duplicates += 1;
            }
        }
        self.commit.commit(prepared)?;
        Ok(counts)
    }

    /// Prepare and commit what is queued, on this thread.
    pub fn process_batch(&mut self) -> Result<(), PipelineError> {
        if self.events.is_empty() && self.rejected.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.events);
        let rejected = std::mem::take(&mut self.rejected);
        let batch = self.prep.prepare(events, rejected)?;
        self.commit.commit(batch).map(drop)
    }

    /// Finish: process what is queued, persist the detector state, flush. Only after this returns are the
    /// counts true on disk.
    pub fn finish(mut self) -> Result<IngestStats, PipelineError> {
        self.checkpoint()?;
        let mut stats = self.commit.stats;
        // Re-detection may merge or drop alerts this run raised: count what the store holds now.
        stats.alerts = self
            .commit
            .store
            .status_counts()
            .total()
            .saturating_sub(self.alerts_at_start);
        Ok(stats)
    }

    /// Process what is queued, persist detector state and flush, keeping the pipeline open (long-running
    /// sources call this before acknowledging a batch).
    pub fn checkpoint(&mut self) -> Result<(), PipelineError> {
        self.process_batch()?;
        // Re-detection reads the store.
        self.commit.store.write_held()?;
        let late: Vec<String> = self
            .prep
            .detector
            .take_late()
            .into_iter()
            .map(|(actor, _)| actor)
            .collect();
        self.redetect(&late)?;
        let state = serde_json::to_vec(&self.prep.detector.save_state())
            .map_err(|e| PipelineError::Tuning(format!("cannot save detector state: {e}")))?;
        self.commit.store.meta_put(DETECTOR_STATE, &state)?;
        // After the state that covers them: a crash between the two replays them again, harmlessly.
        let pending = std::mem::take(&mut self.commit.pending);
        self.commit.store.meta_remove(&pending)?;
        self.commit.marked.clear();
        self.commit.store.flush()?;
        self.commit.stats.late = self
            .prep
            .detector
            .stats()
            .late_events
            .saturating_sub(self.late_at_start);
        Ok(())
    }

    /// Counters so far.
    pub fn stats(&self) -> IngestStats {
        self.commit.stats
    }

    /// Alerts written since the last call: (newly raised, grown by continuing activity). The engine turns
    /// them into change-feed events.
    pub fn take_touched(&mut self) -> (Vec<Ulid>, Vec<Ulid>) {
        self.commit.track_touched = true;
        let (raised, mut changed) = std::mem::take(&mut self.commit.touched);
        changed.retain(|id| !raised.contains(id));
        changed.sort();
        changed.dedup();
        (raised, changed)
    }

    /// The store this pipeline writes to.
    pub fn store(&self) -> &Store {
        &self.commit.store
    }

    /// Apply new tuning from the next event on (detections toggled, sensitivity, exclusions).
    pub fn retune(&mut self, tuning: &Tuning) -> Result<(), PipelineError> {
        self.prep
            .detector
            .retune(tuning)
            .map_err(|e| PipelineError::Tuning(e.to_string()))
    }
}

fn quarantine_record(source: &str, r: RejectedRecord) -> QuarantineRecord {
    QuarantineRecord {
        source: source.to_string(),
        line: r.line,
        offset: r.offset,
        reason: r.reason,
        size: r.size,
        at: Utc::now(),
        raw: r.raw,
    }
}

/// Where an ingest keeps its sort runs, inside the data dir.
const SORT_DIR: &str = "sort";

/// The prepare stage: read, parse, put in time order ([`TimeSorter`]), plan, detect and encode batches until
/// the input ends or the commit stage hangs up. Rejected records skip the sort: they go to quarantine as read.
fn prepare_stream(
    source: &str,
    mut reader: Reader<impl Read>,
    sorting: &Sorting,
    prep: &mut Preparer,
    tx: mpsc::SyncSender<Prepared>,
    freed: mpsc::Receiver<Spent>,
) -> Result<(), PipelineError> {
    let sort_error = |e: std::io::Error| PipelineError::Store(StoreError::from_io(&sorting.dir, e));
    let mut sorter =
        TimeSorter::new(&sorting.dir.join(SORT_DIR), sorting.limits).map_err(sort_error)?;
    let mut out = Batcher {
        events: Vec::with_capacity(BATCH),
        rejected: Vec::new(),
        tx,
        freed,
    };
    // Events the sorter has put in order go to batches; false when the commit stage has hung up.
    let drain = |sorter: &mut TimeSorter, prep: &mut Preparer, out: &mut Batcher| {
        while let Some(ev) = sorter.pop().map_err(sort_error)? {
            out.events.push(ev);
            if !out.send(prep, false)? {
                return Ok(false);
            }
        }
        Ok::<bool, PipelineError>(true)
    };
    let read_error = loop {
        let rec = match reader.next_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => break None,
            // What was read before the failure is kept: sorted, detected and stored.
            Err(error) => break Some(error),
        };
        let open = match rec {
            Record::Event(ev) => {
                sorter
                    .push(*ev, &mut |ev| {
                        prep.detector.redact_held(ev);
                    })
                    .map_err(sort_error)?;
                drain(&mut sorter, prep, &mut out)?
            }
            Record::Rejected(r) => {
                out.rejected.push(quarantine_record(source, r));
                out.send(prep, false)?
            }
        };
        if !open {
            return Ok(());
        }
    };
    sorter.finish().map_err(sort_error)?;
    if !drain(&mut sorter, prep, &mut out)? || !out.send(prep, true)? {
        return Ok(());
    }
    if sorter.spilled_runs() > 0 {
        tracing::info!(
            source,
            runs = sorter.spilled_runs(),
            "input arrived out of time order: sorted through run files before detection"
        );
    }
    match read_error {
        None => Ok(()),
        Some(error) => Err(PipelineError::Read {
            source_name: source.to_string(),
            error,
        }),
    }
}

/// Where and how the prepare stage sorts: the store's dir (run files go in a subdirectory) and the limits.
struct Sorting {
    dir: PathBuf,
    limits: SortLimits,
}

/// The batches the prepare stage fills and hands to the commit stage.
struct Batcher {
    events: Vec<AuditEvent>,
    rejected: Vec<QuarantineRecord>,
    tx: mpsc::SyncSender<Prepared>,
    freed: mpsc::Receiver<Spent>,
}

impl Batcher {
    /// Prepare and send the batch when it is full (or whatever it holds when `force`); false when the commit
    /// stage has hung up (it failed, and reports why).
    fn send(&mut self, prep: &mut Preparer, force: bool) -> Result<bool, PipelineError> {
        let full = self.events.len() >= BATCH || self.rejected.len() >= BATCH;
        let empty = self.events.is_empty() && self.rejected.is_empty();
        if empty || !(full || force) {
            return Ok(true);
        }
        while let Ok(spent) = self.freed.try_recv() {
            drop(spent);
        }
        let events = std::mem::replace(&mut self.events, Vec::with_capacity(BATCH));
        let batch = prep.prepare(events, std::mem::take(&mut self.rejected))?;
        Ok(self.tx.send(batch).is_ok())
    }
}
