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
        }
    }

    /// The next record, `Ok(None)` at the end of input, `Err` only when the reader itself fails (an I/O error):
    /// bad data is always a [`Record::Rejected`].
    pub fn next_record(&mut self) -> std::io::Result<Option<Record>> {
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
    let raw_for = |v: &serde_json::Value| -> Vec<u8> {
        if index.is_none() {
            return frame.raw_capped();
        }
        let mut bytes = serde_json::to_vec(v).unwrap_or_default();
        bytes.truncate(QUARANTINE_RAW_CAP);
        bytes
    };
    let checked = match dup {
        Some(path) => Err(Rejection {
            path,
            problem: DUPLICATED.to_string(),
        }),
        None => normalise(&value),
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
                raw: raw_for(&value),
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
