//! One value of the `event_runs` tree: a run of one actor's events of one UTC day, in time order.
//!
//! sled's memory and open time grow with the number of entries (leaf nodes split at 16 items, and every node
//! costs a page-table slot and fragment pointers whatever its size), so events are packed several to an entry.
//! A run is laid out so that the two things done with it most — checking whether an id is there (dedupe) and
//! merging two adjacent runs — never decode an event:
//!
//! ```text
//! [format u8 = 1][count u16][last time i64]
//! count × [time i64][id length u16][body length u32][id bytes]     directory
//! bodies, concatenated in directory order                          the events' JSON
//! ```
//!
//! Every read is bounds-checked: a damaged value is reported as corrupt, never a panic.

/// Format byte of a run value.
const FORMAT: u8 = 1;
const HEADER: usize = 1 + 2 + 8;
const ENTRY_FIXED: usize = 8 + 2 + 4;

/// Most events in one run. Runs are also capped by bytes ([`MAX_RUN_BYTES`]); whichever is hit first.
pub const MAX_RUN_EVENTS: usize = 64;

/// Most bytes in one run (a single larger event gets a run of its own). sled writes a node bigger than a
/// quarter of its 512 KiB segment as a separate blob file, and a leaf holds up to 17 values: 6 KiB keeps a
/// node of runs inside the log.
pub const MAX_RUN_BYTES: usize = 6 * 1024;

/// One event's place in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub time_ms: i64,
    pub id: &'a [u8],
    pub body: &'a [u8],
}

/// A parsed run: its directory, borrowing the value's bytes.
#[derive(Debug)]
pub struct RunView<'a> {
    pub last_ms: i64,
    pub entries: Vec<Entry<'a>>,
}

impl<'a> RunView<'a> {
    /// Parse a run value; `None` when it is not a well-formed run.
    pub fn parse(v: &'a [u8]) -> Option<Self> {
        if *v.first()? != FORMAT {
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
        let mut entries = Vec::with_capacity(count);
        for (time_ms, id, body_len) in dir {
            let body = v.get(at..at.checked_add(body_len)?)?;
            at += body_len;
            entries.push(Entry { time_ms, id, body });
        }
        (at == v.len()).then_some(Self { last_ms, entries })
    }

    /// Just the header: event count and last time, without walking the directory.
    pub fn header(v: &[u8]) -> Option<(usize, i64)> {
        if *v.first()? != FORMAT {
            return None;
        }
        let count = u16::from_be_bytes(v.get(1..3)?.try_into().ok()?) as usize;
        let last_ms = i64::from_be_bytes(v.get(3..11)?.try_into().ok()?);
        Some((count, last_ms))
    }

    /// Whether an event with this time and id is in the run.
    pub fn contains(&self, time_ms: i64, id: &[u8]) -> bool {
        self.entries
            .iter()
            .any(|e| e.time_ms == time_ms && e.id == id)
    }

    /// Bytes of the events (ids and bodies), the measure runs are capped by.
    pub fn payload_bytes(&self) -> usize {
        self.entries.iter().map(|e| e.id.len() + e.body.len()).sum()
    }
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

    /// The value to store.
    pub fn finish(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER + self.dir.len() + self.bodies.len());
        v.push(FORMAT);
        v.extend_from_slice(&(self.count.min(u16::MAX as usize) as u16).to_be_bytes());
        v.extend_from_slice(&self.last_ms.to_be_bytes());
        v.extend_from_slice(&self.dir);
        v.extend_from_slice(&self.bodies);
        v
    }
}

/// Concatenate runs that follow each other in time (each one's events no earlier than the previous run's) into
/// one value without decoding an event: directories first, then bodies.
pub fn concat(runs: &[RunView<'_>]) -> Vec<u8> {
    let mut b = RunBuilder::default();
    for r in runs {
        for e in &r.entries {
            b.push(e.time_ms, e.id, e.body);
        }
    }
    b.finish()
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
        let (va, vb) = (a.finish(), b.finish());
        let (ra, rb) = (RunView::parse(&va).unwrap(), RunView::parse(&vb).unwrap());
        assert!(ra.contains(2, b"b") && !ra.contains(1, b"b"));
        let m = concat(&[ra, rb]);
        let rm = RunView::parse(&m).unwrap();
        assert_eq!(rm.last_ms, 2);
        assert_eq!(
            rm.entries.iter().map(|e| e.id).collect::<Vec<_>>(),
            [&b"a"[..], b"b", b"c"]
        );
        assert_eq!(rm.entries[0].body, b"{\"x\":1}");
        assert_eq!(RunView::header(&m), Some((3, 2)));
    }

    proptest! {
        /// Damaged values never panic: they parse or are refused.
        #[test]
        fn parse_never_panics(v in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = RunView::parse(&v);
            let _ = RunView::header(&v);
        }

        #[test]
        fn truncation_is_refused(n in 1usize..30) {
            let mut b = RunBuilder::default();
            b.push(5, b"id-1", b"{\"a\":\"bbbbbbbb\"}");
            let v = b.finish();
            let cut = v.len().saturating_sub(n);
            prop_assert!(RunView::parse(&v[..cut]).is_none());
        }
    }
}
