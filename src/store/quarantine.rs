//! Quarantine: every rejected record with its source, place, reason and (capped) raw bytes, so an operator can
//! see exactly what was refused and why, and fix the sender.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// A rejected record as stored. `raw` is capped by the ingest layer at 64 KiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// File path, `-` for stdin, or the receiver that got it.
    pub source: String,
    pub line: u64,
    pub offset: u64,
    pub reason: String,
    /// Full size of the record; `raw` may be shorter.
    pub size: u64,
    /// When vigil refused it (wall clock: this is bookkeeping, not detection).
    pub at: DateTime<Utc>,
    #[serde(skip)]
    pub raw: Vec<u8>,
}

/// Bytes of quarantined records kept per source at most (encoded: header and raw bytes). A sender that
/// refuses to learn (a 1M-element array of bad objects, a stream of garbage) fills its own share, then its
/// records are counted and not kept: enough of them stay to see what is wrong, and the disk does not fill.
pub const QUARANTINE_SOURCE_CAP: u64 = 16 * 1024 * 1024;

/// Bytes of quarantined records kept over all sources at most.
pub const QUARANTINE_TOTAL_CAP: u64 = 128 * 1024 * 1024;

/// Meta counters: bytes kept in all, and records refused but not kept for a cap.
const BYTES: &str = "quarantine_bytes";
const DROPPED: &str = "quarantine_dropped";

/// Meta counter of the bytes kept for one source.
fn source_bytes_key(source: &str) -> String {
    format!("quarantine_bytes:{source}")
}

/// Value layout: `[u32 header length][header JSON][raw bytes]`: raw bytes stay bytes (invalid UTF-8 included).
fn encode(r: &QuarantineRecord) -> Vec<u8> {
    let header = serde_json::to_vec(r).unwrap_or_default();
    let mut v = Vec::with_capacity(4 + header.len() + r.raw.len());
    v.extend_from_slice(&(header.len() as u32).to_be_bytes());
    v.extend_from_slice(&header);
    v.extend_from_slice(&r.raw);
    v
}

/// Identity of a rejected record: where it came from and its bytes.
fn identity(r: &QuarantineRecord) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(
        &super::keys::hash64(&format!("{}\u{0}{}", r.source, r.offset)).to_be_bytes(),
    );
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ r.size;
    for b in &r.raw {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    k[8..].copy_from_slice(&h.to_be_bytes());
    k
}

fn decode(v: &[u8]) -> Option<QuarantineRecord> {
    let n = u32::from_be_bytes(v.get(..4)?.try_into().ok()?) as usize;
    let mut r: QuarantineRecord = serde_json::from_slice(v.get(4..4 + n)?).ok()?;
    r.raw = v.get(4 + n..)?.to_vec();
    Some(r)
}

impl Store {
    /// Keep rejected records, once each: the same record from the same place (source, offset, bytes) seen
    /// again — a file ingested twice — is not kept twice. A record that would take its source past
    /// [`QUARANTINE_SOURCE_CAP`] or the quarantine past [`QUARANTINE_TOTAL_CAP`] is not kept but counted
    /// ([`Store::quarantine_dropped`]); nothing is remembered of it, so refused again it is counted again.
    /// Returns how many were kept. Not durable until [`Store::flush`].
    pub fn quarantine_records(&self, records: &[QuarantineRecord]) -> Result<u64, StoreError> {
        let mut batch = sled::Batch::default();
        let mut seen_batch = sled::Batch::default();
        let mut seen_now = std::collections::HashSet::new();
        let mut new = 0u64;
        let mut dropped = 0u64;
        let mut total = self.counter(BYTES);
        let mut kept = 0u64;
        // Bytes per source: (already kept before this batch, added by it).
        let mut sources: std::collections::HashMap<&str, (u64, u64)> = Default::default();
        for r in records {
            let ident = identity(r);
            if !seen_now.insert(ident)
                || self
                    .quarantine_seen
                    .contains_key(ident)
                    .map_err(|e| self.sled(e))?
            {
                continue;
            }
            let value = encode(r);
            let size = value.len() as u64;
            let source = match sources.get_mut(r.source.as_str()) {
                Some(s) => s,
                None => sources
                    .entry(r.source.as_str())
                    .or_insert((self.counter(&source_bytes_key(&r.source)), 0)),
            };
            if total.saturating_add(size) > QUARANTINE_TOTAL_CAP
                || source.0.saturating_add(source.1).saturating_add(size) > QUARANTINE_SOURCE_CAP
            {
                dropped += 1;
                continue;
            }
            total += size;
            kept += size;
            source.1 += size;
            let id = self.db.generate_id().map_err(|e| self.sled(e))?;
            batch.insert(&id.to_be_bytes()[..], value);
            seen_batch.insert(&ident[..], &[][..]);
            new += 1;
        }
        self.bump(DROPPED, dropped)?;
        if new == 0 {
            return Ok(0);
        }
        self.quarantine
            .apply_batch(batch)
            .map_err(|e| self.sled(e))?;
        self.quarantine_seen
            .apply_batch(seen_batch)
            .map_err(|e| self.sled(e))?;
        self.bump("quarantined", new)?;
        self.bump(BYTES, kept)?;
        for (source, (_, added)) in sources {
            self.bump(&source_bytes_key(source), added)?;
        }
        Ok(new)
    }

    /// Records kept in quarantine.
    pub fn quarantined_count(&self) -> u64 {
        self.counter("quarantined")
    }

    /// Records refused but not kept because the quarantine had reached a cap.
    pub fn quarantine_dropped(&self) -> u64 {
        self.counter(DROPPED)
    }

    /// Bytes the quarantine holds (its records as encoded: header and raw bytes).
    pub fn quarantine_bytes(&self) -> u64 {
        self.counter(BYTES)
    }

    /// Quarantined records in the order they arrived, skipping `skip`, at most `limit`.
    pub fn quarantine_list(
        &self,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<QuarantineRecord>, StoreError> {
        let mut out = Vec::new();
        for kv in self.quarantine.iter().skip(skip).take(limit) {
            let (_, v) = kv.map_err(|e| self.sled(e))?;
            out.push(decode(&v).ok_or_else(|| self.corrupt("quarantine", "undecodable record"))?);
        }
        Ok(out)
    }
}
