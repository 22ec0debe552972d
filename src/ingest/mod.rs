//! Parsing the input formats of DESIGN §3 into [`AuditEvent`]s, with validation and quarantine reasons (the
//! synthetic generator is its own module, `crate::generate`). Sources that need an async runtime live in the engine; this module only reads
//! bytes it is handed.
//!
//! May use `model` only: no store, no detect.
//!
//! [`AuditEvent`]: crate::model::AuditEvent

mod framer;
mod json;
mod normalise;
mod sort;

pub use framer::{Frame, FrameError, Framer, FramerLimits};
pub use normalise::{Rejection, normalise};
pub use sort::{SortLimits, TimeSorter};

use std::collections::VecDeque;
use std::io::Read;
use std::sync::mpsc;

use crate::model::AuditEvent;

/// Most raw bytes of a rejected record kept in quarantine; enough to see what went wrong.
pub const QUARANTINE_RAW_CAP: usize = 64 * 1024;

/// One record taken from an input: either an event or the reason it was rejected, with where it was.
#[derive(Debug)]
pub enum Record {
    Event(Box<AuditEvent>),
    Rejected(RejectedRecord),
}

/// A record that failed to parse or validate, ready for the quarantine tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    /// 1-based line where the record starts.
    pub line: u64,
    /// Byte offset where the record starts.
    pub offset: u64,
    /// Specific reason, e.g. `attributes.time: 'yesterday' is not an RFC 3339 time`.
    pub reason: String,
    /// Raw bytes, capped at [`QUARANTINE_RAW_CAP`].
    pub raw: Vec<u8>,
    /// Full size of the record in bytes (the raw copy may be shorter).
    pub size: u64,
}

/// Streams [`Record`]s out of any reader holding one event, an array, a page `{data:[…]}` or newline-delimited
/// JSON of any of these. Memory is bounded by the record size limit, never by the input size.
pub struct Reader<R: Read> {
    framer: Framer<R>,
    pending: VecDeque<Record>,
    /// With [`Reader::with_parse_thread`]: the second thread and the chunks framed ahead.
    ahead: Option<Ahead>,
}

/// Frames per chunk handed to the parse thread: ~256 KB of 1 KB events, so one channel message carries
/// ~2 ms of parsing and the hand-off cost is lost in it.
const CHUNK_FRAMES: usize = 256;

/// Chunks the parse thread may have waiting: enough that it never runs dry while this thread does its own
/// work on the records.
const CHUNKS_QUEUED: usize = 4;

/// Chunks framed ahead of the one being read: the parse thread's queue, the one it is parsing, and a few that
/// this thread parses itself when that queue is full (the parse thread is behind).
const CHUNKS_AHEAD: usize = CHUNKS_QUEUED + 4;

/// A chunk of frames, in input order: parsed on the parse thread, or here when it comes to the front.
enum Slot {
    Remote,
    Local(Vec<Frame>),
    /// The input failed here; nothing was framed after it.
    Failed(std::io::Error),
}

/// The parse thread of a [`Reader`]: each chunk of frames goes to it while its queue has room, and comes
/// back as records, in order (one thread, one queue each way); the chunks it has no room for are parsed by
/// the reading thread. The split follows the load: the reading thread usually does more with each record
/// (detection, in the pipeline) and parses only what the parse thread cannot keep up with, where a fixed
/// every-other-chunk split left the parse thread idle half the time and the reading thread the bottleneck.
struct Ahead {
    slots: VecDeque<Slot>,
    to_parse: Option<mpsc::SyncSender<Vec<Frame>>>,
    parsed: mpsc::Receiver<Vec<Record>>,
    eof: bool,
    /// Chunks parsed by the parse thread and here, for tests to see that both did some.
    split: (u64, u64),
}

impl<R: Read> Reader<R> {
    /// Read from `input` with the default limits.
    pub fn new(input: R) -> Self {
        Self::with_limits(input, FramerLimits::default())
    }

    /// Read with explicit limits (tests use small ones).
    pub fn with_limits(input: R, limits: FramerLimits) -> Self {
        Self {
            framer: Framer::new(input, limits),
            pending: Default::default(),
            ahead: None,
        }
    }

    /// Like [`Reader::new`], with a second thread that parses chunks of records while this one does whatever
    /// it does with them, and parses the chunks that thread has no room for: framing is cheap and stays here,
    /// JSON parsing and validation are ~10 µs a record and are shared by load (see `Ahead`). The records come
    /// out in input order, exactly as [`Reader::new`] gives them. The thread owns nothing but frames, so it never blocks on the input: when
    /// the reader is dropped it finishes its chunk and ends. Without a thread to be had it reads alone.
    pub fn with_parse_thread(input: R) -> Self {
        Self::with_parse_queue(input, CHUNKS_QUEUED)
    }

    /// [`Reader::with_parse_thread`] with room for `queued` chunks waiting for the parse thread (tests use 0,
    /// a hand-over only while it waits, to mix the chunks parsed here and there).
    fn with_parse_queue(input: R, queued: usize) -> Self {
        let mut reader = Self::new(input);
        let (to_parse, work) = mpsc::sync_channel::<Vec<Frame>>(queued);
        // Never full: at most CHUNKS_AHEAD chunks are out at once, so the parse thread never waits to hand one
        // back.
        let (done, parsed) = mpsc::sync_channel::<Vec<Record>>(CHUNKS_AHEAD);
        let spawned = std::thread::Builder::new()
            .name("vigil-parse".into())
            .spawn(move || {
                for frames in work {
                    let mut out = VecDeque::new();
                    for f in frames {
                        expand(&mut out, f);
                    }
                    if done.send(out.into()).is_err() {
                        return;
                    }
                }
            });
        if spawned.is_ok() {
            reader.ahead = Some(Ahead {
                slots: VecDeque::new(),
                to_parse: Some(to_parse),
                parsed,
                eof: false,
                split: (0, 0),
            });
        }
        reader
    }

    /// The next record, `Ok(None)` at the end of input, `Err` only when the reader itself fails (an I/O error):
    /// bad data is always a [`Record::Rejected`].
    pub fn next_record(&mut self) -> std::io::Result<Option<Record>> {
        if self.ahead.is_some() {
            return self.next_record_ahead();
        }
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Ok(Some(r));
            }
            let Some(frame) = self.framer.next_frame()? else {
                return Ok(None);
            };
            self.expand(frame);
        }
    }

    fn expand(&mut self, frame: Frame) {
        expand(&mut self.pending, frame);
    }

    /// [`Reader::next_record`] with the parse thread: frame chunks ahead, for it while its queue has room and
    /// for here when not.
    fn next_record_ahead(&mut self) -> std::io::Result<Option<Record>> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Ok(Some(r));
            }
            let Some(ahead) = self.ahead.as_mut() else {
                return Ok(None);
            };
            while !ahead.eof && ahead.slots.len() < CHUNKS_AHEAD {
                let mut frames = Vec::with_capacity(CHUNK_FRAMES);
                let mut failed = None;
                while frames.len() < CHUNK_FRAMES {
                    match self.framer.next_frame() {
                        Ok(Some(f)) => frames.push(f),
                        Ok(None) => {
                            ahead.eof = true;
                            break;
                        }
                        Err(e) => {
                            ahead.eof = true;
                            failed = Some(e);
                            break;
                        }
                    }
                }
                if !frames.is_empty() {
                    let slot = match &ahead.to_parse {
                        Some(tx) => match tx.try_send(frames) {
                            Ok(()) => Slot::Remote,
                            // Its queue is full (it is behind) or it is gone: this thread parses the chunk.
                            Err(
                                mpsc::TrySendError::Full(frames)
                                | mpsc::TrySendError::Disconnected(frames),
                            ) => Slot::Local(frames),
                        },
                        None => Slot::Local(frames),
                    };
                    match slot {
                        Slot::Remote => ahead.split.0 += 1,
                        _ => ahead.split.1 += 1,
                    }
                    ahead.slots.push_back(slot);
                }
                if let Some(e) = failed {
                    ahead.slots.push_back(Slot::Failed(e));
                }
            }
            match ahead.slots.pop_front() {
                None => {
                    // The end: let the parse thread go.
                    ahead.to_parse = None;
                    return Ok(None);
                }
                Some(Slot::Local(frames)) => {
                    for f in frames {
                        expand(&mut self.pending, f);
                    }
                }
                Some(Slot::Remote) => match ahead.parsed.recv() {
                    Ok(records) => self.pending.extend(records),
                    // The parse thread died (a panic in parsing): say so as an I/O error of this input rather
                    // than lose its chunk silently.
                    Err(_) => {
                        self.ahead = None;
                        return Err(std::io::Error::other("the parse thread ended unexpectedly"));
                    }
                },
                Some(Slot::Failed(e)) => {
                    ahead.slots.clear();
                    return Err(e);
                }
            }
        }
    }
}

/// The records one frame holds, in order, into `out`: the one place [`Reader`] and [`frame_records`] expand
/// a frame.
fn expand(out: &mut VecDeque<Record>, frame: Frame) {
    let reject = |reason: String, frame: &Frame| RejectedRecord {
        line: frame.line,
        offset: frame.offset,
        reason: format!("line {}: {reason}", frame.line),
        raw: frame.raw_capped(),
        size: frame.size,
    };
    if let Some(err) = &frame.error {
        out.push_back(Record::Rejected(reject(err.to_string(), &frame)));
        return;
    }
    let json::Parsed { value, duplicates } = match json::parse(&frame.bytes) {
        Ok(p) => p,
        Err(e) => {
            let reason = json_error_reason(&e, &frame.bytes, frame.line);
            out.push_back(Record::Rejected(reject(reason, &frame)));
            return;
        }
    };
    match value {
        serde_json::Value::Object(mut obj) if !frame.in_array && is_page(&obj) => {
            if duplicates
                .iter()
                .any(|d| d[..] == [json::Seg::Key("data".into())])
            {
                let reason = format!("data: {DUPLICATED}");
                out.push_back(Record::Rejected(reject(reason, &frame)));
                return;
            }
            let Some(serde_json::Value::Array(items)) = obj.remove("data") else {
                return;
            };
            for (i, item) in items.into_iter().enumerate() {
                let at = [json::Seg::Key("data".into()), json::Seg::Index(i)];
                let dup = duplicated_read_field(&duplicates, &at);
                push_value(out, item, &frame, Some(i), dup);
            }
        }
        serde_json::Value::Array(items) if !frame.in_array => {
            for (i, item) in items.into_iter().enumerate() {
                let dup = duplicated_read_field(&duplicates, &[json::Seg::Index(i)]);
                push_value(out, item, &frame, Some(i), dup);
            }
        }
        v => {
            let dup = duplicated_read_field(&duplicates, &[]);
            push_value(out, v, &frame, None, dup)
        }
    }
}

/// Queue one value: an event, or its rejection (a duplicated key vigil reads, `dup`, or what
/// [`normalise`] refuses).
fn push_value(
    out: &mut VecDeque<Record>,
    value: serde_json::Value,
    frame: &Frame,
    index: Option<usize>,
    dup: Option<String>,
) {
    // A rejected record is quarantined raw: a line as it was read; an element of an array or page as its own
    // JSON, so that element is kept whole until it is accepted (`normalise` takes what it keeps out of the
    // value, and a line needs no copy).
    let element = index.map(|_| value.clone());
    let raw = |element: Option<serde_json::Value>| -> Vec<u8> {
        let Some(v) = element else {
            return frame.raw_capped();
        };
        let mut bytes = serde_json::to_vec(&v).unwrap_or_default();
        bytes.truncate(QUARANTINE_RAW_CAP);
        bytes
    };
    let checked = match dup {
        Some(path) => Err(Rejection {
            path,
            problem: DUPLICATED.to_string(),
        }),
        None => normalise(value),
    };
    match checked {
        Ok(ev) => out.push_back(Record::Event(Box::new(ev))),
        Err(rej) => {
            let at = match index {
                Some(i) => format!("line {}: element {i}: ", frame.line),
                None => format!("line {}: ", frame.line),
            };
            out.push_back(Record::Rejected(RejectedRecord {
                line: frame.line,
                offset: frame.offset,
                reason: format!("{at}{rej}"),
                raw: raw(element),
                size: frame.size,
            }));
        }
    }
}

/// The records one [`Frame`] holds, exactly as a [`Reader`] over the whole input yields them for it. Framing
/// is cheap and sequential; this is the costly part (JSON parse, validation), so a caller holding a whole
/// body can frame it once and expand its frames on several threads.
pub fn frame_records(frame: Frame) -> Vec<Record> {
    let mut out = VecDeque::new();
    expand(&mut out, frame);
    out.into()
}

/// Why a record with a duplicated key vigil reads is refused rather than read last-wins.
const DUPLICATED: &str =
    "duplicated key (a parser that reads the first one would see another event)";

/// The first duplicated key under `prefix` (the element's place in its frame) that vigil reads, as a path
/// relative to the element.
fn duplicated_read_field(duplicates: &[Vec<json::Seg>], prefix: &[json::Seg]) -> Option<String> {
    duplicates
        .iter()
        .filter_map(|d| d.strip_prefix(prefix))
        .find(|rel| json::read_field(rel))
        .map(json::path_text)
}

/// A page is an object with a `data` array and no `attributes` of its own.
fn is_page(obj: &serde_json::Map<String, serde_json::Value>) -> bool {
    matches!(obj.get("data"), Some(serde_json::Value::Array(_))) && !obj.contains_key("attributes")
}

/// Turn serde_json's error into a reason a person can act on, with the position mapped to the input's lines.
fn json_error_reason(e: &serde_json::Error, bytes: &[u8], start_line: u64) -> String {
    if let Err(u) = std::str::from_utf8(bytes) {
        return format!("invalid UTF-8 at byte {} of the record", u.valid_up_to());
    }
    let msg = e.to_string();
    if msg.contains("recursion limit") {
        return "JSON nested more than 128 levels deep".to_string();
    }
    if let Some(what) = msg.strip_prefix("EOF while parsing ") {
        let what = what.split(" at line ").next().unwrap_or(what);
        return format!("unterminated JSON value: the record ended inside {what}");
    }
    // serde_json ends its message with " at line L column C", relative to the record.
    let text = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => &msg,
    };
    let (l, c) = (e.line() as u64, e.column());
    if l <= 1 {
        format!("invalid JSON at column {c}: {text}")
    } else {
        format!(
            "invalid JSON at line {}, column {c}: {text}",
            start_line + l - 1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a reader yields, as comparable text: events by id, refusals by reason and place; the I/O error
    /// that ended it, if any.
    fn drain<R: Read>(mut r: Reader<R>) -> (Vec<String>, Option<String>) {
        drain_mut(&mut r)
    }

    fn drain_mut<R: Read>(r: &mut Reader<R>) -> (Vec<String>, Option<String>) {
        let mut out = Vec::new();
        loop {
            match r.next_record() {
                Ok(Some(Record::Event(ev))) => out.push(format!("event {} {}", ev.id, ev.time)),
                Ok(Some(Record::Rejected(rej))) => out.push(format!(
                    "rejected {} {} {}",
                    rej.line, rej.offset, rej.reason
                )),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    /// Enough records of every form (single events, arrays, pages, bad JSON, bad events) for many chunks.
    fn mixed_input() -> Vec<u8> {
        let ev = |i: usize| {
            format!(
                r#"{{"id":"e{i}","type":"events","attributes":{{"time":"2026-11-02T09:00:00.{:03}Z","action":"page_viewed","actor":{{"id":"u{}"}}}}}}"#,
                i % 1000,
                i % 7
            )
        };
        let mut s = String::new();
        for i in 0..3_000 {
            match i % 10 {
                3 => s.push_str(&format!("[{},{}]", ev(i), ev(i + 100_000))),
                5 => s.push_str(&format!(r#"{{"data":[{}],"links":{{}}}}"#, ev(i))),
                7 => s.push_str("{not json"),
                8 => s.push_str(r#"{"id":"x","attributes":{"time":"yesterday"}}"#),
                _ => s.push_str(&ev(i)),
            }
            s.push('\n');
        }
        s.into_bytes()
    }

    #[test]
    fn the_parse_thread_gives_exactly_what_one_reader_gives() {
        let input = mixed_input();
        let serial = drain(Reader::new(input.as_slice()));
        let parallel = drain(Reader::with_parse_thread(input.as_slice()));
        assert!(serial.0.len() > 3 * CHUNK_FRAMES, "{}", serial.0.len());
        assert!(serial.0.iter().any(|r| r.starts_with("rejected")));
        assert_eq!(parallel, serial);
        // An empty input ends at once.
        assert_eq!(drain(Reader::with_parse_thread(&b""[..])), (vec![], None));
    }

    /// Chunks go to the parse thread only while it has room, the rest are parsed by the reading thread: in
    /// whatever mix that makes, the records still come out exactly in input order.
    #[test]
    fn chunks_parsed_here_and_there_come_out_in_input_order() {
        let mut input = Vec::new();
        for _ in 0..4 {
            input.extend(mixed_input());
        }
        let serial = drain(Reader::new(input.as_slice()));
        // A hand-over only while the parse thread waits: which chunks it gets depends on the scheduler, so
        // try until both threads parsed some (the first try nearly always does).
        for attempt in 0.. {
            let mut reader = Reader::with_parse_queue(input.as_slice(), 0);
            assert_eq!(drain_mut(&mut reader), serial, "attempt {attempt}");
            let split = reader.ahead.as_ref().map_or((0, 0), |a| a.split);
            if split.0 > 0 && split.1 > 0 {
                break;
            }
            assert!(attempt < 20, "never mixed: {split:?}");
        }
    }

    /// An input that fails part-way: every record before the failure comes out, in order, then the error.
    #[test]
    fn an_io_error_comes_after_every_record_read_before_it() {
        struct Failing<'a>(&'a [u8]);
        impl Read for Failing<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Err(std::io::Error::other("disk gone"));
                }
                let n = buf.len().min(self.0.len()).min(4096);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let input = mixed_input();
        let serial = drain(Reader::new(Failing(&input)));
        let parallel = drain(Reader::with_parse_thread(Failing(&input)));
        assert_eq!(serial.1.as_deref(), Some("disk gone"));
        assert_eq!(parallel, serial);
    }
}
