//! Events: two tree writes per new event, the fewest that serve both paging orders.
//!
//! - `events` (primary): key = event time + hash of the id; value = `[actor hash][u16 id length][id]`. It
//!   dedupes (the key holds the id hash, the value the id to rule out a collision), orders by time for
//!   retention and replay, and points at the body through the actor hash.
//! - `events_by_actor`: key = actor hash + the primary key; value = the encoded event. An actor's timeline is
//!   one contiguous range scan, which is the read the UI makes most often.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};

use super::keys::{actor_key, event_key, hash64, time_bytes};
use super::{Store, StoreError};
use crate::model::AuditEvent;

/// Where each event of a batch will go: a key when it is new, `None` when its id is already stored.
#[derive(Debug, Clone, Default)]
pub struct EventPlan {
    slots: Vec<Option<[u8; 16]>>,
}

impl EventPlan {
    /// Whether event `i` of the planned batch is new.
    pub fn is_new(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(Option::is_some)
    }

    /// Counts and flags, as an [`InsertOutcome`].
    pub fn outcome(&self) -> InsertOutcome {
        let stored: Vec<bool> = self.slots.iter().map(Option::is_some).collect();
        let new = stored.iter().filter(|s| **s).count() as u64;
        InsertOutcome {
            duplicates: stored.len() as u64 - new,
            new,
            stored,
        }
    }
}

/// Batches whose keys a [`Planner`] remembers: enough to cover every batch planned but not yet written while
/// planning runs ahead of writing (the pipeline's channel holds two).
const RECENT_BATCHES: usize = 8;

/// Decides which events of a stream are new, batch after batch, reading the store as little as possible:
/// an event newer than everything stored or planned so far cannot be a duplicate, so the common case — a
/// time-ordered stream — costs no read at all. Keys of recently planned batches are remembered, so planning
/// may run ahead of writing (on another thread) without letting a duplicate through.
pub struct Planner {
    store: Store,
    /// Newest event time stored before this planner started or planned since.
    max_ms: i64,
    recent: VecDeque<Vec<[u8; 16]>>,
    recent_ids: HashMap<[u8; 16], Box<str>>,
}

impl Planner {
    /// Plan one batch: a key per new event, `None` per duplicate (in the store, in a recent batch or earlier in
    /// this one).
    pub fn plan(&mut self, events: &[AuditEvent]) -> Result<EventPlan, StoreError> {
        let mut slots = Vec::with_capacity(events.len());
        let mut keys = Vec::with_capacity(events.len());
        let max_before = self.max_ms;
        for ev in events {
            let slot = self.free_key(ev, max_before)?;
            if let Some(key) = slot {
                keys.push(key);
                self.recent_ids.insert(key, ev.id.as_str().into());
                self.max_ms = self.max_ms.max(ev.time_ms());
            }
            slots.push(slot);
        }
        self.recent.push_back(keys);
        while self.recent.len() > RECENT_BATCHES {
            for k in self.recent.pop_front().unwrap_or_default() {
                self.recent_ids.remove(&k);
            }
        }
        Ok(EventPlan { slots })
    }

    fn free_key(&self, ev: &AuditEvent, max_before: i64) -> Result<Option<[u8; 16]>, StoreError> {
        let h = hash64(&ev.id);
        let t = ev.time_ms();
        for probe in 0..PROBES {
            let key = event_key(t, h.wrapping_add(probe));
            if let Some(id) = self.recent_ids.get(&key) {
                if **id == *ev.id {
                    return Ok(None);
                }
                continue;
            }
            // Newer than anything stored or planned before this batch: nothing can sit at this key.
            if t > max_before {
                return Ok(Some(key));
            }
            match self.store.events.get(key).map_err(|e| self.store.sled(e))? {
                None => return Ok(Some(key)),
                Some(v) if stored_id(&v) == Some(ev.id.as_bytes()) => return Ok(None),
                Some(_) => continue,
            }
        }
        Ok(None)
    }
}

/// What a batch insert did with each event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertOutcome {
    /// `true` where the event was new and stored, `false` where its id was already there.
    pub stored: Vec<bool>,
    pub new: u64,
    pub duplicates: u64,
}

/// How many hash probes to try when two different ids share a time and a hash.
const PROBES: u64 = 4;

/// Body layout in the actor index: the JSON of the event. Public so the pipeline can encode on its parsing
/// thread, off the path that writes.
pub fn encode_event(ev: &AuditEvent) -> Vec<u8> {
    serde_json::to_vec(ev).unwrap_or_default()
}

/// Primary value layout: `[u64 actor hash][u16 id length][id]`.
fn primary_value(actor_hash: u64, id: &str) -> Vec<u8> {
    let id = &id.as_bytes()[..id.len().min(u16::MAX as usize)];
    let mut v = Vec::with_capacity(10 + id.len());
    v.extend_from_slice(&actor_hash.to_be_bytes());
    v.extend_from_slice(&(id.len() as u16).to_be_bytes());
    v.extend_from_slice(id);
    v
}

fn actor_hash_of(primary: &[u8]) -> Option<u64> {
    primary.get(..8)?.try_into().ok().map(u64::from_be_bytes)
}

/// The exact tree entries [`Store::insert_events`] writes for a new event (primary key, value, actor-index key),
/// so a benchmark can time bare sled on the same bytes. Assumes no hash probe was needed.
pub fn event_entries(ev: &AuditEvent) -> ([u8; 16], Vec<u8>, [u8; 24], Vec<u8>) {
    let key = event_key(ev.time_ms(), hash64(&ev.id));
    let ah = hash64(&ev.actor.id);
    (
        key,
        primary_value(ah, &ev.id),
        actor_key(ah, &key),
        encode_event(ev),
    )
}

fn stored_id(v: &[u8]) -> Option<&[u8]> {
    let n = u16::from_be_bytes(v.get(8..10)?.try_into().ok()?) as usize;
    v.get(10..10 + n)
}

fn decode(v: &[u8]) -> Option<AuditEvent> {
    serde_json::from_slice(v).ok()
}

impl Store {
    /// Store a batch of events, skipping ids already stored (in the store or earlier in the batch). Returns which
    /// were new. Not durable until [`Store::flush`].
    pub fn insert_events(&self, events: &[AuditEvent]) -> Result<InsertOutcome, StoreError> {
        let mut planner = self.planner()?;
        let plan = planner.plan(events)?;
        let bodies: Vec<Vec<u8>> = events.iter().map(encode_event).collect();
        self.write_planned(events, &bodies, &plan)?;
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

    /// Second half of an insert: write the events a plan marked new, with their encoded bodies
    /// ([`encode_event`]). `events` must be the planned slice (same order and ids; the bodies may have been
    /// redacted since planning).
    pub fn write_planned(
        &self,
        events: &[AuditEvent],
        bodies: &[Vec<u8>],
        plan: &EventPlan,
    ) -> Result<u64, StoreError> {
        let mut ev_batch = sled::Batch::default();
        let mut actor_batch = sled::Batch::default();
        let mut new = 0;
        for ((ev, body), slot) in events.iter().zip(bodies).zip(&plan.slots) {
            if let Some(key) = slot {
                let ah = hash64(&ev.actor.id);
                ev_batch.insert(&key[..], primary_value(ah, &ev.id));
                actor_batch.insert(&actor_key(ah, key)[..], body.as_slice());
                new += 1;
            }
        }
        self.events
            .apply_batch(ev_batch)
            .map_err(|e| self.sled(e))?;
        self.by_actor
            .apply_batch(actor_batch)
            .map_err(|e| self.sled(e))?;
        self.bump("events", new)?;
        Ok(new)
    }

    /// Number of events stored.
    pub fn event_count(&self) -> u64 {
        self.counter("events")
    }

    /// Events in time order within `[from, to)`, at most `limit`; used to replay windows and by retention.
    pub fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let lo = time_bytes(from.timestamp_millis());
        let hi = time_bytes(to.timestamp_millis());
        let mut out = Vec::new();
        for kv in self.events.range(lo..hi).take(limit) {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            let (Ok(key), Some(ah)) = (<[u8; 16]>::try_from(k.as_ref()), actor_hash_of(&v)) else {
                return Err(self.corrupt("events", "malformed primary entry"));
            };
            let body = self
                .by_actor
                .get(actor_key(ah, &key))
                .map_err(|e| self.sled(e))?;
            let body = body
                .ok_or_else(|| self.corrupt("events_by_actor", "primary entry without a body"))?;
            out.push(
                decode(&body)
                    .ok_or_else(|| self.corrupt("events_by_actor", "undecodable event"))?,
            );
        }
        Ok(out)
    }

    /// The newest stored event time, if any.
    pub fn last_event_time(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let last = self.events.last().map_err(|e| self.sled(e))?;
        Ok(last
            .and_then(|(k, _)| DateTime::from_timestamp_millis(super::keys::time_from_bytes(&k))))
    }

    /// An actor's events around a moment: up to `before` events before `around` (inclusive) and up to `after`
    /// events after it, oldest first. Served from the actor index; cost grows with `before + after` only.
    pub fn actor_timeline(
        &self,
        actor_id: &str,
        around: DateTime<Utc>,
        before: usize,
        after: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let ah = hash64(actor_id).to_be_bytes();
        let mut pivot = [0u8; 24];
        pivot[..8].copy_from_slice(&ah);
        pivot[8..16].copy_from_slice(&time_bytes(around.timestamp_millis().saturating_add(1)));
        let mut lo = [0u8; 24];
        lo[..8].copy_from_slice(&ah);
        let mut hi = [0xffu8; 24];
        hi[..8].copy_from_slice(&ah);

        let mut older =
            self.load_actor_events(self.by_actor.range(lo..pivot).rev(), actor_id, before)?;
        older.reverse();
        let newer = self.load_actor_events(self.by_actor.range(pivot..=hi), actor_id, after)?;
        older.extend(newer);
        Ok(older)
    }

    /// An actor's events with time in `[from, to]`, oldest first, at most `limit`.
    pub fn actor_events_between(
        &self,
        actor_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let ah = hash64(actor_id).to_be_bytes();
        let mut lo = [0u8; 24];
        lo[..8].copy_from_slice(&ah);
        lo[8..16].copy_from_slice(&time_bytes(from.timestamp_millis()));
        let mut hi = [0xffu8; 24];
        hi[..8].copy_from_slice(&ah);
        hi[8..16].copy_from_slice(&time_bytes(to.timestamp_millis()));
        self.load_actor_events(self.by_actor.range(lo..=hi), actor_id, limit)
    }

    fn load_actor_events(
        &self,
        iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
        actor_id: &str,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut out = Vec::new();
        for kv in iter {
            if out.len() >= limit {
                break;
            }
            let (_, v) = kv.map_err(|e| self.sled(e))?;
            let ev =
                decode(&v).ok_or_else(|| self.corrupt("events_by_actor", "undecodable event"))?;
            // Two actors may share a hash; the index only narrows, the id decides.
            if ev.actor.id == actor_id {
                out.push(ev);
            }
        }
        Ok(out)
    }

    /// Delete events older than `before` and their actor index entries; returns how many went. Retention.
    pub fn delete_events_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let hi = time_bytes(before.timestamp_millis());
        let mut n = 0u64;
        loop {
            let mut ev_batch = sled::Batch::default();
            let mut actor_batch = sled::Batch::default();
            let mut k_in_batch = 0;
            for kv in self.events.range(..hi).take(10_000) {
                let (k, v) = kv.map_err(|e| self.sled(e))?;
                let Ok(key): Result<[u8; 16], _> = k.as_ref().try_into() else {
                    continue;
                };
                if let Some(ah) = actor_hash_of(&v) {
                    actor_batch.remove(&actor_key(ah, &key)[..]);
                }
                ev_batch.remove(k);
                k_in_batch += 1;
            }
            if k_in_batch == 0 {
                break;
            }
            self.by_actor
                .apply_batch(actor_batch)
                .map_err(|e| self.sled(e))?;
            self.events
                .apply_batch(ev_batch)
                .map_err(|e| self.sled(e))?;
            n += k_in_batch;
        }
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
}
