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
/// Flag on the format byte: the directory is compact (see [`RunBuilder::finish`]). Schema 5 writes every run
/// so; runs without it (schemas 3 and 4) are read as they are until the migration re-seals them.
const COMPACT: u8 = 0x10;
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

/// A parsed run: its directory, its ids (borrowing the value, or expanded from a compact directory) and its
/// bodies (borrowed, or decompressed).
#[derive(Debug)]
pub struct RunView<'a> {
    dir: Vec<(i64, Range<usize>, Range<usize>)>,
    ids: Cow<'a, [u8]>,
    bodies: Cow<'a, [u8]>,
}

/// A run value's directory: entries (time, where the id is in `ids`, body length), the ids, and
/// where the bodies start in the value.
struct Directory<'a> {
    entries: Vec<(i64, Range<usize>, usize)>,
    ids: Cow<'a, [u8]>,
    at: usize,
}

/// The codec of a run value (`PLAIN`, `LZ4` or `ZSTD`) and whether its directory is compact.
fn format(v: &[u8]) -> Option<(u8, bool)> {
    let f = *v.first()?;
    let codec = f & !COMPACT;
    matches!(codec, PLAIN | LZ4 | ZSTD).then_some((codec, f & COMPACT != 0))
}

fn directory(v: &[u8]) -> Option<Directory<'_>> {
    let (_, compact) = format(v)?;
    let count = u16::from_be_bytes(v.get(1..3)?.try_into().ok()?) as usize;
    v.get(HEADER - 1)?;
    let mut entries = Vec::with_capacity(count);
    let mut at = HEADER;
    if !compact {
        for _ in 0..count {
            let f = v.get(at..at + ENTRY_FIXED)?;
            let time_ms = i64::from_be_bytes(f[..8].try_into().ok()?);
            let id_len = u16::from_be_bytes(f[8..10].try_into().ok()?) as usize;
            let body_len = u32::from_be_bytes(f[10..14].try_into().ok()?) as usize;
            at += ENTRY_FIXED;
            v.get(at..at + id_len)?;
            entries.push((time_ms, at..at + id_len, body_len));
            at += id_len;
        }
        return Some(Directory {
            entries,
            ids: Cow::Borrowed(v),
            at,
        });
    }
    // An entry takes at least three bytes: refuse a count the value cannot hold before allocating for it.
    if count.checked_mul(3)? > v.len() {
        return None;
    }
    let mut ids = Vec::with_capacity(count * 36);
    let mut t = 0i64;
    for i in 0..count {
        let d = unzigzag(read_varint(v, &mut at)?);
        t = if i == 0 { d } else { t.wrapping_add(d) };
        let body_len = u32::try_from(read_varint(v, &mut at)?).ok()? as usize;
        let start = ids.len();
        match read_varint(v, &mut at)? {
            0 => {
                unpack_uuid(v.get(at..at + 16)?, &mut ids);
                at += 16;
            }
            n => {
                let n = usize::try_from(n - 1)
                    .ok()
                    .filter(|n| *n <= u16::MAX as usize)?;
                ids.extend_from_slice(v.get(at..at + n)?);
                at += n;
            }
        }
        entries.push((t, start..ids.len(), body_len));
    }
    Some(Directory {
        entries,
        ids: Cow::Owned(ids),
        at,
    })
}

fn write_varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn read_varint(v: &[u8], at: &mut usize) -> Option<u64> {
    let mut x = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *v.get(*at)?;
        *at += 1;
        x |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b < 0x80 {
            return Some(x);
        }
    }
    None
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

fn unzigzag(x: u64) -> i64 {
    ((x >> 1) as i64) ^ -((x & 1) as i64)
}

/// A canonical lowercase UUID (`8-4-4-4-12` hex digits) as its 16 bytes; `None` for any other id, which is
/// kept as it is. Atlassian's audit-log ids are UUIDs: 16 bytes instead of 36 is a fifth of a compressed run.
fn pack_uuid(id: &[u8]) -> Option<[u8; 16]> {
    if id.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut n = 0;
    for (i, &c) in id.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        out[n / 2] |= if n % 2 == 0 { d << 4 } else { d };
        n += 1;
    }
    Some(out)
}

fn unpack_uuid(raw: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
}

impl<'a> RunView<'a> {
    /// Parse a run value (decompressing its bodies if need be); `None` when it is not a well-formed run.
    pub fn parse(v: &'a [u8]) -> Option<Self> {
        let (codec, _) = format(v)?;
        let Directory { entries, ids, at } = directory(v)?;
        let total = entries.iter().try_fold(0usize, |n, e| n.checked_add(e.2))?;
        // A damaged directory must not make a read allocate gigabytes: no run the writer makes holds more than
        // one record over its cap, and a record is at most 8 MiB.
        if total > MAX_BODIES {
            return None;
        }
        let bodies: Cow<'a, [u8]> = match codec {
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
        Some(Self { dir, ids, bodies })
    }

    /// Just the header: event count and last time, without walking the directory.
    pub fn header(v: &[u8]) -> Option<(usize, i64)> {
        format(v)?;
        let count = u16::from_be_bytes(v.get(1..3)?.try_into().ok()?) as usize;
        let last_ms = i64::from_be_bytes(v.get(3..11)?.try_into().ok()?);
        Some((count, last_ms))
    }

    /// Whether an event with this time and id is in the run value. Reads the directory only.
    pub fn contains(v: &[u8], time_ms: i64, id: &[u8]) -> Option<bool> {
        let d = directory(v)?;
        Some(
            d.entries
                .iter()
                .any(|e| e.0 == time_ms && d.ids.get(e.1.clone()) == Some(id)),
        )
    }

    /// Events and payload bytes (ids and bodies, uncompressed) of a run value. Reads the directory only.
    pub fn size(v: &[u8]) -> Option<(usize, usize)> {
        let d = directory(v)?;
        let bytes: usize = d.entries.iter().map(|e| e.1.len() + e.2).sum();
        Some((d.entries.len(), bytes))
    }

    /// Whether the run value is below the final size ([`is_final`]), so that the writer seals it together
    /// with its neighbours into full runs. Reads the directory only.
    pub fn is_small(v: &[u8]) -> Option<bool> {
        let (count, bytes) = Self::size(v)?;
        Some(!is_final(count, bytes))
    }

    /// The events, in time order.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = Entry<'_>> + ExactSizeIterator {
        self.dir.iter().map(|(t, id, r)| Entry {
            time_ms: *t,
            id: &self.ids[id.clone()],
            body: &self.bodies[r.clone()],
        })
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.dir.len()
    }
}

/// Whether a run value has the compact directory schema 5 writes; `None` for damage.
pub fn is_compact(v: &[u8]) -> Option<bool> {
    Some(format(v)?.1)
}

/// The codec of a run value: 1 plain, 2 lz4, 3 zstd; `None` for damage.
pub fn codec_of(v: &[u8]) -> Option<u8> {
    Some(format(v)?.0)
}

/// The dictionary a zstd run value was compressed with (0: none); `None` for other formats or damage.
pub fn dict_of(v: &[u8]) -> Option<u32> {
    if format(v)?.0 != ZSTD {
        return None;
    }
    let at = directory(v)?.at;
    Some(u32::from_be_bytes(v.get(at..at + 4)?.try_into().ok()?))
}

/// Builds a run from events appended in time order.
#[derive(Debug, Default, Clone)]
pub struct RunBuilder {
    /// Time, where the id is in `ids`, body length.
    dir: Vec<(i64, Range<usize>, u32)>,
    ids: Vec<u8>,
    bodies: Vec<u8>,
    first_ms: Option<i64>,
    last_ms: i64,
}

impl RunBuilder {
    /// Append one event (callers keep time order: the run's first and last times are its span).
    pub fn push(&mut self, time_ms: i64, id: &[u8], body: &[u8]) {
        let id = &id[..id.len().min(u16::MAX as usize)];
        let start = self.ids.len();
        self.ids.extend_from_slice(id);
        self.dir.push((
            time_ms,
            start..self.ids.len(),
            body.len().min(u32::MAX as usize) as u32,
        ));
        self.bodies.extend_from_slice(body);
        self.first_ms.get_or_insert(time_ms);
        self.last_ms = time_ms;
    }

    /// Whether one more event of `bytes` (id + body) would break a cap. An empty run takes anything.
    pub fn would_overflow(&self, bytes: usize) -> bool {
        !self.dir.is_empty()
            && (self.dir.len() >= MAX_RUN_EVENTS || self.payload_bytes() + bytes > MAX_RUN_BYTES)
    }

    /// Events so far.
    pub fn len(&self) -> usize {
        self.dir.len()
    }

    /// No event yet.
    pub fn is_empty(&self) -> bool {
        self.dir.is_empty()
    }

    /// Time of the first event (the run's key part).
    pub fn first_ms(&self) -> Option<i64> {
        self.first_ms
    }

    /// Bytes of ids and bodies so far.
    pub fn payload_bytes(&self) -> usize {
        self.bodies.len() + self.ids.len()
    }

    /// Whether the run is big enough to be final ([`is_final`]).
    pub fn is_final(&self) -> bool {
        is_final(self.len(), self.payload_bytes())
    }

    /// The value of a run still small and growing: lz4, which costs next to nothing to undo when the run is
    /// merged again (a merge decompresses, concatenates and seals anew), and still takes its bytes, and the
    /// bytes of every rewrite sled keeps until it cleans, down ~3.8x.
    pub fn finish_small(&self) -> Vec<u8> {
        let mut v = self.head(LZ4 | COMPACT);
        self.compact_directory(&mut v);
        v.extend_from_slice(&lz4_flex::compress_prepend_size(&self.bodies));
        v
    }

    /// The value to store: plain, or zstd-compressed with `dict` (or none) when `compress`.
    ///
    /// The directory is compact: per event its time as a zigzag varint delta from the previous one (the first
    /// from 0), its body length as a varint, then its id: `0` and 16 bytes for a canonical UUID, else its
    /// length + 1 as a varint and the bytes. About 22 bytes an event instead of 50: with compressed bodies
    /// at ~90 bytes, the directory was a third of the store.
    pub fn finish(&self, compress: bool, dict: Option<&ZDict>) -> Vec<u8> {
        let frame = if compress {
            super::zdict::compress(&self.bodies, dict)
        } else {
            None
        };
        let mut v = self.head(if frame.is_some() { ZSTD } else { PLAIN } | COMPACT);
        self.compact_directory(&mut v);
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

    fn head(&self, format: u8) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER + self.dir.len() * 24 + self.bodies.len() / 4);
        v.push(format);
        v.extend_from_slice(&(self.len().min(u16::MAX as usize) as u16).to_be_bytes());
        v.extend_from_slice(&self.last_ms.to_be_bytes());
        v
    }

    fn compact_directory(&self, v: &mut Vec<u8>) {
        let mut prev = 0i64;
        for (t, id, len) in &self.dir {
            write_varint(v, zigzag(t.wrapping_sub(prev)));
            prev = *t;
            write_varint(v, u64::from(*len));
            let id = &self.ids[id.clone()];
            match pack_uuid(id) {
                Some(raw) => {
                    v.push(0);
                    v.extend_from_slice(&raw);
                }
                None => {
                    write_varint(v, id.len() as u64 + 1);
                    v.extend_from_slice(id);
                }
            }
        }
    }

    /// The value as schema 3 wrote it (a fixed-size directory; lz4 when `compress`): tests build a schema-3
    /// store with it.
    #[doc(hidden)]
    pub fn finish_schema3(&self, compress: bool) -> Vec<u8> {
        let mut v = self.head(if compress { LZ4 } else { PLAIN });
        for (t, id, len) in &self.dir {
            v.extend_from_slice(&t.to_be_bytes());
            v.extend_from_slice(&(id.len() as u16).to_be_bytes());
            v.extend_from_slice(&len.to_be_bytes());
            v.extend_from_slice(&self.ids[id.clone()]);
        }
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
            assert_eq!(
                rm.entries().map(|e| e.id).collect::<Vec<_>>(),
                [&b"a"[..], b"b", b"c"]
            );
            assert_eq!(rm.entries().next().unwrap().body, b"{\"x\":1}");
            assert_eq!(RunView::header(&m), Some((3, 2)));
        }
        assert_eq!(ra.len() + rb.len(), 3);
        assert_eq!(RunView::size(&va), Some((2, 2 + 7 + 2)));
        assert_eq!(RunView::size(&vb), Some((1, 1 + 2)));
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

        /// A directory claiming huge bodies is refused before anything is allocated for them, in both layouts.
        #[test]
        fn huge_claimed_bodies_are_refused(claim in (MAX_BODIES as u32 + 1)..u32::MAX) {
            let mut b = RunBuilder::default();
            b.push(5, b"id-1", b"{}");
            let mut v = b.finish_schema3(true);
            // The body length of the one directory entry.
            v[1 + 2 + 8 + 10..1 + 2 + 8 + 14].copy_from_slice(&claim.to_be_bytes());
            prop_assert!(RunView::parse(&v).is_none());
            // The compact layout, written by hand: time 5, the claimed length, id "id-1", no dictionary.
            let mut v = b.head(ZSTD | COMPACT);
            write_varint(&mut v, zigzag(5));
            write_varint(&mut v, u64::from(claim));
            write_varint(&mut v, 5);
            v.extend_from_slice(b"id-1");
            v.extend_from_slice(&0u32.to_be_bytes());
            v.extend_from_slice(&claim.to_le_bytes());
            v.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
            prop_assert!(RunView::parse(&v).is_none());
        }

        /// A compressed run claiming a huge size is refused before anything is allocated for it.
        #[test]
        fn lying_size_prefix_is_refused(claim: u32) {
            let mut b = RunBuilder::default();
            b.push(5, b"id-1", b"{}");
            let mut v = b.finish(true, None);
            // Header; the one compact entry: time, length, id tag, 4-byte id; the dictionary id: the size
            // prefix follows.
            let at = 1 + 2 + 8 + 1 + 1 + 1 + 4 + 4;
            v[at..at + 4].copy_from_slice(&claim.to_le_bytes());
            prop_assert_eq!(RunView::parse(&v).is_some(), claim == 2);
        }

        /// Whatever the times, ids and bodies, every layout reads back exactly what was pushed, and the
        /// dedupe check finds each event by time and id.
        #[test]
        fn every_layout_round_trips(
            events in proptest::collection::vec(
                (any::<i64>(), prop_oneof![
                    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                    "[0-9A-Fa-f-]{36}",
                    ".{0,40}",
                ], proptest::collection::vec(any::<u8>(), 0..64)),
                1..20,
            )
        ) {
            let mut events = events;
            events.sort_by_key(|e| e.0);
            let mut b = RunBuilder::default();
            for (t, id, body) in &events {
                b.push(*t, id.as_bytes(), body);
            }
            for v in [b.finish(false, None), b.finish(true, None), b.finish_small(), b.finish_schema3(true)] {
                let r = RunView::parse(&v).unwrap();
                let got: Vec<(i64, Vec<u8>, Vec<u8>)> =
                    r.entries().map(|e| (e.time_ms, e.id.to_vec(), e.body.to_vec())).collect();
                let want: Vec<(i64, Vec<u8>, Vec<u8>)> =
                    events.iter().map(|(t, id, body)| (*t, id.as_bytes().to_vec(), body.clone())).collect();
                prop_assert_eq!(got, want);
                for (t, id, _) in &events {
                    prop_assert_eq!(RunView::contains(&v, *t, id.as_bytes()), Some(true));
                }
                prop_assert_eq!(RunView::header(&v), Some((events.len(), events[events.len() - 1].0)));
            }
        }
    }

    #[test]
    fn uuids_pack_to_sixteen_bytes_and_nothing_else_does() {
        let id = b"a1f0c3e2-7d44-4c1b-9b1e-5f2d8c6a0e11";
        let raw = pack_uuid(id).unwrap();
        let mut back = Vec::new();
        unpack_uuid(&raw, &mut back);
        assert_eq!(back, id);
        // Upper case, a brace, a misplaced dash, another length: kept as they are (they would not round-trip).
        for other in [
            &b"A1F0C3E2-7D44-4C1B-9B1E-5F2D8C6A0E11"[..],
            b"{1f0c3e2-7d44-4c1b-9b1e-5f2d8c6a0e11",
            b"a1f0c3e27-d44-4c1b-9b1e-5f2d8c6a0e11",
            b"a1f0c3e2-7d44-4c1b-9b1e-5f2d8c6a0e1",
        ] {
            assert!(pack_uuid(other).is_none());
        }
    }

    /// The compact directory is what makes schema 5's runs small: 64 UUID-keyed events a minute apart take
    /// under half the directory bytes of the fixed layout.
    #[test]
    fn compact_directory_is_less_than_half_the_fixed_one() {
        let mut b = RunBuilder::default();
        for i in 0..64u32 {
            let id = format!("{i:08x}-7d44-4c1b-9b1e-5f2d8c6a0e11");
            b.push(
                1_790_812_800_000 + i64::from(i) * 60_000,
                id.as_bytes(),
                b"",
            );
        }
        let (compact, fixed) = (b.finish(false, None).len(), b.finish_schema3(false).len());
        assert!(compact * 2 < fixed, "compact {compact} B, fixed {fixed} B");
    }
}
