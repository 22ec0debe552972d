//! Splitting a byte stream into JSON records without reading it whole: a small state machine that tracks
//! strings and bracket depth, emits each top-level value (or each element of a top-level array) with the line
//! and byte offset where it starts, and resynchronises after a broken record so the records around it survive.

use std::io::{BufRead, BufReader, Read};

use super::QUARANTINE_RAW_CAP;

/// Bounds that keep hostile input from costing unbounded memory.
#[derive(Debug, Clone, Copy)]
pub struct FramerLimits {
    /// Largest record kept for parsing; a bigger one is quarantined (its first 64 KiB kept).
    pub max_record: usize,
    /// Deepest nesting accepted; serde_json would refuse past 128 anyway, this names the reason early.
    pub max_depth: usize,
}

impl Default for FramerLimits {
    fn default() -> Self {
        // A page of the events API is well under 8 MiB; a single event with a long page body stays far below it.
        Self {
            max_record: 8 * 1024 * 1024,
            max_depth: 128,
        }
    }
}

/// Why a record could not even be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("record is {size} bytes or more; the limit is {limit} bytes")]
    TooLarge { size: u64, limit: usize },
    #[error("JSON nested more than {limit} levels deep")]
    TooDeep { limit: usize },
    #[error("unterminated JSON value: {0}")]
    Unterminated(&'static str),
}

/// One framed record: its bytes (complete unless `error` says otherwise) and where it started.
#[derive(Debug, Clone)]
pub struct Frame {
    pub bytes: Vec<u8>,
    /// 1-based line of the first byte.
    pub line: u64,
    /// Byte offset of the first byte.
    pub offset: u64,
    /// Full size in bytes, even when `bytes` was cut at the limit.
    pub size: u64,
    /// The record is one element of a top-level array (so it is an event, not a page or array).
    pub in_array: bool,
    pub error: Option<FrameError>,
}

impl Frame {
    /// The raw bytes capped for quarantine.
    pub fn raw_capped(&self) -> Vec<u8> {
        self.bytes[..self.bytes.len().min(QUARANTINE_RAW_CAP)].to_vec()
    }
}

struct Current {
    bytes: Vec<u8>,
    line: u64,
    offset: u64,
    size: u64,
    depth: usize,
    in_string: bool,
    escape: bool,
    /// A bare scalar (or garbage) rather than an object or array: ends at a delimiter, not a bracket.
    scalar: bool,
    in_array: bool,
    error: Option<FrameError>,
    /// Taken whole up to the next newline (newline-delimited input): serde, not the framer, judges it.
    line_record: bool,
}

impl Current {
    /// Track escapes and the closing quote for a byte inside a string.
    fn string_byte(&mut self, b: u8) {
        if self.escape {
            self.escape = false;
        } else if b == b'\\' {
            self.escape = true;
        } else if b == b'"' {
            self.in_string = false;
        }
    }
}

#[derive(Default)]
struct State {
    line: u64,
    offset: u64,
    at_line_start: bool,
    in_array: bool,
    /// Learned from the first compound record: `Some(true)` when it fit on one line (newline-delimited input).
    ndjson: Option<bool>,
    cur: Option<Current>,
}

/// Streams [`Frame`]s out of a reader.
pub struct Framer<R: Read> {
    input: BufReader<R>,
    limits: FramerLimits,
    st: State,
    started: bool,
}

impl<R: Read> Framer<R> {
    /// Frame `input` within `limits`.
    pub fn new(input: R, limits: FramerLimits) -> Self {
        Self {
            input: BufReader::with_capacity(256 * 1024, input),
            limits,
            st: State {
                line: 1,
                at_line_start: true,
                ..Default::default()
            },
            started: false,
        }
    }

    /// The next frame, `None` at the end of the input.
    pub fn next_frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(self.st.finish());
            }
            let mut start = 0;
            if !self.started {
                self.started = true;
                if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                    start = 3;
                    self.st.offset += 3;
                }
            }
            let (used, frame) = self.st.feed(&buf[start..], &self.limits);
            self.input.consume(start + used);
            if frame.is_some() {
                return Ok(frame);
            }
        }
    }
}

impl State {
    /// Consume bytes until a frame completes or the slice ends; returns bytes used and the frame, if any.
    fn feed(&mut self, buf: &[u8], limits: &FramerLimits) -> (usize, Option<Frame>) {
        if self.ndjson == Some(true)
            && !self.in_array
            && self.cur.as_ref().is_none_or(|c| c.line_record)
        {
            return self.feed_lines(buf, limits);
        }
        let mut i = 0;
        while i < buf.len() {
            // Fast path: inside a string, jump to the next byte that matters.
            if let Some(cur) = self.cur.as_mut()
                && cur.in_string
                && !cur.escape
            {
                let rest = &buf[i..];
                let skip = memchr::memchr3(b'"', b'\\', b'\n', rest).unwrap_or(rest.len());
                if skip > 0 {
                    push_bytes(cur, &rest[..skip], limits);
                    self.offset += skip as u64;
                    self.at_line_start = false;
                    i += skip;
                    continue;
                }
            }
            let b = buf[i];
            let out = self.step(b, limits);
            i += 1;
            if let Some(frame) = out {
                return (i, Some(frame));
            }
        }
        (i, None)
    }

    /// Newline-delimited input, once recognised: a record is a line, found with `memchr` instead of a
    /// byte-by-byte walk. Broken lines stay broken lines; the JSON parser names what is wrong with them.
    fn feed_lines(&mut self, buf: &[u8], limits: &FramerLimits) -> (usize, Option<Frame>) {
        let mut i = 0;
        while i < buf.len() {
            if self.cur.is_none() {
                match buf[i] {
                    b'\n' => {
                        self.line += 1;
                        self.offset += 1;
                        i += 1;
                        continue;
                    }
                    b' ' | b'\t' | b'\r' => {
                        self.offset += 1;
                        i += 1;
                        continue;
                    }
                    _ => {
                        self.cur = Some(Current {
                            bytes: Vec::with_capacity(1024),
                            line: self.line,
                            offset: self.offset,
                            size: 0,
                            depth: 0,
                            in_string: false,
                            escape: false,
                            scalar: false,
                            in_array: false,
                            error: None,
                            line_record: true,
                        });
                    }
                }
            }
            let Some(cur) = self.cur.as_mut() else {
                continue;
            };
            let rest = &buf[i..];
            match memchr::memchr(b'\n', rest) {
                Some(n) => {
                    push_bytes(cur, &rest[..n], limits);
                    self.offset += n as u64 + 1;
                    self.line += 1;
                    self.at_line_start = true;
                    return (i + n + 1, self.take(None));
                }
                None => {
                    push_bytes(cur, rest, limits);
                    self.offset += rest.len() as u64;
                    i = buf.len();
                }
            }
        }
        (i, None)
    }

    fn step(&mut self, b: u8, limits: &FramerLimits) -> Option<Frame> {
        let line_start = self.at_line_start;
        self.at_line_start = b == b'\n';
        let offset = self.offset;
        self.offset += 1;
        let newline = b == b'\n';
        let Some(cur) = self.cur.as_mut() else {
            if newline {
                self.line += 1;
            }
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b',' if self.in_array => {}
                b']' if self.in_array => self.in_array = false,
                b'[' if !self.in_array => self.in_array = true,
                _ => self.start(b, offset, limits),
            }
            return None;
        };

        // A broken record in pretty-printed input: a new top-level object starts at column 0.
        if line_start && b == b'{' && !cur.in_string && !cur.scalar && self.ndjson != Some(true) {
            let frame = self.take(Some(FrameError::Unterminated(
                "a new record began before this one closed",
            )));
            self.start(b, offset, limits);
            return frame;
        }

        if newline {
            self.line += 1;
        }
        if cur.scalar {
            let ends = !cur.in_string && (newline || (self.in_array && (b == b',' || b == b']')));
            if ends {
                if b == b']' {
                    self.in_array = false;
                }
                return self.take(None);
            }
            push_bytes(cur, &[b], limits);
            if cur.in_string {
                cur.string_byte(b);
            } else if b == b'"' {
                cur.in_string = true;
            }
            return None;
        }

        if cur.in_string {
            if newline {
                return self.take(Some(FrameError::Unterminated(
                    "a line break inside a string",
                )));
            }
            push_bytes(cur, &[b], limits);
            cur.string_byte(b);
            return None;
        }

        if newline && self.ndjson == Some(true) {
            return self.take(Some(FrameError::Unterminated(
                "the line ended before the value closed",
            )));
        }
        push_bytes(cur, &[b], limits);
        match b {
            b'"' => cur.in_string = true,
            b'{' | b'[' => {
                cur.depth += 1;
                if cur.depth > limits.max_depth && cur.error.is_none() {
                    cur.error = Some(FrameError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
            }
            b'}' | b']' => {
                cur.depth -= 1;
                if cur.depth == 0 {
                    if self.ndjson.is_none() {
                        self.ndjson = Some(cur.line == self.line);
                    }
                    return self.take(None);
                }
            }
            _ => {}
        }
        None
    }

    fn start(&mut self, b: u8, offset: u64, limits: &FramerLimits) {
        let scalar = !matches!(b, b'{' | b'[');
        let mut cur = Current {
            bytes: Vec::with_capacity(512),
            line: self.line,
            offset,
            size: 0,
            depth: usize::from(!scalar),
            in_string: scalar && b == b'"',
            escape: false,
            scalar,
            in_array: self.in_array,
            error: None,
            line_record: false,
        };
        push_bytes(&mut cur, &[b], limits);
        self.cur = Some(cur);
    }

    fn take(&mut self, error: Option<FrameError>) -> Option<Frame> {
        let cur = self.cur.take()?;
        Some(Frame {
            bytes: cur.bytes,
            line: cur.line,
            offset: cur.offset,
            size: cur.size,
            in_array: cur.in_array,
            error: cur.error.or(error),
        })
    }

    fn finish(&mut self) -> Option<Frame> {
        let cur = self.cur.as_ref()?;
        let whole = cur.scalar || cur.line_record;
        let err = (!whole).then_some(FrameError::Unterminated("the input ended inside the value"));
        self.take(err)
    }
}

fn push_bytes(cur: &mut Current, bytes: &[u8], limits: &FramerLimits) {
    cur.size += bytes.len() as u64;
    let room = limits.max_record.saturating_sub(cur.bytes.len());
    if bytes.len() <= room {
        cur.bytes.extend_from_slice(bytes);
    } else {
        cur.bytes.extend_from_slice(&bytes[..room]);
        if !matches!(cur.error, Some(FrameError::TooLarge { .. })) {
            cur.error = Some(FrameError::TooLarge {
                size: cur.size,
                limit: limits.max_record,
            });
        }
    }
    if let Some(FrameError::TooLarge { size, .. }) = &mut cur.error {
        *size = cur.size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &str) -> Vec<(u64, String, Option<FrameError>)> {
        let mut f = Framer::new(
            input.as_bytes(),
            FramerLimits {
                max_record: 64,
                max_depth: 8,
            },
        );
        let mut out = Vec::new();
        while let Some(fr) = f.next_frame().unwrap() {
            out.push((
                fr.line,
                String::from_utf8_lossy(&fr.bytes).into_owned(),
                fr.error,
            ));
        }
        out
    }

    #[test]
    fn ndjson_lines() {
        let got = frames("{\"a\":1}\n{\"b\":\"}\"}\n\n{\"c\":[1,2]}\n");
        assert_eq!(got.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 2, 4]);
        assert_eq!(got[1].1, "{\"b\":\"}\"}");
    }

    #[test]
    fn array_elements_are_separate_records() {
        let got = frames("[{\"a\":1},\n {\"b\":2}, 5 ]\n{\"c\":3}");
        assert_eq!(got.len(), 4);
        assert_eq!(got[2].1.trim(), "5");
        assert_eq!(got[1].0, 2);
        assert_eq!(got[3].1, "{\"c\":3}");
    }

    #[test]
    fn pretty_printed_object_spans_lines() {
        let got = frames("{\n  \"a\": {\n    \"b\": 1\n  }\n}\n{\n  \"c\": 2\n}\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 6);
        assert!(got.iter().all(|f| f.2.is_none()));
    }

    #[test]
    fn broken_ndjson_line_does_not_swallow_the_next() {
        // Newline-delimited input: a broken line is one record (the parser names its fault), the next is intact.
        let got = frames("{\"a\":1}\n{\"b\":{\"x\":1}\n{\"c\":3}\n");
        assert_eq!(got.len(), 3);
        assert_eq!((got[1].0, got[1].1.as_str()), (2, "{\"b\":{\"x\":1}"));
        assert_eq!(got[2].1, "{\"c\":3}");
        // Pretty-printed input: a record that never closes is cut where the next top-level object starts.
        let got = frames("{\n  \"a\": 1\n}\n{\n  \"b\": {\n{\n  \"c\": 3\n}\n");
        assert_eq!(got.len(), 3);
        assert!(matches!(got[1].2, Some(FrameError::Unterminated(_))));
        assert_eq!(got[2].0, 6);
        let got = frames("{\"a\":1}\n{\"b\":\"open\n{\"c\":3}\n");
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].0, 3);
    }

    #[test]
    fn oversize_and_deep_records_are_flagged() {
        let long = format!("{{\"a\":\"{}\"}}\n{{\"ok\":1}}", "x".repeat(500));
        let got = frames(&long);
        assert!(matches!(
            got[0].2,
            Some(FrameError::TooLarge { size: 508, .. })
        ));
        assert_eq!(got[0].1.len(), 64);
        assert_eq!(got[1].1, "{\"ok\":1}");
        let deep = format!("{}{}\n{{\"ok\":1}}", "[".repeat(20), "]".repeat(20));
        let got = frames(&deep);
        assert!(
            got.iter()
                .any(|f| matches!(f.2, Some(FrameError::TooDeep { .. })))
        );
        assert_eq!(got.last().unwrap().1, "{\"ok\":1}");
    }

    #[test]
    fn garbage_is_a_scalar_record() {
        let got = frames("hello world\n{\"a\":1}");
        assert_eq!(got[0].1, "hello world");
        assert_eq!(got[1].0, 2);
    }
}
