//! Putting one input into time order in bounded memory, before detection sees it.
//!
//! Detection is order-independent whatever happens (a late event makes its actor re-detected from the store),
//! but re-detection is the slow path: an input that arrives newest first or shuffled (an API that pages
//! backwards, an export, a backfill) would send most of its actors through it, and the store would merge
//! late events into days already written. Sorting first keeps such an input on the fast path.
//!
//! The sorter reads the input in chunks and sorts each by (time, id):
//! - while the chunks arrive in order (a chunk needed almost no reordering and starts at or after what was
//!   already passed on) each chunk of a few thousand events is passed on as soon as it is sorted, so a
//!   time-ordered input costs one sort of an already-sorted vector per chunk, little memory and no disk;
//! - once the input shows it is not in order, every following chunk of [`SortLimits::chunk`] events is sorted
//!   and written to a run file beside the store, and the runs are merged when the input ends (or when
//!   [`SortLimits::fan_in`] runs are waiting, so that neither memory nor open files grow with the input: a
//!   never-ending stdin is passed on one window of `chunk × fan_in` events at a time, and what straddles two
//!   windows is simply late).
//!
//! Nothing a run file holds is a secret in full: the caller's `redact` runs on every event before it is
//! written. The files are owner-only, created new (never through a link), and removed when the sorter is
//! dropped; files a killed process left behind are removed when the next sorter starts.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::model::AuditEvent;

/// How much one input may hold in memory, and how many run files it may keep open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortLimits {
    /// Events sorted in memory at once; what a run file holds.
    pub chunk: usize,
    /// Run files merged at once; when this many wait, they are merged and passed on.
    pub fan_in: usize,
}

impl Default for SortLimits {
    /// 16,384 events (~25 MB of parsed events) by 256 runs: windows of four million events, 256 open files
    /// with 64 KiB buffers (16 MiB) while merging.
    fn default() -> Self {
        Self {
            chunk: 16 * 1024,
            fan_in: 256,
        }
    }
}

/// Events sorted at once while the input is still in order: a time-ordered input passes through chunks of
/// this size (or [`SortLimits::chunk`] when smaller), so the fast path holds few events more than the batches
/// it feeds; the larger `chunk` is only for run files, where fewer runs is what counts.
const PROBE: usize = 1000;

/// Share of a chunk, in parts per thousand, that may be out of place and still count as "in order": a
/// slightly jittered stream (retries, clocks a few seconds apart) stays on the direct path, whose late events
/// are few and cheap to re-detect.
const DISORDER_PER_MILLE: usize = 10;

/// Read buffer of each run file while merging.
const RUN_BUFFER: usize = 64 * 1024;

/// The (time, id) order detection needs.
fn order(a: &AuditEvent, b: &AuditEvent) -> Ordering {
    (a.time_ms(), a.id.as_str()).cmp(&(b.time_ms(), b.id.as_str()))
}

/// Sorts the events of one input; see the module doc. Feed it with [`TimeSorter::push`], drain it with
/// [`TimeSorter::pop`] after every push, then call [`TimeSorter::finish`] and drain again.
pub struct TimeSorter {
    limits: SortLimits,
    dir: PathBuf,
    chunk: Vec<AuditEvent>,
    /// Sorted events ready to pass on.
    ready: VecDeque<AuditEvent>,
    /// The newest (time, id) passed on directly.
    emitted_max: Option<(i64, String)>,
    /// Whether the input has shown it is out of order: from then on, chunks go to run files.
    spilling: bool,
    runs: Vec<PathBuf>,
    merger: Option<Merger>,
    next_run: u64,
    /// Run files written so far (for the log and tests).
    spilled_runs: u64,
}

impl TimeSorter {
    /// A sorter that keeps its run files in `dir` (created owner-only if missing; it must be a directory, not
    /// a link to one). Stale run files of a killed process are removed.
    pub fn new(dir: &Path, limits: SortLimits) -> io::Result<Self> {
        Ok(Self {
            limits: SortLimits {
                chunk: limits.chunk.max(1),
                fan_in: limits.fan_in.max(2),
            },
            dir: dir.to_path_buf(),
            chunk: Vec::new(),
            ready: VecDeque::new(),
            emitted_max: None,
            spilling: false,
            runs: Vec::new(),
            merger: None,
            next_run: 0,
            spilled_runs: 0,
        })
    }

    /// Run files written so far: zero for an input that arrived in order.
    pub fn spilled_runs(&self) -> u64 {
        self.spilled_runs
    }

    /// Take one event. A full chunk is sorted and either made ready or written to a run file (after `redact`);
    /// when `fan_in` runs wait, they start merging. Drain [`TimeSorter::pop`] before the next push.
    pub fn push(
        &mut self,
        event: AuditEvent,
        redact: &mut dyn FnMut(&mut AuditEvent),
    ) -> io::Result<()> {
        self.chunk.push(event);
        let size = if self.spilling {
            self.limits.chunk
        } else {
            self.limits.chunk.min(PROBE)
        };
        if self.chunk.len() >= size {
            self.close_chunk(redact)?;
        }
        Ok(())
    }

    /// The input has ended: what is held is sorted and, if runs were written, merged with them.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.chunk.is_empty() && self.runs.is_empty() {
            return Ok(());
        }
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.sort_by(order);
        if self.runs.is_empty() {
            // Nothing on disk: the last chunk, sorted, is in order whatever came before it could be.
            self.pass_on(chunk);
            return Ok(());
        }
        // The last chunk joins the merge from memory: it was never written, so it needs no redaction here.
        self.start_merge(chunk)
    }

    /// The next event in order, or `None` until more is pushed (or, after `finish`, at the end).
    pub fn pop(&mut self) -> io::Result<Option<AuditEvent>> {
        if let Some(ev) = self.ready.pop_front() {
            return Ok(Some(ev));
        }
        let Some(merger) = &mut self.merger else {
            return Ok(None);
        };
        match merger.next()? {
            Some(ev) => Ok(Some(ev)),
            None => {
                self.merger = None;
                self.remove_runs();
                Ok(None)
            }
        }
    }

    fn close_chunk(&mut self, redact: &mut dyn FnMut(&mut AuditEvent)) -> io::Result<()> {
        let mut chunk = std::mem::take(&mut self.chunk);
        let descents = chunk
            .windows(2)
            .filter(|w| order(&w[0], &w[1]) == Ordering::Greater)
            .count();
        chunk.sort_by(order);
        if !self.spilling {
            let behind = match &self.emitted_max {
                Some((t, id)) => chunk.partition_point(|e| (e.time_ms(), e.id.as_str()) < (*t, id)),
                None => 0,
            };
            let tolerated = chunk.len() * DISORDER_PER_MILLE / 1000;
            if descents <= tolerated && behind <= tolerated {
                self.pass_on(chunk);
                return Ok(());
            }
            self.spilling = true;
            tracing::info!(
                out_of_place = descents.max(behind),
                chunk = chunk.len(),
                "input is not in time order: sorting it through run files before detection"
            );
        }
        self.write_run(chunk, redact)?;
        if self.runs.len() >= self.limits.fan_in {
            self.start_merge(Vec::new())?;
        }
        Ok(())
    }

    fn pass_on(&mut self, chunk: Vec<AuditEvent>) {
        if let Some(last) = chunk.last() {
            let newer = self
                .emitted_max
                .as_ref()
                .is_none_or(|(t, id)| (last.time_ms(), last.id.as_str()) > (*t, id.as_str()));
            if newer {
                self.emitted_max = Some((last.time_ms(), last.id.clone()));
            }
        }
        self.ready.extend(chunk);
    }

    fn write_run(
        &mut self,
        chunk: Vec<AuditEvent>,
        redact: &mut dyn FnMut(&mut AuditEvent),
    ) -> io::Result<()> {
        if self.runs.is_empty() && self.spilled_runs == 0 {
            prepare_dir(&self.dir)?;
        }
        let path = self
            .dir
            .join(format!("run-{}-{}", std::process::id(), self.next_run));
        self.next_run += 1;
        let file = create_private(&path)?;
        self.runs.push(path);
        let mut out = BufWriter::with_capacity(RUN_BUFFER, file);
        for mut ev in chunk {
            redact(&mut ev);
            serde_json::to_writer(&mut out, &ev).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_data()?;
        self.spilled_runs += 1;
        Ok(())
    }

    fn start_merge(&mut self, in_memory: Vec<AuditEvent>) -> io::Result<()> {
        let mut sources = Vec::with_capacity(self.runs.len() + 1);
        for path in &self.runs {
            sources.push(Source::File(BufReader::with_capacity(
                RUN_BUFFER,
                File::open(path)?,
            )));
        }
        sources.push(Source::Memory(in_memory.into_iter()));
        self.merger = Some(Merger::new(sources)?);
        Ok(())
    }

    fn remove_runs(&mut self) {
        for path in self.runs.drain(..) {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a sort run file");
            }
        }
    }
}

impl Drop for TimeSorter {
    fn drop(&mut self) {
        self.merger = None;
        self.remove_runs();
    }
}

/// Create `dir` owner-only if missing, refuse it if it is not a plain directory, and remove run files a
/// killed process left in it.
fn prepare_dir(dir: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => {
            return Err(io::Error::other(format!(
                "{} is not a directory (a link or a file is refused)",
                dir.display()
            )));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut b = std::fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(dir)?;
        }
        Err(e) => return Err(e),
    }
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("run-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// A new owner-only file; an existing file or link at `path` is an error, never followed.
fn create_private(path: &Path) -> io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// One sorted source of the merge.
enum Source {
    File(BufReader<File>),
    Memory(std::vec::IntoIter<AuditEvent>),
}

impl Source {
    fn next(&mut self, line: &mut Vec<u8>) -> io::Result<Option<AuditEvent>> {
        match self {
            Self::Memory(it) => Ok(it.next()),
            Self::File(r) => {
                line.clear();
                if r.read_until(b'\n', line)? == 0 {
                    return Ok(None);
                }
                serde_json::from_slice(line)
                    .map(Some)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }
}

/// The head of one source in the merge heap: the smallest (time, id) on top, ties by source index so the
/// merge is deterministic.
struct Head {
    event: AuditEvent,
    source: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        order(&other.event, &self.event).then(other.source.cmp(&self.source))
    }
}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}

/// A k-way merge of sorted sources.
struct Merger {
    sources: Vec<Source>,
    heap: BinaryHeap<Head>,
    line: Vec<u8>,
}

impl Merger {
    fn new(mut sources: Vec<Source>) -> io::Result<Self> {
        let mut heap = BinaryHeap::with_capacity(sources.len());
        let mut line = Vec::new();
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some(event) = s.next(&mut line)? {
                heap.push(Head { event, source: i });
            }
        }
        Ok(Self {
            sources,
            heap,
            line,
        })
    }

    fn next(&mut self) -> io::Result<Option<AuditEvent>> {
        let Some(Head { event, source }) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(next) = self.sources[source].next(&mut self.line)? {
            self.heap.push(Head {
                event: next,
                source,
            });
        }
        Ok(Some(event))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{DateTime, Utc};

    fn ev(t: i64, id: &str) -> AuditEvent {
        let mut e: AuditEvent = serde_json::from_value(serde_json::json!({
            "id": id,
            "time": DateTime::<Utc>::from_timestamp(t, 0).unwrap(),
            "action": "page_viewed",
            "actor": {"id": "a"},
        }))
        .unwrap();
        e.id = id.to_string();
        e
    }

    fn drain(s: &mut TimeSorter, out: &mut Vec<String>) {
        while let Some(e) = s.pop().unwrap() {
            out.push(e.id);
        }
    }

    fn run(times: &[i64], limits: SortLimits, dir: &Path) -> (Vec<String>, u64) {
        let mut s = TimeSorter::new(dir, limits).unwrap();
        let mut out = Vec::new();
        let mut redact = |_: &mut AuditEvent| {};
        for (i, t) in times.iter().enumerate() {
            s.push(ev(*t, &format!("e{i:05}")), &mut redact).unwrap();
            drain(&mut s, &mut out);
        }
        s.finish().unwrap();
        drain(&mut s, &mut out);
        (out, s.spilled_runs())
    }

    fn sorted_ids(times: &[i64]) -> Vec<String> {
        let mut v: Vec<(i64, String)> = times
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, format!("e{i:05}")))
            .collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    }

    #[test]
    fn in_order_input_passes_through_without_disk() {
        let dir = tempfile::tempdir().unwrap();
        let times: Vec<i64> = (0..1000).collect();
        let spill = dir.path().join("sort");
        let (out, runs) = run(
            &times,
            SortLimits {
                chunk: 64,
                fan_in: 4,
            },
            &spill,
        );
        assert_eq!(out, sorted_ids(&times));
        assert_eq!(runs, 0);
        assert!(!spill.exists());
    }

    #[test]
    fn reversed_and_shuffled_inputs_come_out_sorted_across_windows() {
        let dir = tempfile::tempdir().unwrap();
        let spill = dir.path().join("sort");
        let reversed: Vec<i64> = (0..1000).rev().collect();
        // fan_in 4 × chunk 64: windows of 256 events, so a 1000-event input is merged in four windows and
        // only ordered within each.
        let (out, runs) = run(
            &reversed,
            SortLimits {
                chunk: 64,
                fan_in: 4,
            },
            &spill,
        );
        assert!(runs > 0);
        assert_eq!(out.len(), 1000);
        let (out, _) = run(
            &reversed,
            SortLimits {
                chunk: 64,
                fan_in: 64,
            },
            &spill,
        );
        assert_eq!(out, sorted_ids(&reversed));
        let mut x = 12345u64;
        let shuffled: Vec<i64> = (0..1000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 40) as i64 % 500
            })
            .collect();
        let (out, runs) = run(
            &shuffled,
            SortLimits {
                chunk: 64,
                fan_in: 64,
            },
            &spill,
        );
        assert_eq!(out, sorted_ids(&shuffled));
        assert!(runs > 0);
        assert_eq!(
            std::fs::read_dir(&spill).unwrap().count(),
            0,
            "runs removed"
        );
    }

    #[test]
    fn an_input_smaller_than_a_chunk_is_sorted_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let times = [5, 3, 9, 1, 1, 0];
        let (out, runs) = run(&times, SortLimits::default(), dir.path());
        assert_eq!(out, sorted_ids(&times));
        assert_eq!(runs, 0);
    }

    #[test]
    fn run_files_hold_what_redact_left_and_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let spill = dir.path().join("sort");
        let mut s = TimeSorter::new(
            &spill,
            SortLimits {
                chunk: 4,
                fan_in: 8,
            },
        )
        .unwrap();
        let mut redact = |e: &mut AuditEvent| {
            e.extra.insert("note".into(), "[redacted]".into());
        };
        for i in (0..8).rev() {
            let mut e = ev(i, &format!("e{i}"));
            e.extra.insert("note".into(), "AKIAIOSFODNN7EXAMPLE".into());
            s.push(e, &mut redact).unwrap();
        }
        let files: Vec<_> = std::fs::read_dir(&spill).unwrap().flatten().collect();
        assert!(!files.is_empty());
        for f in &files {
            let text = std::fs::read_to_string(f.path()).unwrap();
            assert!(!text.contains("AKIA"), "{text}");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
            }
        }
        drop(s);
        assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0);
    }

    #[test]
    fn a_link_in_place_of_the_run_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        let link = dir.path().join("sort");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut s = TimeSorter::new(
            &link,
            SortLimits {
                chunk: 2,
                fan_in: 4,
            },
        )
        .unwrap();
        let mut redact = |_: &mut AuditEvent| {};
        s.push(ev(3, "a"), &mut redact).unwrap();
        let err = s.push(ev(1, "b"), &mut redact).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    }
}
