//! One value of the `event_runs` tree: a run of one actor's events of one UTC day, in time order.
//!
//! sled's memory and open time grow with the number of entries (leaf nodes split at 16 items, and every node
//! costs a page-table slot and fragment pointers whatever its size), so events are packed several to an entry.
//! A run is laid out so that checking whether an id is there (dedupe) never touches the bodies:
//!
//! ```text
//! [format u8][count u16][last time i64]
//! count × [time i64][id length u16][body length u32][id bytes]     directory
//! bodies, concatenated in directory order                          format 1: as they are
//!                                                                  format 2: lz4, size-prefixed (schema 3)
//!                                                                  format 3: [dictionary id u32][size u32]
//!                                                                            zstd frame (see `zdict`)
//! ```
//!
//! Small runs, still growing by merges, are lz4 (format 2), which a merge undoes at memory speed; a run big
//! enough to be final is compressed once (format 3: zstd with the store's dictionary, ~11x on audit JSON).
//! Every read is bounds-checked: a damaged value is reported as corrupt, never a panic.

use std::borrow::Cow;
use std::ops::Range;

use super::zdict::ZDict;

/// Format byte of a plain run.
const PLAIN: u8 = 1;
/// Format byte of a run whose bodies are lz4-compressed: small runs (schema 3 also wrote full ones so).
const LZ4: u8 = 2;
/// Format byte of a run whose bodies are zstd-compressed, with a dictionary or none.
const ZSTD: u8 = 3;
const HEADER: usize = 1 + 2 + 8;
const ENTRY_FIXED: usize = 8 + 2 + 4;

/// Most events in one run. Runs are also capped by bytes ([`MAX_RUN_BYTES`]); whichever is hit first.
pub const MAX_RUN_EVENTS: usize = 64;

/// Most bytes of ids and bodies in one run, before compression (a single larger event gets a run of its
/// own). sled writes a node bigger than a quarter of its 512 KiB segment as a separate blob file and a leaf
/// holds up to 17 values: plain runs stay under half of this, compressed ones come to ~6 KiB.
pub const MAX_RUN_BYTES: usize = 16 * 1024;

/// Most body bytes a well-formed run holds: its cap plus one record of the largest size ingest accepts.
const MAX_BODIES: usize = MAX_RUN_BYTES + 16 * 1024 * 1024;

/// A run this big (events or bytes) is final: it is written compressed and merges no more.
pub fn is_final(count: usize, bytes: usize) -> bool {
    count * 2 >= MAX_RUN_EVENTS || bytes * 2 >= MAX_RUN_BYTES
}

/// One event's place in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub time_ms: i64,
    pub id: &'a [u8],
    pub body: &'a [u8],
}

/// A parsed run: its directory (borrowing the value) and its bodies (borrowed, or decompressed).
#[derive(Debug)]
pub struct RunView<'a> {
    pub last_ms: i64,
    dir: Vec<(i64, &'a [u8], Range<usize>)>,
    bodies: Cow<'a, [u8]>,
}

/// Directory of a run value: last time, entries (time, id, body length) and where the bodies start.
type Directory<'a> = (i64, Vec<(i64, &'a [u8], usize)>, usize);

fn directory(v: &[u8]) -> Option<Directory<'_>> {
    if !matches!(v.first()?, &PLAIN | &LZ4 | &ZSTD) {
        return None;
    }
    let count = u16::from_be_bytes(v.get(1..3)?.try_into().ok()?) as usize;
    let last_ms = i64::from_be_bytes(v.get(3..11)?.try_into().ok()?);
    let mut dir = Vec::with_capacity(count);
    let mut at = HEADER;
    for _ in 0..count {
        let f = v.get(at..at + ENTRY_FIXED)?;
        let time_ms = i64::from_be_bytes(f[..8].try_into().ok()?);
        let id_len = u16::from_be_bytes(f[8..10].try_into().ok()?) as usize;
        let body_len = u32::from_be_bytes(f[10..14].try_into().ok()?) as usize;
        at += ENTRY_FIXED;
        let id = v.get(at..at + id_len)?;
        at += id_len;
        dir.push((time_ms, id, body_len));
    }
    Some((last_ms, dir, at))
}

impl<'a> RunView<'a> {
    /// Parse a run value (decompressing its bodies if need be); `None` when it is not a well-formed run.
    pub fn parse(v: &'a [u8]) -> Option<Self> {
        let (last_ms, entries, at) = directory(v)?;
        let total = entries.iter().try_fold(0usize, |n, e| n.checked_add(e.2))?;
        // A damaged directory must not make a read allocate gigabytes: no run the writer makes holds more than
        // one record over its cap, and a record is at most 8 MiB.
        if total > MAX_BODIES {
            return None;
        }
        let bodies: Cow<'a, [u8]> = match v[0] {
            PLAIN => Cow::Borrowed(v.get(at..)?),
            ZSTD => {
                let dict = u32::from_be_bytes(v.get(at..at + 4)?.try_into().ok()?);
                let claimed = u32::from_le_bytes(v.get(at + 4..at + 8)?.try_into().ok()?) as usize;
                if claimed != total {
                    return None;
                }
                Cow::Owned(super::zdict::decompress(v.get(at + 8..)?, dict, total)?)
            }
            _ => {
                // The size prefix comes from the value: refuse one that does not match the directory before
                // allocating anything for it.
                let claimed = u32::from_le_bytes(v.get(at..at + 4)?.try_into().ok()?) as usize;
                if claimed != total {
                    return None;
                }
                Cow::Owned(lz4_flex::decompress_size_prepended(v.get(at..)?).ok()?)
            }
        };
        if bodies.len() != total {
            return None;
        }
        let mut off = 0;
        let dir = entries
            .into_iter()
            .map(|(t, id, len)| {
                let r = off..off + len;
                off += len;
                (t, id, r)
            })
            .collect();
        Some(Self {
            last_ms,
            dir,
            bodies,
        })
    }

    /// Just the header: event count and last time, without walking the directory.
    pub fn header(v: &[u8]) -> Option<(usize, i64)> {
        if !matches!(v.first()?, &PLAIN | &LZ4 | &ZSTD) {
            return None;
        }
        let count = u16::from_be_bytes(v.get(1..3)?.try_into().ok()?) as usize;
        let last_ms = i64::from_be_bytes(v.get(3..11)?.try_into().ok()?);
        Some((count, last_ms))
    }

    /// Whether an event with this time and id is in the run value. Reads the directory only.
    pub fn contains(v: &[u8], time_ms: i64, id: &[u8]) -> Option<bool> {
        let (_, dir, _) = directory(v)?;
        Some(dir.iter().any(|e| e.0 == time_ms && e.1 == id))
    }

    /// Whether the run value is below the final size (plain or lz4, as small runs are written), so merging
    /// it is cheap and worthwhile. Reads the directory only.
    pub fn is_small(v: &[u8]) -> Option<bool> {
        let (_, dir, _) = directory(v)?;
        let bytes: usize = dir.iter().map(|e| e.1.len() + e.2).sum();
        Some(matches!(v[0], PLAIN | LZ4) && !is_final(dir.len(), bytes))
    }

    /// The events, in time order.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = Entry<'_>> + ExactSizeIterator {
        self.dir.iter().map(|(t, id, r)| Entry {
            time_ms: *t,
            id,
            body: &self.bodies[r.clone()],
        })
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.dir.len()
    }

    /// Bytes of the events (ids and bodies, uncompressed), the measure runs are capped by.
    pub fn payload_bytes(&self) -> usize {
        self.dir.iter().map(|(_, id, r)| id.len() + r.len()).sum()
    }
}

/// The dictionary a zstd run value was compressed with (0: none); `None` for other formats or damage.
pub fn dict_of(v: &[u8]) -> Option<u32> {
    if *v.first()? != ZSTD {
        return None;
    }
    let (_, _, at) = directory(v)?;
    Some(u32::from_be_bytes(v.get(at..at + 4)?.try_into().ok()?))
}

/// Builds a run from events appended in time order.
#[derive(Debug, Default, Clone)]
pub struct RunBuilder {
    dir: Vec<u8>,
    bodies: Vec<u8>,
    count: usize,
    first_ms: Option<i64>,
    last_ms: i64,
}

impl RunBuilder {
    /// Append one event (callers keep time order: the run's first and last times are its span).
    pub fn push(&mut self, time_ms: i64, id: &[u8], body: &[u8]) {
        let id = &id[..id.len().min(u16::MAX as usize)];
        self.dir.extend_from_slice(&time_ms.to_be_bytes());
        self.dir.extend_from_slice(&(id.len() as u16).to_be_bytes());
        self.dir
            .extend_from_slice(&(body.len().min(u32::MAX as usize) as u32).to_be_bytes());
        self.dir.extend_from_slice(id);
        self.bodies.extend_from_slice(body);
        self.count += 1;
        self.first_ms.get_or_insert(time_ms);
        self.last_ms = time_ms;
    }

    /// Whether one more event of `bytes` (id + body) would break a cap. An empty run takes anything.
    pub fn would_overflow(&self, bytes: usize) -> bool {
        self.count > 0
            && (self.count >= MAX_RUN_EVENTS || self.payload_bytes() + bytes > MAX_RUN_BYTES)
    }

    /// Events so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// No event yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Time of the first event (the run's key part).
    pub fn first_ms(&self) -> Option<i64> {
        self.first_ms
    }

    /// Bytes of ids and bodies so far.
    pub fn payload_bytes(&self) -> usize {
        self.bodies.len() + self.dir.len() - self.count * ENTRY_FIXED
    }

    /// Whether the run is big enough to be final ([`is_final`]).
    pub fn is_final(&self) -> bool {
        is_final(self.count, self.payload_bytes())
    }

    /// The value of a run still small and growing: lz4, which costs next to nothing to undo when the run is
    /// merged again (a merge decompresses, concatenates and seals anew), and still takes its bytes, and the
    /// bytes of every rewrite sled keeps until it cleans, down ~3.8x.
    pub fn finish_small(&self) -> Vec<u8> {
        self.finish_schema3(true)
    }

    /// The value to store: plain, or zstd-compressed with `dict` (or none) when `compress`.
    pub fn finish(&self, compress: bool, dict: Option<&ZDict>) -> Vec<u8> {
        let frame = if compress {
            super::zdict::compress(&self.bodies, dict)
        } else {
            None
        };
        let mut v = Vec::with_capacity(
            HEADER + self.dir.len() + frame.as_ref().map_or(self.bodies.len(), |f| f.len() + 8),
        );
        v.push(if frame.is_some() { ZSTD } else { PLAIN });
        v.extend_from_slice(&(self.count.min(u16::MAX as usize) as u16).to_be_bytes());
        v.extend_from_slice(&self.last_ms.to_be_bytes());
        v.extend_from_slice(&self.dir);
        match frame {
            Some(f) => {
                v.extend_from_slice(&dict.map_or(0, |d| d.id).to_be_bytes());
                v.extend_from_slice(
                    &(self.bodies.len().min(u32::MAX as usize) as u32).to_le_bytes(),
                );
                v.extend_from_slice(&f);
            }
            None => v.extend_from_slice(&self.bodies),
        }
        v
    }

    /// The value as schema 3 wrote it: lz4 when `compress` (tests build a schema-3 store with it).
    #[doc(hidden)]
    pub fn finish_schema3(&self, compress: bool) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER + self.dir.len() + self.bodies.len());
        v.push(if compress { LZ4 } else { PLAIN });
        v.extend_from_slice(&(self.count.min(u16::MAX as usize) as u16).to_be_bytes());
        v.extend_from_slice(&self.last_ms.to_be_bytes());
        v.extend_from_slice(&self.dir);
        if compress {
            v.extend_from_slice(&lz4_flex::compress_prepend_size(&self.bodies));
        } else {
            v.extend_from_slice(&self.bodies);
        }
        v
    }

    /// The bodies as they are, concatenated: a sample for training the store's dictionary.
    pub fn bodies(&self) -> &[u8] {
        &self.bodies
    }
}

/// Concatenate runs that follow each other in time (each one's events no earlier than the previous run's).
pub fn concat(runs: &[RunView<'_>]) -> RunBuilder {
    let mut b = RunBuilder::default();
    for r in runs {
        for e in r.entries() {
            b.push(e.time_ms, e.id, e.body);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_concat() {
        let mut a = RunBuilder::default();
        a.push(1, b"a", b"{\"x\":1}");
        a.push(2, b"b", b"{}");
        let mut b = RunBuilder::default();
        b.push(2, b"c", b"[]");
        let (va, vb) = (a.finish(false, None), b.finish(true, None));
        assert_eq!(RunView::contains(&va, 2, b"b"), Some(true));
        assert_eq!(RunView::contains(&va, 1, b"b"), Some(false));
        assert_eq!(RunView::contains(&vb, 2, b"c"), Some(true));
        let (ra, rb) = (RunView::parse(&va).unwrap(), RunView::parse(&vb).unwrap());
        for compress in [false, true] {
            let m = concat(&[RunView::parse(&va).unwrap(), RunView::parse(&vb).unwrap()])
                .finish(compress, None);
            let rm = RunView::parse(&m).unwrap();
            assert_eq!(rm.last_ms, 2);
            assert_eq!(
                rm.entries().map(|e| e.id).collect::<Vec<_>>(),
                [&b"a"[..], b"b", b"c"]
            );
            assert_eq!(rm.entries().next().unwrap().body, b"{\"x\":1}");
            assert_eq!(RunView::header(&m), Some((3, 2)));
        }
        assert_eq!(ra.payload_bytes() + rb.payload_bytes(), 3 + 7 + 2 + 2);
    }

    proptest! {
        /// Damaged values never panic: they parse or are refused.
        #[test]
        fn parse_never_panics(v in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = RunView::parse(&v);
            let _ = RunView::header(&v);
        }

        #[test]
        fn truncation_is_refused(n in 1usize..30, compress: bool) {
            let mut b = RunBuilder::default();
            b.push(5, b"id-1", b"{\"a\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}");
            let v = b.finish(compress, None);
            let cut = v.len().saturating_sub(n);
            prop_assert!(RunView::parse(&v[..cut]).is_none());
        }

        /// A directory claiming huge bodies is refused before anything is allocated for them.
        #[test]
        fn huge_claimed_bodies_are_refused(claim in (MAX_BODIES as u32 + 1)..u32::MAX) {
            let mut b = RunBuilder::default();
            b.push(5, b"id-1", b"{}");
            let mut v = b.finish(true, None);
            // The body length of the one directory entry.
            v[1 + 2 + 8 + 10..1 + 2 + 8 + 14].copy_from_slice(&claim.to_be_bytes());
            prop_assert!(RunView::parse(&v).is_none());
        }

        /// A compressed run claiming a huge size is refused before anything is allocated for it.
        #[test]
        fn lying_size_prefix_is_refused(claim: u32) {
            let mut b = RunBuilder::default();
            b.push(5, b"id-1", b"{}");
            let mut v = b.finish(true, None);
            // Header, one directory entry with its 4-byte id, the dictionary id: the size prefix follows.
            let at = 1 + 2 + 8 + 14 + 4 + 4;
            v[at..at + 4].copy_from_slice(&claim.to_le_bytes());
            prop_assert_eq!(RunView::parse(&v).is_some(), claim == 2);
        }
    }
}
