//! Event sources the engine runs on its own threads: a followed file (`tail -F`), standard input, and the
//! demo's live generator. Each parses with [`Reader`] on its own thread and hands record batches to the
//! pipeline through a [`Feeder`], which waits while the pipeline is behind.
//!
//! The HTTP receiver is `receiver.rs` and the organizations events API poller `poller.rs` (each an async
//! server or client of its own).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::workers::{Batch, Feeder, Shared};
use crate::generate::Generator;
use crate::ingest::{QUARANTINE_RAW_CAP, Reader, Record, RejectedRecord};
use crate::store::Store;

/// An endless in-process event stream (the demo): a generator whose event-time gaps are replayed as
/// wall-clock pauses, so a live stream arrives at the pace its timestamps say.
pub struct LiveFeed {
    /// The generator, usually [`Generator::then_live`] after the demo's history.
    pub generator: Generator,
    /// Longest pause between two events, whatever their time gap (keeps a demo lively after a quiet spell).
    pub max_pause: Duration,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed")
            .field("max_pause", &self.max_pause)
            .finish_non_exhaustive()
    }
}

/// Records per batch handed to the pipeline.
const BATCH_RECORDS: usize = 1000;

/// Bytes read from a followed file per step: a position is saved at least this often.
const READ_CHUNK: usize = 1 << 20;

/// A line longer than this is quarantined unread (the framer's own record limit is 8 MiB).
const MAX_LINE: usize = 8 * 1024 * 1024 + 1;

/// Where a followed file was left: byte offset after the last whole line consumed, lines consumed (for
/// quarantine line numbers), and the file's inode so a rotated file is read from its start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Position {
    offset: u64,
    line: u64,
    ino: u64,
}

/// Meta key under which a file source's position is kept.
pub fn position_key(path: &std::path::Path) -> String {
    format!("source.file.{}", path.display())
}

/// Follow `path` like `tail -F` from the stored position: read whole lines to the end, then poll for growth;
/// a truncated file is read again from its start, a replaced (rotated) one from the start of the new file.
/// Only whole lines are consumed: a last line still being written waits for its newline. On stop the file
/// is read once more so that every line written before the stop is delivered.
pub(crate) fn follow_file(
    path: PathBuf,
    store: Store,
    feeder: Feeder,
    shared: Arc<Shared>,
    poll: Duration,
) -> Result<(), String> {
    let key = position_key(&path);
    let name: Arc<str> = path.display().to_string().into();
    let mut pos = match store.meta_get(&key) {
        Ok(Some(v)) => serde_json::from_slice::<Position>(&v).unwrap_or_else(|e| {
            tracing::warn!(file = %name, error = %e, "stored position unreadable; reading from the start");
            Position::default()
        }),
        Ok(None) => Position::default(),
        Err(e) => return Err(format!("{name}: cannot read the stored position: {e}")),
    };
    tracing::info!(file = %name, offset = pos.offset, "following file");
    let mut file: Option<File> = None;
    loop {
        let stopping = shared.stopping();
        if file.is_none() {
            file = open(&path, &mut pos, &name, &shared);
        }
        if let Some(f) = file.as_mut() {
            match read_lines(f, &mut pos, &key, &name, &feeder) {
                Ok(true) => shared.set_health(&name, None),
                // The pipeline has gone: the engine is stopping or failed.
                Ok(false) => return Ok(()),
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "read failed; reopening");
                    shared.set_health(&name, Some(format!("cannot read: {e}")));
                    file = None;
                }
            }
        }
        if let Some(f) = file.as_ref() {
            // Rotation and truncation are looked for only after the old file was read to its end.
            match std::fs::metadata(&path) {
                Ok(m) if f.metadata().map(|o| o.ino()).ok() != Some(m.ino()) => {
                    tracing::info!(file = %name, "file replaced; following the new one");
                    file = None;
                }
                Ok(m) if m.len() < pos.offset => {
                    tracing::info!(file = %name, "file truncated; reading from its start");
                    pos.offset = 0;
                    pos.line = 0;
                }
                Ok(_) => {}
                Err(_) => {
                    // Removed: wait for a new file under the name.
                    file = None;
                }
            }
        }
        if stopping {
            return Ok(());
        }
        shared.sleep(poll);
    }
}

/// Open `path` and check the stored position against it.
fn open(path: &std::path::Path, pos: &mut Position, name: &str, shared: &Shared) -> Option<File> {
    match File::open(path).and_then(|f| f.metadata().map(|m| (f, m))) {
        Ok((f, m)) => {
            if pos.ino != 0 && pos.ino != m.ino() {
                tracing::info!(file = %name, "a different file than last time; reading from its start");
                *pos = Position::default();
            } else if m.len() < pos.offset {
                tracing::info!(file = %name, "file shorter than the stored position; reading from its start");
                *pos = Position::default();
            }
            pos.ino = m.ino();
            shared.set_health(name, None);
            Some(f)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            shared.set_health(name, Some("waiting for the file to appear".into()));
            None
        }
        Err(e) => {
            shared.set_health(name, Some(format!("cannot open: {e}")));
            None
        }
    }
}

/// Read and deliver every whole line from `pos` to the end of the file. `Ok(false)` when the pipeline has
/// gone.
fn read_lines(
    f: &mut File,
    pos: &mut Position,
    key: &str,
    name: &Arc<str>,
    feeder: &Feeder,
) -> std::io::Result<bool> {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    loop {
        f.seek(SeekFrom::Start(pos.offset))?;
        buf.clear();
        let got = f.by_ref().take(READ_CHUNK as u64).read_to_end(&mut buf)?;
        if got == 0 {
            return Ok(true);
        }
        let whole = match memchr::memrchr(b'\n', &buf) {
            Some(i) => i + 1,
            // A line still being written.
            None if got < READ_CHUNK => return Ok(true),
            // A line longer than a chunk: read on to its end, up to the longest line kept.
            None => match read_long_line(f, &mut buf)? {
                LongLine::Whole(end) => end,
                LongLine::Unfinished => return Ok(true),
                LongLine::TooLong => {
                    if !skip_long_line(f, pos, std::mem::take(&mut buf), name, key, feeder)? {
                        return Ok(false);
                    }
                    continue;
                }
            },
        };
        let chunk = &buf[..whole];
        let lines = memchr::memchr_iter(b'\n', chunk).count() as u64;
        let mut reader = Reader::new(chunk);
        let mut records = Vec::with_capacity(BATCH_RECORDS.min(lines as usize + 1));
        while let Some(mut rec) = reader.next_record()? {
            if let Record::Rejected(r) = &mut rec {
                r.offset += pos.offset;
                r.line += pos.line;
            }
            records.push(rec);
            if records.len() >= BATCH_RECORDS {
                let batch = Batch {
                    source: name.clone(),
                    records: std::mem::take(&mut records),
                    position: None,
                    ack: None,
                };
                if !feeder.send(batch) {
                    return Ok(false);
                }
            }
        }
        pos.offset += whole as u64;
        pos.line += lines;
        let position = serde_json::to_vec(pos).ok().map(|v| (key.to_string(), v));
        if !feeder.send(Batch {
            source: name.clone(),
            records,
            position,
            ack: None,
        }) {
            return Ok(false);
        }
    }
}

/// How a line longer than one chunk ended.
enum LongLine {
    /// It ends at this length of the buffer.
    Whole(usize),
    /// The writer has not finished it.
    Unfinished,
    /// Longer than [`MAX_LINE`].
    TooLong,
}

/// Read on from the end of `buf` (one chunk with no newline) until the line ends or is too long to keep.
fn read_long_line(f: &mut File, buf: &mut Vec<u8>) -> std::io::Result<LongLine> {
    loop {
        let before = buf.len();
        let n = f.by_ref().take(READ_CHUNK as u64).read_to_end(buf)?;
        if let Some(i) = memchr::memchr(b'\n', &buf[before..]) {
            let end = before + i + 1;
            return Ok(if end <= MAX_LINE {
                LongLine::Whole(end)
            } else {
                LongLine::TooLong
            });
        }
        if buf.len() > MAX_LINE {
            return Ok(LongLine::TooLong);
        }
        if n == 0 {
            return Ok(LongLine::Unfinished);
        }
    }
}

/// Quarantine a line too long to parse (its start kept) and move past it. `Ok(false)` when the pipeline has
/// gone.
fn skip_long_line(
    f: &mut File,
    pos: &mut Position,
    mut head: Vec<u8>,
    name: &Arc<str>,
    key: &str,
    feeder: &Feeder,
) -> std::io::Result<bool> {
    let mut size = head.len() as u64;
    let mut ended = memchr::memchr(b'\n', &head).map(|i| i as u64 + 1);
    head.truncate(QUARANTINE_RAW_CAP);
    let mut scratch = vec![0u8; READ_CHUNK];
    while ended.is_none() {
        let n = f.read(&mut scratch)?;
        if n == 0 {
            // The writer has not finished the line; consume what is there, the rest ends as its own record.
            break;
        }
        match memchr::memchr(b'\n', &scratch[..n]) {
            Some(i) => ended = Some(size + i as u64 + 1),
            None => size += n as u64,
        }
    }
    let consumed = ended.unwrap_or(size);
    let rejected = RejectedRecord {
        line: pos.line + 1,
        offset: pos.offset,
        reason: format!("line is {consumed} bytes or more; the limit is {MAX_LINE} bytes"),
        raw: head,
        size: consumed,
    };
    pos.offset += consumed;
    pos.line += u64::from(ended.is_some());
    let position = serde_json::to_vec(pos).ok().map(|v| (key.to_string(), v));
    Ok(feeder.send(Batch {
        source: name.clone(),
        records: vec![Record::Rejected(rejected)],
        position,
        ack: None,
    }))
}

/// Read standard input until it ends, each record delivered as soon as it is complete (stdin is often a
/// trickle from another program). A read blocked on stdin cannot be interrupted, so the engine does not wait
/// for this thread at shutdown.
pub(crate) fn read_stdin(feeder: Feeder, shared: Arc<Shared>) -> Result<(), String> {
    let name: Arc<str> = "-".into();
    let mut reader = Reader::new(std::io::stdin().lock());
    loop {
        if shared.stopping() {
            return Ok(());
        }
        match reader.next_record() {
            Ok(Some(rec)) => {
                if !feeder.send(Batch {
                    source: name.clone(),
                    records: vec![rec],
                    position: None,
                    ack: None,
                }) {
                    return Ok(());
                }
            }
            Ok(None) => {
                tracing::info!("standard input ended");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read standard input");
                shared.set_health("stdin", Some(format!("cannot read: {e}")));
                return Ok(());
            }
        }
    }
}

/// Replay a generator in real time: the pause before each event is its event-time gap to the previous one,
/// capped by [`LiveFeed::max_pause`].
pub(crate) fn feed_live(live: LiveFeed, feeder: Feeder, shared: Arc<Shared>) -> Result<(), String> {
    let LiveFeed {
        mut generator,
        max_pause,
    } = live;
    let name: Arc<str> = "demo".into();
    let mut line = String::with_capacity(1024);
    let mut previous: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        if shared.stopping() {
            return Ok(());
        }
        let Some(t) = generator.next_into(&mut line) else {
            tracing::info!("live stream ended");
            return Ok(());
        };
        if let Some(p) = previous {
            let gap: Duration = (t - p).to_std().unwrap_or_default().min(max_pause);
            if shared.sleep(gap) {
                return Ok(());
            }
        }
        previous = Some(t);
        let mut reader = Reader::new(line.as_bytes());
        let mut records = Vec::with_capacity(1);
        while let Some(rec) = reader
            .next_record()
            .map_err(|e| format!("live stream: {e}"))?
        {
            records.push(rec);
        }
        if !feeder.send(Batch {
            source: name.clone(),
            records,
            position: None,
            ack: None,
        }) {
            return Ok(());
        }
    }
}
