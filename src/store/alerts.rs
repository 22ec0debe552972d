//! Alerts: one tree, `alert_book`, holding the alerts packed into blocks and every secondary order as posting
//! lists, so a page is always a bounded range scan and the tree has a few entries per hundred alerts (sled's
//! open time and memory follow the number of entries):
//!
//! | prefix | key                                   | value                                         |
//! |--------|---------------------------------------|-----------------------------------------------|
//! | `B`    | ULID                                  | block: the alerts from this ULID to the next block's, zstd |
//! | `S`    | status, severity, first ULID          | sorted ULIDs: `status:` and `sev:` filters    |
//! | `A`    | hash(actor id / e-mail / name), first ULID | sorted ULIDs: `actor:`                   |
//! | `D`    | hash(detection), first ULID           | sorted ULIDs: `det:`                          |
//! | `G`    | top 12 bits of hash(group key)        | (group hash, newest ULID) pairs: grouping     |
//! | `C`    | status                                | counter                                       |
//!
//! A list or block covers the ULIDs from its key to the next key of the same prefix; it splits when it grows
//! past its cap. ULIDs carry the alert's `created` time, so every order is also time-ordered and `since`/`until`
//! bound the ULID range.
//!
//! Writes take the store's alert lock, read what they change, and apply everything — blocks, lists, group
//! table, counters, and the outbox deliveries the change causes (see `outbox`) — as one sled batch: an index
//! never points at a missing alert, counters never drift, and no alert is stored without its deliveries, even
//! across a crash.

use std::collections::BTreeMap;

use ulid::Ulid;

use super::keys::hash64;
use super::{Store, StoreError};
use crate::model::{Alert, AlertFilter, AlertPage, AlertStatus, Severity, StatusCounts};

const BLOCK: u8 = b'B';
const COUNTER: u8 = b'C';
const GROUPS: u8 = b'G';

/// Most alerts in a block, and most encoded bytes before compression. Blocks are read whole (decompressing
/// 24 KiB takes microseconds) and rewritten whole on a change.
const BLOCK_ALERTS: usize = 32;
const BLOCK_BYTES: usize = 24 * 1024;
/// Most bytes a block may claim to decompress to. Blocks are capped far below (one alert, with evidence of
/// 1,000 ids of up to 512 bytes, stays under 1 MiB): anything above is damage.
const MAX_BLOCK_RAW: usize = 64 << 20;
/// Most ULIDs in a posting list (6 KiB, so that a sled leaf of 17 lists stays inside its log segment).
const LIST_CAP: usize = 384;

/// Format byte of block, posting-list and group-table values (blocks: lz4, as schema 4 wrote them).
const FORMAT: u8 = 1;
/// Format byte of a block in zstd (level 3, no dictionary), as schema 5 writes them: alert JSON with its
/// evidence compresses ~2x better than with lz4, and a block is at most 24 KiB, so a rewrite on a triage
/// change still costs well under a millisecond. The raw size follows as in an lz4 block (u32, little-endian).
const BLOCK_ZSTD: u8 = 2;

fn counter_key(s: AlertStatus) -> [u8; 2] {
    [COUNTER, s.code()]
}

fn with_id(prefix: &[u8], id: u128) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 16);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn status_prefix(status: AlertStatus, sev: Severity) -> Vec<u8> {
    vec![b'S', status.code(), sev.code()]
}

fn hashed_prefix(tag: u8, h: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(tag);
    k.extend_from_slice(&h.to_be_bytes());
    k
}

fn group_bucket(h: u64) -> [u8; 3] {
    let b = (h >> 52) as u16;
    let [x, y] = b.to_be_bytes();
    [GROUPS, x, y]
}

/// Every posting-list prefix an alert is listed under.
fn index_prefixes(a: &Alert) -> Vec<Vec<u8>> {
    let mut keys = vec![
        status_prefix(a.status, a.severity),
        hashed_prefix(b'D', hash64(a.detection.as_str())),
    ];
    let mut who = vec![a.actor.id.to_lowercase()];
    who.extend(a.actor.email.iter().map(|e| e.to_lowercase()));
    who.extend(a.actor.name.iter().map(|n| n.to_lowercase()));
    who.sort();
    who.dedup();
    keys.extend(who.iter().map(|w| hashed_prefix(b'A', hash64(w))));
    keys
}

/// Alert encoding inside a block: a format byte, then postcard (compact binary, no field names).
const POSTCARD: u8 = 1;

/// Encode one alert.
pub(super) fn encode_alert(a: &Alert) -> Result<Vec<u8>, String> {
    let mut v = vec![POSTCARD];
    v.extend(postcard::to_stdvec(a).map_err(|e| e.to_string())?);
    Ok(v)
}

/// Decode one alert: postcard, or the JSON of schema 1 (read once, by the migration).
pub(super) fn decode_alert(v: &[u8]) -> Result<Alert, String> {
    match v.first() {
        Some(&POSTCARD) => {
            postcard::from_bytes(&v[1..]).map_err(|e| format!("undecodable alert: {e}"))
        }
        Some(b'{') => serde_json::from_slice(v).map_err(|e| format!("undecodable alert: {e}")),
        _ => Err("unknown alert encoding".to_string()),
    }
}

/// A decoded block: the alerts' ids in order and their encoded bytes.
#[derive(Debug)]
struct Block {
    alerts: BTreeMap<u128, Vec<u8>>,
}

impl Block {
    fn decode(v: &[u8]) -> Result<Self, String> {
        let format = *v.first().ok_or("empty block")?;
        if format != FORMAT && format != BLOCK_ZSTD {
            return Err("unknown block format".into());
        }
        // The size prefix comes from disk: refuse an absurd one before allocating for it.
        let claimed = v
            .get(1..5)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
            .ok_or("truncated block")?;
        if claimed as usize > MAX_BLOCK_RAW {
            return Err(format!("block claims {claimed} bytes"));
        }
        let raw = if format == BLOCK_ZSTD {
            super::zdict::decompress(&v[5..], 0, claimed as usize)
                .ok_or("block does not decompress")?
        } else {
            lz4_flex::decompress_size_prepended(&v[1..])
                .map_err(|e| format!("block does not decompress: {e}"))?
        };
        let bad = || "truncated block".to_string();
        let count = u32::from_be_bytes(
            raw.get(..4)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        ) as usize;
        let mut at = 4;
        let mut dir = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            let e = raw.get(at..at + 20).ok_or_else(bad)?;
            let id = u128::from_be_bytes(e[..16].try_into().map_err(|_| bad())?);
            let len = u32::from_be_bytes(e[16..].try_into().map_err(|_| bad())?) as usize;
            dir.push((id, len));
            at += 20;
        }
        let mut alerts = BTreeMap::new();
        for (id, len) in dir {
            let body = raw
                .get(at..at.checked_add(len).ok_or_else(bad)?)
                .ok_or_else(bad)?;
            at += len;
            alerts.insert(id, body.to_vec());
        }
        Ok(Self { alerts })
    }

    fn encode(alerts: &[(&u128, &Vec<u8>)]) -> Vec<u8> {
        let size: usize = alerts.iter().map(|(_, b)| b.len() + 20).sum();
        let mut raw = Vec::with_capacity(4 + size);
        raw.extend_from_slice(&(alerts.len() as u32).to_be_bytes());
        for (id, body) in alerts {
            raw.extend_from_slice(&id.to_be_bytes());
            raw.extend_from_slice(&(body.len() as u32).to_be_bytes());
        }
        for (_, body) in alerts {
            raw.extend_from_slice(body);
        }
        match super::zdict::compress(&raw, None) {
            Some(frame) => {
                let mut v = Vec::with_capacity(5 + frame.len());
                v.push(BLOCK_ZSTD);
                v.extend_from_slice(&(raw.len() as u32).to_le_bytes());
                v.extend_from_slice(&frame);
                v
            }
            None => {
                let mut v = vec![FORMAT];
                v.extend(lz4_flex::compress_prepend_size(&raw));
                v
            }
        }
    }
}

fn decode_list(v: &[u8]) -> Option<Vec<u128>> {
    if v.first() != Some(&FORMAT) || !(v.len() - 1).is_multiple_of(16) {
        return None;
    }
    v[1..]
        .chunks_exact(16)
        .map(|c| c.try_into().ok().map(u128::from_be_bytes))
        .collect()
}

fn encode_list(ids: &[u128]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + ids.len() * 16);
    v.push(FORMAT);
    for id in ids {
        v.extend_from_slice(&id.to_be_bytes());
    }
    v
}

fn decode_groups(v: &[u8]) -> Option<Vec<(u64, u128)>> {
    if v.first() != Some(&FORMAT) || !(v.len() - 1).is_multiple_of(24) {
        return None;
    }
    v[1..]
        .chunks_exact(24)
        .map(|c| {
            Some((
                u64::from_be_bytes(c[..8].try_into().ok()?),
                u128::from_be_bytes(c[8..].try_into().ok()?),
            ))
        })
        .collect()
}

fn encode_groups(g: &[(u64, u128)]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + g.len() * 24);
    v.push(FORMAT);
    for (h, id) in g {
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
    }
    v
}

/// The changes of one alert write, staged in memory over what the tree holds, then applied as one batch.
struct Stage<'s> {
    store: &'s Store,
    /// Block key (ULID) → the block's alerts as they will be.
    blocks: BTreeMap<u128, BTreeMap<u128, Vec<u8>>>,
    /// Full list key (prefix + first ULID) → the list as it will be.
    lists: BTreeMap<Vec<u8>, Vec<u128>>,
    groups: BTreeMap<[u8; 3], Vec<(u64, u128)>>,
    counters: [i64; AlertStatus::ALL.len()],
    /// What changed: only these are written back (a block read to check a version is not).
    dirty_blocks: std::collections::BTreeSet<u128>,
    dirty_lists: std::collections::BTreeSet<Vec<u8>>,
    dirty_groups: std::collections::BTreeSet<[u8; 3]>,
    /// Outbox writes that go with these alert changes (deliveries queued or forgotten): same batch.
    outbox: Vec<super::outbox::Op>,
}

impl<'s> Stage<'s> {
    fn new(store: &'s Store) -> Self {
        Self {
            store,
            blocks: BTreeMap::new(),
            lists: BTreeMap::new(),
            groups: BTreeMap::new(),
            counters: [0; AlertStatus::ALL.len()],
            dirty_blocks: Default::default(),
            dirty_lists: Default::default(),
            dirty_groups: Default::default(),
            outbox: Vec::new(),
        }
    }

    /// The key of the block `id` belongs in (loading that block into the stage), or a new block at `id`.
    fn block_for(&mut self, id: u128) -> Result<u128, StoreError> {
        let staged = self.blocks.range(..=id).next_back().map(|(k, _)| *k);
        let stored = self.store.block_key_at_or_before(id)?;
        match (staged, stored) {
            (Some(s), Some(t)) if s >= t => Ok(s),
            (_, Some(t)) => {
                let v = self
                    .store
                    .book
                    .get(with_id(&[BLOCK], t))
                    .map_err(|e| self.store.sled(e))?
                    .ok_or_else(|| self.store.corrupt("alert_book", "block vanished"))?;
                let b = Block::decode(&v).map_err(|e| self.store.corrupt("alert_book", e))?;
                self.blocks.insert(t, b.alerts);
                Ok(t)
            }
            (Some(s), None) => Ok(s),
            (None, None) => {
                self.blocks.insert(id, BTreeMap::new());
                Ok(id)
            }
        }
    }

    fn get_alert(&mut self, id: u128) -> Result<Option<Vec<u8>>, StoreError> {
        let k = self.block_for(id)?;
        Ok(self.blocks.get(&k).and_then(|b| b.get(&id)).cloned())
    }

    fn put_alert(&mut self, id: u128, bytes: Vec<u8>) -> Result<(), StoreError> {
        let k = self.block_for(id)?;
        self.blocks.entry(k).or_default().insert(id, bytes);
        self.dirty_blocks.insert(k);
        Ok(())
    }

    fn remove_alert(&mut self, id: u128) -> Result<Option<Vec<u8>>, StoreError> {
        let k = self.block_for(id)?;
        let gone = self.blocks.get_mut(&k).and_then(|b| b.remove(&id));
        if gone.is_some() {
            self.dirty_blocks.insert(k);
        }
        Ok(gone)
    }

    /// The key of the list under `prefix` that `id` belongs in, loaded into the stage (created if none).
    fn list_for(&mut self, prefix: &[u8], id: u128) -> Result<Vec<u8>, StoreError> {
        let at = with_id(prefix, id);
        let lo = with_id(prefix, 0);
        let staged = self
            .lists
            .range(lo.clone()..=at.clone())
            .next_back()
            .map(|(k, _)| k.clone());
        let stored = match self.store.book.range(lo..=at.clone()).next_back() {
            Some(kv) => Some(kv.map_err(|e| self.store.sled(e))?),
            None => None,
        };
        match (staged, stored) {
            (Some(s), Some((t, _))) if s.as_slice() >= t.as_ref() => Ok(s),
            (_, Some((t, v))) => {
                let ids = decode_list(&v)
                    .ok_or_else(|| self.store.corrupt("alert_book", "malformed posting list"))?;
                self.lists.insert(t.to_vec(), ids);
                Ok(t.to_vec())
            }
            (Some(s), None) => Ok(s),
            (None, None) => {
                self.lists.insert(at.clone(), Vec::new());
                Ok(at)
            }
        }
    }

    fn list_insert(&mut self, prefix: &[u8], id: u128) -> Result<(), StoreError> {
        let k = self.list_for(prefix, id)?;
        let list = self.lists.entry(k.clone()).or_default();
        if let Err(pos) = list.binary_search(&id) {
            list.insert(pos, id);
            self.dirty_lists.insert(k);
        }
        Ok(())
    }

    fn list_remove(&mut self, prefix: &[u8], id: u128) -> Result<(), StoreError> {
        let k = self.list_for(prefix, id)?;
        let list = self.lists.entry(k.clone()).or_default();
        if let Ok(pos) = list.binary_search(&id) {
            list.remove(pos);
            self.dirty_lists.insert(k);
        }
        Ok(())
    }

    fn group_table(&mut self, h: u64) -> Result<&mut Vec<(u64, u128)>, StoreError> {
        let bucket = group_bucket(h);
        if !self.groups.contains_key(&bucket) {
            let table = match self
                .store
                .book
                .get(bucket)
                .map_err(|e| self.store.sled(e))?
            {
                Some(v) => decode_groups(&v)
                    .ok_or_else(|| self.store.corrupt("alert_book", "malformed group table"))?,
                None => Vec::new(),
            };
            self.groups.insert(bucket, table);
        }
        Ok(self.groups.entry(bucket).or_default())
    }

    /// Point the group at `id` if it is the group's newest alert.
    fn group_set(&mut self, group: &str, id: u128) -> Result<(), StoreError> {
        let h = hash64(group);
        let t = self.group_table(h)?;
        let changed = match t.binary_search_by_key(&h, |e| e.0) {
            Ok(i) if t[i].1 >= id => false,
            Ok(i) => {
                t[i].1 = id;
                true
            }
            Err(i) => {
                t.insert(i, (h, id));
                true
            }
        };
        if changed {
            self.dirty_groups.insert(group_bucket(h));
        }
        Ok(())
    }

    /// Forget the group's pointer if it points at `id`.
    fn group_unset(&mut self, group: &str, id: u128) -> Result<(), StoreError> {
        let h = hash64(group);
        let t = self.group_table(h)?;
        if let Ok(i) = t.binary_search_by_key(&h, |e| e.0)
            && t[i].1 == id
        {
            t.remove(i);
            self.dirty_groups.insert(group_bucket(h));
        }
        Ok(())
    }

    fn count(&mut self, s: AlertStatus, delta: i64) {
        self.counters[s.code() as usize] += delta;
    }

    /// Apply everything as one batch.
    fn commit(self) -> Result<(), StoreError> {
        let store = self.store;
        let mut batch = sled::Batch::default();
        for (key, alerts) in self
            .blocks
            .iter()
            .filter(|(k, _)| self.dirty_blocks.contains(*k))
        {
            batch.remove(with_id(&[BLOCK], *key));
            let all: Vec<(&u128, &Vec<u8>)> = alerts.iter().collect();
            let mut start = 0;
            while start < all.len() {
                let mut end = start;
                let mut bytes = 0;
                while end < all.len()
                    && end - start < BLOCK_ALERTS
                    && (end == start || bytes + all[end].1.len() <= BLOCK_BYTES)
                {
                    bytes += all[end].1.len();
                    end += 1;
                }
                // The first chunk keeps the block's key (its range starts there); others start at their first.
                let k = if start == 0 { *key } else { *all[start].0 };
                batch.insert(with_id(&[BLOCK], k), Block::encode(&all[start..end]));
                start = end;
            }
        }
        for (key, ids) in self
            .lists
            .iter()
            .filter(|(k, _)| self.dirty_lists.contains(*k))
        {
            if ids.len() <= LIST_CAP {
                if ids.is_empty() {
                    batch.remove(key.as_slice());
                } else {
                    batch.insert(key.as_slice(), encode_list(ids));
                }
                continue;
            }
            // Split: the first half keeps the list's key (its range starts there).
            let prefix = &key[..key.len() - 16];
            for (i, chunk) in ids.chunks(LIST_CAP / 2).enumerate() {
                let k = if i == 0 {
                    key.clone()
                } else {
                    with_id(prefix, chunk[0])
                };
                batch.insert(k, encode_list(chunk));
            }
        }
        for (bucket, table) in self
            .groups
            .iter()
            .filter(|(b, _)| self.dirty_groups.contains(*b))
        {
            if table.is_empty() {
                batch.remove(&bucket[..]);
            } else {
                batch.insert(&bucket[..], encode_groups(table));
            }
        }
        for s in AlertStatus::ALL {
            let delta = self.counters[s.code() as usize];
            if delta != 0 {
                let cur = store.alert_counter(s)?;
                let next = if delta < 0 {
                    cur.saturating_sub(delta.unsigned_abs())
                } else {
                    cur.saturating_add(delta as u64)
                };
                batch.insert(&counter_key(s)[..], &next.to_be_bytes()[..]);
            }
        }
        for (k, v) in self.outbox {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        store.book.apply_batch(batch).map_err(|e| store.sled(e))
    }
}

impl Store {
    fn block_key_at_or_before(&self, id: u128) -> Result<Option<u128>, StoreError> {
        match self
            .book
            .range(with_id(&[BLOCK], 0)..=with_id(&[BLOCK], id))
            .next_back()
        {
            Some(kv) => {
                let (k, _) = kv.map_err(|e| self.sled(e))?;
                let b: [u8; 16] = k
                    .get(1..17)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| self.corrupt("alert_book", "malformed block key"))?;
                Ok(Some(u128::from_be_bytes(b)))
            }
            None => Ok(None),
        }
    }

    fn alert_counter(&self, s: AlertStatus) -> Result<u64, StoreError> {
        Ok(self
            .book
            .get(counter_key(s))
            .map_err(|e| self.sled(e))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Write alerts with their index entries and status counters in one batch, so an index never points at a
    /// missing alert and counters never drift. A blind write: meant for new alerts and bulk loads. To change an
    /// alert that others may change too, use [`Store::update_alert`] or [`Store::modify_alerts`], which read
    /// and write under the alert lock.
    pub fn save_alerts(&self, alerts: &[Alert]) -> Result<(), StoreError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let encoded: Vec<(&Alert, Vec<u8>)> = alerts
            .iter()
            .map(|a| encode_alert(a).map(|v| (a, v)))
            .collect::<Result<_, _>>()
            .map_err(|e| self.corrupt("alert_book", format!("cannot encode alert: {e}")))?;
        let _guard = self.alert_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut stage = Stage::new(self);
        for (a, bytes) in encoded {
            let old = match stage.get_alert(u128::from(a.id))? {
                Some(v) => Some(decode_alert(&v).map_err(|e| self.corrupt("alert_book", e))?),
                None => None,
            };
            self.stage_alert(&mut stage, old.as_ref(), a, bytes)?;
        }
        stage.commit()
    }

    /// Stage `a` over `old` (its stored version, if any): lists, group pointer, counters, block.
    fn stage_alert(
        &self,
        stage: &mut Stage<'_>,
        old: Option<&Alert>,
        a: &Alert,
        bytes: Vec<u8>,
    ) -> Result<(), StoreError> {
        let id = u128::from(a.id);
        let new_prefixes = index_prefixes(a);
        if let Some(old) = old {
            for p in index_prefixes(old) {
                if !new_prefixes.contains(&p) {
                    stage.list_remove(&p, id)?;
                }
            }
            if old.group_key != a.group_key {
                stage.group_unset(&old.group_key, id)?;
            }
            stage.count(old.status, -1);
        }
        for p in &new_prefixes {
            stage.list_insert(p, id)?;
        }
        stage.group_set(&a.group_key, id)?;
        stage.count(a.status, 1);
        let deliveries = self.route(old, a);
        if !deliveries.is_empty() {
            stage.outbox.extend(self.enqueue_ops(&deliveries)?);
        }
        stage.put_alert(id, bytes)
    }

    /// Read, change and write alerts as one step under the alert lock, so that two writers (the ingest
    /// pipeline growing an alert, an analyst acknowledging it) never overwrite each other's change. `change`
    /// returns whether it changed anything; an error from it aborts the whole write. Ids not stored are
    /// skipped. Returns the alerts as written.
    pub fn modify_alerts(
        &self,
        ids: &[Ulid],
        mut change: impl FnMut(&mut Alert) -> Result<bool, StoreError>,
    ) -> Result<Vec<Alert>, StoreError> {
        let _guard = self.alert_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut stage = Stage::new(self);
        let mut out = Vec::new();
        for id in ids {
            let Some(v) = stage.get_alert(u128::from(*id))? else {
                continue;
            };
            let old = decode_alert(&v).map_err(|e| self.corrupt("alert_book", e))?;
            let mut a = old.clone();
            if !change(&mut a)? {
                continue;
            }
            let bytes = encode_alert(&a)
                .map_err(|e| self.corrupt("alert_book", format!("cannot encode alert: {e}")))?;
            self.stage_alert(&mut stage, Some(&old), &a, bytes)?;
            out.push(a);
        }
        stage.commit()?;
        Ok(out)
    }

    /// One alert by id.
    pub fn alert(&self, id: Ulid) -> Result<Option<Alert>, StoreError> {
        AlertReader::new(self).alert(u128::from(id))
    }

    /// The newest alert of a group, if any: the candidate a continuing burst grows.
    pub fn latest_in_group(&self, group: &str) -> Result<Option<Alert>, StoreError> {
        let h = hash64(group);
        let Some(v) = self.book.get(group_bucket(h)).map_err(|e| self.sled(e))? else {
            return Ok(None);
        };
        let table =
            decode_groups(&v).ok_or_else(|| self.corrupt("alert_book", "malformed group table"))?;
        let Ok(i) = table.binary_search_by_key(&h, |e| e.0) else {
            return Ok(None);
        };
        let alert = self.alert(Ulid(table[i].1))?;
        // Two groups may share a hash; the key decides.
        Ok(alert.filter(|a| a.group_key == group))
    }

    /// Change one alert under optimistic concurrency: `expected_version` must match what is stored, else
    /// [`StoreError::Conflict`] (another analyst changed it first). The change bumps `version`. The check and
    /// the write happen under the alert lock, as one step.
    pub fn update_alert(
        &self,
        id: Ulid,
        expected_version: Option<u64>,
        change: impl FnOnce(&mut Alert),
    ) -> Result<Alert, StoreError> {
        let mut change = Some(change);
        let written = self.modify_alerts(&[id], |a| {
            if let Some(v) = expected_version
                && v != a.version
            {
                return Err(StoreError::Conflict {
                    id: id.to_string(),
                    found: a.version,
                    expected: v,
                });
            }
            if let Some(change) = change.take() {
                change(a);
            }
            a.version += 1;
            Ok(true)
        })?;
        written
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NoSuchAlert(id.to_string()))
    }

    /// Alerts created before `before`, oldest first, at most `limit`: what alert retention archives next.
    pub fn alerts_created_before(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        let filter = AlertFilter {
            until: Some(before),
            ascending: true,
            ..AlertFilter::default()
        };
        Ok(self.alerts_page(&filter, None, limit)?.alerts)
    }

    /// Delete alerts with their index entries and status counters. Returns how many existed. Ids that are not
    /// stored are skipped.
    pub fn delete_alerts(&self, ids: &[Ulid]) -> Result<u64, StoreError> {
        let at: Vec<(Ulid, Option<u64>)> = ids.iter().map(|id| (*id, None)).collect();
        self.delete_alerts_where(&at)
    }

    /// Delete alerts that are still at the version given (retention deletes what it archived): one changed
    /// since (an analyst's note, a burst growing it) is kept, to be archived again in its new form. Returns how
    /// many went.
    pub fn delete_alerts_at(&self, versions: &[(Ulid, u64)]) -> Result<u64, StoreError> {
        let at: Vec<(Ulid, Option<u64>)> = versions.iter().map(|(id, v)| (*id, Some(*v))).collect();
        self.delete_alerts_where(&at)
    }

    fn delete_alerts_where(&self, ids: &[(Ulid, Option<u64>)]) -> Result<u64, StoreError> {
        let _guard = self.alert_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut stage = Stage::new(self);
        let mut n = 0;
        for (id, version) in ids {
            let id = u128::from(*id);
            let Some(v) = stage.get_alert(id)? else {
                continue;
            };
            let old = decode_alert(&v).map_err(|e| self.corrupt("alert_book", e))?;
            if version.is_some_and(|v| v != old.version) {
                continue;
            }
            stage.remove_alert(id)?;
            n += 1;
            for p in index_prefixes(&old) {
                stage.list_remove(&p, id)?;
            }
            stage.group_unset(&old.group_key, id)?;
            stage.count(old.status, -1);
            stage.outbox.extend(self.forget_deliveries_ops(id)?);
        }
        stage.commit()?;
        Ok(n)
    }

    /// Alerts per status.
    pub fn status_counts(&self) -> StatusCounts {
        let c = |s| self.alert_counter(s).unwrap_or(0);
        StatusCounts {
            open: c(AlertStatus::Open),
            acknowledged: c(AlertStatus::Acknowledged),
            expected: c(AlertStatus::Expected),
            true_positive: c(AlertStatus::TruePositive),
        }
    }

    /// A page of alerts matching `filter`, newest first (oldest first with `filter.ascending`; most severe first
    /// with `filter.by_severity`), starting after `cursor` (the last alert of the previous page). Served from
    /// the most selective index the filter allows; never a full scan unless the filter has nothing an index
    /// can use.
    pub fn alerts_page(
        &self,
        filter: &AlertFilter,
        cursor: Option<Ulid>,
        limit: usize,
    ) -> Result<AlertPage, StoreError> {
        if filter.by_severity {
            return self.alerts_page_by_severity(filter, cursor, limit);
        }
        let (lo_id, hi_id) = id_bounds(filter);
        let (lo_id, hi_id) = match (cursor, filter.ascending) {
            (Some(c), false) => (lo_id, hi_id.min(u128::from(c).saturating_sub(1))),
            (Some(c), true) => (lo_id.max(u128::from(c).saturating_add(1)), hi_id),
            (None, _) => (lo_id, hi_id),
        };
        let mut page = AlertPage::default();
        self.merge_into(
            scan_prefixes(filter),
            lo_id,
            hi_id,
            filter,
            limit,
            &mut page,
        )?;
        Ok(page)
    }

    /// Most severe first, then newest first within a severity (reversed with `ascending`), from the
    /// status+severity lists one severity at a time. The cursor's own severity says where to resume.
    fn alerts_page_by_severity(
        &self,
        filter: &AlertFilter,
        cursor: Option<Ulid>,
        limit: usize,
    ) -> Result<AlertPage, StoreError> {
        let at = match cursor {
            Some(c) => self.alert(c)?.map(|a| (a.severity, u128::from(c))),
            None => None,
        };
        let statuses: Vec<AlertStatus> = if filter.statuses.is_empty() {
            AlertStatus::ALL.to_vec()
        } else {
            filter.statuses.clone()
        };
        let mut severities: Vec<Severity> = Severity::ALL
            .into_iter()
            .filter(|s| {
                filter.min_severity.is_none_or(|m| *s >= m)
                    && filter.max_severity.is_none_or(|m| *s <= m)
            })
            .collect();
        if !filter.ascending {
            severities.reverse();
        }
        let (lo_all, hi_all) = id_bounds(filter);
        let mut page = AlertPage::default();
        for sev in severities {
            let (mut lo, mut hi) = (lo_all, hi_all);
            if let Some((cs, cu)) = at {
                let passed = if filter.ascending { sev < cs } else { sev > cs };
                if passed {
                    continue;
                }
                if sev == cs {
                    if filter.ascending {
                        lo = lo.max(cu.saturating_add(1));
                    } else {
                        hi = hi.min(cu.saturating_sub(1));
                    }
                }
            }
            let prefixes = statuses.iter().map(|st| status_prefix(*st, sev)).collect();
            if self.merge_into(prefixes, lo, hi, filter, limit, &mut page)? {
                return Ok(page);
            }
        }
        Ok(page)
    }

    /// Merge the ULID-ordered scans of `prefixes` over `[lo, hi]` (newest first, or oldest first with
    /// `ascending`), appending alerts that pass the filter to `page` until it holds `limit`. Returns whether it
    /// filled (then `page.next` is set).
    fn merge_into(
        &self,
        prefixes: Vec<Vec<u8>>,
        lo_id: u128,
        hi_id: u128,
        filter: &AlertFilter,
        limit: usize,
        page: &mut AlertPage,
    ) -> Result<bool, StoreError> {
        page.next = None;
        if lo_id > hi_id || page.alerts.len() >= limit {
            return Ok(page.alerts.len() >= limit && limit > 0);
        }
        let mut scans: Vec<Scan> = prefixes
            .into_iter()
            .map(|p| Scan::new(self, p, lo_id, hi_id, filter.ascending))
            .collect::<Result<_, _>>()?;
        let mut reader = AlertReader::new(self);
        let mut last = None;
        loop {
            // Merge the scans by ULID (max for newest first, min for oldest first).
            let pick = scans
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.head().map(|h| (i, h)))
                .reduce(|a, b| {
                    if (b.1 > a.1) != filter.ascending {
                        b
                    } else {
                        a
                    }
                });
            let Some((i, id)) = pick else {
                return Ok(false);
            };
            scans[i].advance()?;
            // A list may be split under a running scan; never yield an id twice.
            if last == Some(id) {
                continue;
            }
            last = Some(id);
            let Some(alert) = reader.alert(id)? else {
                continue;
            };
            if filter.matches(&alert) {
                page.alerts.push(alert);
                if page.alerts.len() == limit {
                    page.next = Some(Ulid(id));
                    return Ok(true);
                }
            }
        }
    }

    /// Entries (blocks, posting lists, group tables, counters) in the alert tree. Walks the tree: for the benches.
    #[doc(hidden)]
    pub fn alert_book_entries(&self) -> usize {
        self.book.len()
    }

    /// The encoded bytes of an alert as stored in its block (tests check the encoding).
    #[doc(hidden)]
    pub fn raw_alert(&self, id: Ulid) -> Result<Option<Vec<u8>>, StoreError> {
        let mut stage = Stage::new(self);
        stage.get_alert(u128::from(id))
    }
}

/// Posting-list prefixes to merge for a filter, most selective first choice: actor, detection,
/// status/severity, else the blocks themselves.
fn scan_prefixes(f: &AlertFilter) -> Vec<Vec<u8>> {
    if let Some(who) = &f.actor {
        return vec![hashed_prefix(b'A', hash64(&who.to_lowercase()))];
    }
    if let Some(d) = &f.detection {
        return vec![hashed_prefix(b'D', hash64(d))];
    }
    if !f.statuses.is_empty() || f.min_severity.is_some() {
        let statuses: Vec<AlertStatus> = if f.statuses.is_empty() {
            AlertStatus::ALL.to_vec()
        } else {
            f.statuses.clone()
        };
        let min = f.min_severity.unwrap_or(Severity::Low);
        let mut out = Vec::new();
        for s in statuses {
            for sev in Severity::ALL.into_iter().filter(|v| *v >= min) {
                out.push(status_prefix(s, sev));
            }
        }
        return out;
    }
    vec![vec![BLOCK]]
}

/// The ULID range a filter's `since`/`until` allow (ULIDs carry `created`).
fn id_bounds(filter: &AlertFilter) -> (u128, u128) {
    let at = |t: &chrono::DateTime<chrono::Utc>| {
        u128::from(Ulid::from_parts(t.timestamp_millis().max(0) as u64, 0))
    };
    let lo = filter.since.as_ref().map_or(0, at);
    let hi = filter
        .until
        .as_ref()
        .map_or(u128::MAX, |t| at(t).saturating_sub(1));
    (lo, hi)
}

/// Reads alerts by id, keeping the last block it decoded (a page's alerts mostly share a few blocks).
struct AlertReader<'s> {
    store: &'s Store,
    block: Option<(u128, Block)>,
}

impl<'s> AlertReader<'s> {
    fn new(store: &'s Store) -> Self {
        Self { store, block: None }
    }

    fn alert(&mut self, id: u128) -> Result<Option<Alert>, StoreError> {
        if let Some((_, b)) = &self.block
            && let Some(v) = b.alerts.get(&id)
        {
            return decode_alert(v)
                .map(Some)
                .map_err(|e| self.store.corrupt("alert_book", e));
        }
        let Some(k) = self.store.block_key_at_or_before(id)? else {
            return Ok(None);
        };
        let Some(v) = self
            .store
            .book
            .get(with_id(&[BLOCK], k))
            .map_err(|e| self.store.sled(e))?
        else {
            return Ok(None);
        };
        let b = Block::decode(&v).map_err(|e| self.store.corrupt("alert_book", e))?;
        let found = match b.alerts.get(&id) {
            Some(v) => Some(decode_alert(v).map_err(|e| self.store.corrupt("alert_book", e))?),
            None => None,
        };
        self.block = Some((k, b));
        Ok(found)
    }
}

type KvIter<'a> = Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + 'a>;

/// The ULIDs in `[lo, hi]` under one prefix, in order, read list by list (or block by block).
struct Scan<'a> {
    store: &'a Store,
    iter: KvIter<'a>,
    buf: std::collections::VecDeque<u128>,
    prefix_len: usize,
    lo: u128,
    hi: u128,
    ascending: bool,
    done: bool,
}

impl<'a> Scan<'a> {
    fn new(
        store: &'a Store,
        prefix: Vec<u8>,
        lo: u128,
        hi: u128,
        ascending: bool,
    ) -> Result<Self, StoreError> {
        let first = with_id(&prefix, 0);
        let end = with_id(&prefix, hi);
        let iter: KvIter<'a> = if ascending {
            // Start at the list holding `lo`: the last one keyed at or before it.
            let start = match store
                .book
                .range(first.clone()..=with_id(&prefix, lo))
                .next_back()
            {
                Some(kv) => kv.map_err(|e| store.sled(e))?.0.to_vec(),
                None => first,
            };
            Box::new(store.book.range(start..=end))
        } else {
            Box::new(store.book.range(first..=end).rev())
        };
        let mut s = Self {
            store,
            iter,
            buf: Default::default(),
            prefix_len: prefix.len(),
            lo,
            hi,
            ascending,
            done: false,
        };
        s.fill()?;
        Ok(s)
    }

    fn head(&self) -> Option<u128> {
        self.buf.front().copied()
    }

    fn advance(&mut self) -> Result<(), StoreError> {
        self.buf.pop_front();
        self.fill()
    }

    /// Read lists until the buffer holds an id or the range is exhausted.
    fn fill(&mut self) -> Result<(), StoreError> {
        while self.buf.is_empty() && !self.done {
            let Some(kv) = self.iter.next() else {
                self.done = true;
                break;
            };
            let (k, v) = kv.map_err(|e| self.store.sled(e))?;
            let key_id = k
                .get(self.prefix_len..self.prefix_len + 16)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(u128::from_be_bytes)
                .ok_or_else(|| self.store.corrupt("alert_book", "malformed key"))?;
            let ids: Vec<u128> = if self.prefix_len == 1 && k.first() == Some(&BLOCK) {
                Block::decode(&v)
                    .map_err(|e| self.store.corrupt("alert_book", e))?
                    .alerts
                    .into_keys()
                    .collect()
            } else {
                decode_list(&v)
                    .ok_or_else(|| self.store.corrupt("alert_book", "malformed posting list"))?
            };
            let (lo, hi) = (self.lo, self.hi);
            let within = ids.into_iter().filter(|id| (lo..=hi).contains(id));
            if self.ascending {
                self.buf.extend(within);
            } else {
                self.buf.extend(within.rev());
                // Lists before this one hold only smaller ids.
                if key_id < lo {
                    self.done = true;
                }
            }
        }
        Ok(())
    }
}

impl Store {
    /// Schemas 0–2 → 3: move alerts from one entry each (plus ~6 index entries) into blocks and posting lists.
    /// Reads the old `alerts` tree of `old` in ULID order a chunk at a time and writes through
    /// [`Store::save_alerts`], which builds the lists and counters.
    pub(super) fn import_legacy_alerts(&self, old: &sled::Db) -> Result<u64, StoreError> {
        let old = old.open_tree("alerts").map_err(|e| self.sled(e))?;
        let mut n = 0;
        let mut chunk = Vec::with_capacity(2_000);
        for kv in old.iter() {
            let (_, v) = kv.map_err(|e| self.sled(e))?;
            chunk.push(decode_alert(&v).map_err(|e| self.corrupt("alerts", e))?);
            if chunk.len() == 2_000 {
                self.save_alerts(&chunk)?;
                n += chunk.len() as u64;
                chunk.clear();
            }
        }
        self.save_alerts(&chunk)?;
        n += chunk.len() as u64;
        Ok(n)
    }

    /// Write alerts the way schema 2 did (one postcard entry each in an `alerts` tree, JSON when `json`, as
    /// schema 1 did), for the migration test.
    #[doc(hidden)]
    pub fn put_legacy_alerts(&self, alerts: &[Alert], json: bool) -> Result<(), StoreError> {
        let old = self.db.open_tree("alerts").map_err(|e| self.sled(e))?;
        for a in alerts {
            let v = if json {
                serde_json::to_vec(a).map_err(|e| self.corrupt("alerts", e.to_string()))?
            } else {
                encode_alert(a).map_err(|e| self.corrupt("alerts", e))?
            };
            old.insert(a.id.to_bytes(), v).map_err(|e| self.sled(e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn block_round_trip_and_absurd_size_refused() {
        let (a, b) = (vec![1u8, 2, 3], vec![9u8; 40]);
        let v = Block::encode(&[(&5u128, &a), (&7u128, &b)]);
        let got = Block::decode(&v).unwrap().alerts;
        assert_eq!(got.get(&5), Some(&a));
        assert_eq!(got.get(&7), Some(&b));
        assert_eq!(v[0], BLOCK_ZSTD);
        let mut bad = v.clone();
        bad[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Block::decode(&bad).unwrap_err().contains("claims"));
        // A size that lies within the cap is refused too, not trusted.
        let mut bad = v.clone();
        bad[1..5].copy_from_slice(&1000u32.to_le_bytes());
        assert!(Block::decode(&bad).is_err());
        // Blocks schema 4 wrote in lz4 still read.
        let mut raw = Vec::new();
        raw.extend_from_slice(&1u32.to_be_bytes());
        raw.extend_from_slice(&5u128.to_be_bytes());
        raw.extend_from_slice(&3u32.to_be_bytes());
        raw.extend_from_slice(&a);
        let mut old = vec![FORMAT];
        old.extend(lz4_flex::compress_prepend_size(&raw));
        assert_eq!(Block::decode(&old).unwrap().alerts.get(&5), Some(&a));
    }

    proptest! {
        /// Damaged values are refused, never a panic.
        #[test]
        fn decoders_never_panic(v in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Block::decode(&v);
            let _ = decode_list(&v);
            let _ = decode_groups(&v);
            for format in [FORMAT, BLOCK_ZSTD] {
                let mut framed = vec![format];
                framed.extend_from_slice(&v);
                let _ = Block::decode(&framed);
            }
        }
    }
}
