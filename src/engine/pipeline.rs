//! The ingest pipeline: batches of records are stored (deduplicated), then detected in arrival order, then
//! grouped into alerts, and only then reported. Alerts are written once per batch, not once per event.

use std::collections::HashMap;
use std::io::Read;

use chrono::Utc;
use ulid::Ulid;

use crate::detect::tuning::Tuning;
use crate::detect::{AlertDraft, Detector, DetectorState, absorb, alert_from_draft, can_absorb};
use crate::ingest::{Reader, Record, RejectedRecord};
use crate::model::{Alert, AuditEvent};
use crate::store::{QuarantineRecord, Store, StoreError};

/// Events per store batch: large enough to amortise sled's per-batch cost, small enough to bound memory.
const BATCH: usize = 1000;

/// Meta key of the persisted detector state.
const DETECTOR_STATE: &str = "detector_state";

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
    /// Events stored but too late (over 5 minutes behind) for detection.
    pub late: u64,
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

/// Parse → store → detect → alerts, synchronously, in batches.
pub struct Pipeline {
    store: Store,
    detector: Detector,
    events: Vec<AuditEvent>,
    rejected: Vec<QuarantineRecord>,
    /// Alerts touched in the current batch, written together at its end.
    dirty: HashMap<Ulid, Alert>,
    /// Group key → alert id for groups touched in this batch (the store's `G` index answers the rest).
    groups: HashMap<String, Ulid>,
    /// New alerts whose evidence is filled from the actor index once their batch is written.
    backfill: Vec<(Ulid, AlertDraft)>,
    stats: IngestStats,
    late_at_start: u64,
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
        Ok(Self {
            store,
            detector,
            events: Vec::with_capacity(BATCH),
            rejected: Vec::new(),
            dirty: HashMap::new(),
            groups: HashMap::new(),
            backfill: Vec::new(),
            stats: IngestStats::default(),
            late_at_start,
        })
    }

    /// Read every record of `input`, naming it `source` in quarantine. An I/O error stops this input only.
    pub fn ingest_reader(&mut self, source: &str, input: impl Read) -> Result<(), PipelineError> {
        let mut reader = Reader::new(input);
        loop {
            let rec = reader.next_record().map_err(|error| PipelineError::Read {
                source_name: source.to_string(),
                error,
            })?;
            match rec {
                None => return Ok(()),
                Some(Record::Event(ev)) => self.push_event(*ev)?,
                Some(Record::Rejected(r)) => self.push_rejected(source, r)?,
            }
        }
    }

    /// Queue one parsed event; a full batch is processed at once.
    pub fn push_event(&mut self, ev: AuditEvent) -> Result<(), PipelineError> {
        self.events.push(ev);
        if self.events.len() >= BATCH {
            self.process_batch()?;
        }
        Ok(())
    }

    /// Queue one rejected record for quarantine.
    pub fn push_rejected(&mut self, source: &str, r: RejectedRecord) -> Result<(), PipelineError> {
        tracing::debug!(source, line = r.line, reason = %r.reason, "record quarantined");
        self.rejected.push(QuarantineRecord {
            source: source.to_string(),
            line: r.line,
            offset: r.offset,
            reason: r.reason,
            size: r.size,
            at: Utc::now(),
            raw: r.raw,
        });
        if self.rejected.len() >= BATCH {
            self.process_batch()?;
        }
        Ok(())
    }

    /// Store, detect and group what is queued.
    pub fn process_batch(&mut self) -> Result<(), PipelineError> {
        let rejected = std::mem::take(&mut self.rejected);
        self.store.quarantine_records(&rejected)?;
        self.stats.quarantined += rejected.len() as u64;

        let mut events = std::mem::take(&mut self.events);
        // Plan (dedupe) → detect on the original text → redact found secrets → write. Detection sees each new
        // event once, in arrival order; the store never sees a found secret in full.
        let plan = self.store.plan_events(&events)?;
        for (i, ev) in events.iter_mut().enumerate() {
            if !plan.is_new(i) {
                continue;
            }
            for draft in self.detector.observe(ev) {
                self.apply_draft(draft)?;
            }
            self.detector.redact_event(ev);
        }
        self.store.write_planned(&events, &plan)?;
        let outcome = plan.outcome();
        self.stats.ingested += outcome.new;
        self.stats.duplicates += outcome.duplicates;

        // Evidence comes from the actor index, which now holds this batch too.
        for (id, draft) in std::mem::take(&mut self.backfill) {
            if let Some(mut alert) = self.dirty.remove(&id) {
                self.backfill_evidence(&mut alert, &draft)?;
                self.dirty.insert(id, alert);
            }
        }
        let dirty: Vec<Alert> = self.dirty.drain().map(|(_, a)| a).collect();
        self.store.save_alerts(&dirty)?;
        self.groups.clear();
        events.clear();
        self.events = events;
        Ok(())
    }

    fn apply_draft(&mut self, draft: AlertDraft) -> Result<(), PipelineError> {
        if let Some(id) = self.groups.get(&draft.group_key).copied() {
            if let Some(alert) = self.dirty.get_mut(&id)
                && can_absorb(alert, &draft)
            {
                absorb(alert, &draft);
                self.stats.alerts_grown += 1;
                return Ok(());
            }
        } else if let Some(mut alert) = self.store.latest_in_group(&draft.group_key)?
            && can_absorb(&alert, &draft)
        {
            absorb(&mut alert, &draft);
            self.stats.alerts_grown += 1;
            self.groups.insert(draft.group_key.clone(), alert.id);
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
            what: format!("raised by {} ({} activities)", draft.detection, draft.count),
        });
        self.stats.alerts += 1;
        self.groups.insert(draft.group_key.clone(), id);
        self.dirty.insert(id, alert);
        if !draft.evidence_actions.is_empty() && draft.count > 1 {
            self.backfill.push((id, draft));
        }
        Ok(())
    }

    /// Windows keep no event ids; the actor index has them. Fill evidence with the counted events of the span.
    fn backfill_evidence(
        &self,
        alert: &mut Alert,
        draft: &AlertDraft,
    ) -> Result<(), PipelineError> {
        let events = self.store.actor_events_between(
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

    /// Finish: process what is queued, persist the detector state, flush. Only after this returns are the
    /// counts true on disk.
    pub fn finish(mut self) -> Result<IngestStats, PipelineError> {
        self.checkpoint()?;
        Ok(self.stats)
    }

    /// Process what is queued, persist detector state and flush, keeping the pipeline open (long-running
    /// sources call this before acknowledging a batch).
    pub fn checkpoint(&mut self) -> Result<(), PipelineError> {
        self.process_batch()?;
        let state = serde_json::to_vec(&self.detector.save_state())
            .map_err(|e| PipelineError::Tuning(format!("cannot save detector state: {e}")))?;
        self.store.meta_put(DETECTOR_STATE, &state)?;
        self.store.flush()?;
        self.stats.late = self
            .detector
            .stats()
            .late_events
            .saturating_sub(self.late_at_start);
        Ok(())
    }

    /// Counters so far.
    pub fn stats(&self) -> IngestStats {
        self.stats
    }

    /// The store this pipeline writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
