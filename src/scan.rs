//! `vigil scan`: the content scanners of [`crate::detect::content`] run over files at rest.
//!
//! Decisions, so operators know what a clean result means:
//! - **Walk**: directories recursively, entries in byte order of their names, so output is reproducible.
//!   Nothing is skipped by name (no `.gitignore` logic, hidden files included).
//! - **Symlinks**: a path named on the command line is followed (like `find -H` and ripgrep); a symlink met
//!   while walking is never followed and counts as skipped, so the scan cannot leave the tree or loop.
//!   Sockets, FIFOs and devices are skipped too, with a note (opening a FIFO would block). The tree can
//!   change between the walk and the read: a file is opened without following a symlink at its place and
//!   without blocking, then read only if the opened handle is a regular file that still lies inside the tree
//!   being scanned (a parent directory swapped for a symlink cannot lead it out); otherwise it is skipped
//!   with a note saying why.
//! - **Binary files**: a NUL byte in the first 8 KiB marks a file binary and skips it (git's and grep's rule).
//!   Other files are decoded as UTF-8, invalid sequences replaced by U+FFFD (lossy), so Latin-1 or mixed
//!   files are still scanned; offsets then refer to the decoded text.
//! - **Big files**: read in chunks of [`ScanOptions::chunk_bytes`] (32 MiB) cut at the last newline, so
//!   memory stays bounded. Findings are complete within a chunk; a multi-line secret (a private-key block)
//!   straddling a cut can be missed, and the `email-addresses` count is per chunk.
//! - **Positions**: `line` and `column` are 1-based; `column` counts characters (Unicode scalar values) from
//!   the start of the line, as editors show it, not bytes.
//! - **Output**: CSV with the header `path,line,column,scanner,redacted` (RFC 4180 quoting; a cell starting
//!   with `=`, `+`, `-`, `@`, tab or CR gets a `'` prefix so spreadsheets do not run it), or JSON lines with
//!   those fields plus `category` and `severity`. Control characters in paths are replaced (see
//!   [`crate::model::text::sanitize`]) so a hostile file name cannot drive the terminal.
//! - **Fingerprints**: at-rest scans use the fixed key [`AT_REST_FINGERPRINT_KEY`] and do not print
//!   fingerprints by default: with a public key, the fingerprint of a short secret (an SSN, a card number)
//!   could be reversed by brute force. [`run_with`] takes a private key and can include them.
//! - **Threads**: files are scanned in parallel, one worker per core by default ([`ScanOptions::threads`]);
//!   rows are still written in walk order.
//! - **Errors**: an unreadable path is recorded in `ScanSummary::unreadable` and the scan goes on; only a
//!   failure to write the output ends it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::Serialize;

use crate::detect::content::{ContentScanner, Finding};
use crate::detect::tuning::Tuning;
use crate::model::text::sanitize;

/// Fingerprint key of at-rest scans: fixed, so the same secret in two runs has the same fingerprint.
pub const AT_REST_FINGERPRINT_KEY: &[u8] = b"vigil:at-rest-scan:v1";

/// Default read size per chunk of a file.
pub const CHUNK_BYTES: usize = 32 << 20;

/// Bytes inspected for a NUL to call a file binary.
const BINARY_SNIFF: usize = 8 << 10;

/// Output format of `vigil scan --format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    /// `path,line,column,scanner,redacted` with a header row.
    #[default]
    Csv,
    /// One JSON object per finding per line.
    Json,
}

/// Knobs for [`run_with`]; [`run`] uses the defaults.
#[derive(Clone)]
pub struct ScanOptions {
    /// Key of the findings' HMAC fingerprints.
    pub fingerprint_key: Vec<u8>,
    /// Add `fingerprint` to JSON rows; only sensible with a private key.
    pub include_fingerprint: bool,
    /// Read size per chunk; files up to this size are scanned in one piece.
    pub chunk_bytes: usize,
    /// Worker threads; 0 = one per available core.
    pub threads: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            fingerprint_key: AT_REST_FINGERPRINT_KEY.to_vec(),
            include_fingerprint: false,
            chunk_bytes: CHUNK_BYTES,
            threads: 0,
        }
    }
}

impl fmt::Debug for ScanOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanOptions")
            .field("fingerprint_key", &"<hidden>")
            .field("include_fingerprint", &self.include_fingerprint)
            .field("chunk_bytes", &self.chunk_bytes)
            .field("threads", &self.threads)
            .finish()
    }
}

/// A path the scan could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// As given or as found while walking.
    pub path: PathBuf,
    /// The operating system's message.
    pub reason: String,
}

/// What a scan covered; print [`fmt::Display`] of it on stderr as the last line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    /// Text files scanned (entirely).
    pub files_scanned: u64,
    /// Binary files, symlinks met while walking, sockets, FIFOs and devices.
    pub files_skipped: u64,
    /// Bytes of the scanned files.
    pub bytes_scanned: u64,
    /// Rows written.
    pub findings: u64,
    /// Paths that could not be listed, opened or read; the scan went on without them.
    pub unreadable: Vec<Unreadable>,
    /// Paths skipped for a reason the operator should hear (counted in `files_skipped` too): not a regular
    /// file (a FIFO, a socket, a device), or changed since the walk listed it into a symlink or a path that
    /// leads out of the tree. Symlinks met by the walk itself are skipped silently, as documented.
    pub notes: Vec<Unreadable>,
}

impl fmt::Display for ScanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scanned={} skipped={} bytes={} findings={} unreadable={}",
            self.files_scanned,
            self.files_skipped,
            self.bytes_scanned,
            self.findings,
            self.unreadable.len()
        )
    }
}

/// Why a scan stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The tuning's custom detections or scanner switches are invalid.
    #[error("scanner configuration: {0}")]
    Config(String),
    /// Writing the results failed (a closed pipe, a full disk).
    #[error("writing scan output: {0}")]
    Output(#[from] io::Error),
    /// The CSV writer failed.
    #[error("writing CSV output: {0}")]
    Csv(#[from] csv::Error),
    /// The JSON writer failed.
    #[error("writing JSON output: {0}")]
    Json(#[from] serde_json::Error),
}

/// Scan `paths` (files or directories) and write one row per finding to `out`; see the module docs for what
/// is walked, skipped and reported. Uses [`AT_REST_FINGERPRINT_KEY`] and prints no fingerprints.
pub fn run(
    paths: &[PathBuf],
    format: ScanFormat,
    out: &mut dyn Write,
    tuning: &Tuning,
) -> Result<ScanSummary, ScanError> {
    run_with(paths, format, out, tuning, &ScanOptions::default())
}

/// [`run`] with explicit options. Files are scanned on [`ScanOptions::threads`] worker threads; rows are
/// written by the calling thread in walk order, so the output does not depend on the thread count.
pub fn run_with(
    paths: &[PathBuf],
    format: ScanFormat,
    out: &mut dyn Write,
    tuning: &Tuning,
    opts: &ScanOptions,
) -> Result<ScanSummary, ScanError> {
    let scanner = ContentScanner::new(tuning, &opts.fingerprint_key).map_err(ScanError::Config)?;
    let mut summary = ScanSummary::default();
    let mut files: Vec<Listed> = Vec::new();
    for root in paths {
        match fs::metadata(root) {
            Err(e) => summary.unreadable(root, &e),
            Ok(md) if md.is_dir() => {
                // The tree's real place: a root named on the command line is followed, its insides not.
                let real = fs::canonicalize(root).unwrap_or_else(|_| root.clone());
                let start = files.len();
                walk(root, &mut files, &mut summary);
                for f in &mut files[start..] {
                    f.root = Some(real.clone());
                }
            }
            Ok(md) if md.is_file() => files.push(Listed {
                path: root.clone(),
                root: None,
            }),
            Ok(md) => summary.note(root, not_regular(&md.file_type())),
        }
    }
    let mut sink = Sink::new(format, out, opts.include_fingerprint)?;
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
    .clamp(1, 64)
    .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let written = std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop, files, scanner) = (&next, &stop, &files, &scanner);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    if tx.send((i, scan_file(scanner, path, opts))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Results arrive in any order; hold the early ones until their turn.
        let mut pending: BTreeMap<usize, Outcome> = BTreeMap::new();
        let mut turn = 0usize;
        let mut result = Ok(());
        for (i, outcome) in rx.iter() {
            pending.insert(i, outcome);
            while let Some(outcome) = pending.remove(&turn) {
                if result.is_ok() {
                    result = summary.record(&files[turn].path, outcome, &mut sink);
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                turn += 1;
            }
        }
        result
    });
    written?;
    sink.finish()?;
    Ok(summary)
}

impl ScanSummary {
    fn unreadable(&mut self, path: &Path, e: &io::Error) {
        self.unreadable.push(Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        });
    }

    fn note(&mut self, path: &Path, reason: String) {
        self.files_skipped += 1;
        self.notes.push(Unreadable {
            path: path.to_path_buf(),
            reason,
        });
    }

    fn record(
        &mut self,
        path: &Path,
        outcome: Outcome,
        sink: &mut Sink<'_>,
    ) -> Result<(), ScanError> {
        match outcome {
            Outcome::Skipped => self.files_skipped += 1,
            Outcome::Refused(why) => self.note(path, why),
            Outcome::Unreadable(e) => self.unreadable(path, &e),
            Outcome::Scanned { bytes, rows } => {
                self.files_scanned += 1;
                self.bytes_scanned += bytes;
                if !rows.is_empty() {
                    sink.write(&sanitize(&path.to_string_lossy()), &rows)?;
                    self.findings += rows.len() as u64;
                }
            }
        }
        Ok(())
    }
}

/// Depth-first, names sorted, with an explicit stack so deep trees cannot overflow the call stack. Symlinks
/// met here are not followed.
fn walk(root: &Path, files: &mut Vec<Listed>, summary: &mut ScanSummary) {
    let mut stack: Vec<std::vec::IntoIter<(PathBuf, fs::FileType)>> = Vec::new();
    if let Some(entries) = list(root, summary) {
        stack.push(entries.into_iter());
    }
    while let Some(top) = stack.last_mut() {
        let Some((path, ft)) = top.next() else {
            stack.pop();
            continue;
        };
        if ft.is_dir() {
            if let Some(entries) = list(&path, summary) {
                stack.push(entries.into_iter());
            }
        } else if ft.is_file() {
            files.push(Listed { path, root: None });
        } else if ft.is_symlink() {
            summary.files_skipped += 1;
        } else {
            summary.note(&path, not_regular(&ft));
        }
    }
}

fn list(dir: &Path, summary: &mut ScanSummary) -> Option<Vec<(PathBuf, fs::FileType)>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            summary.unreadable(dir, &e);
            return None;
        }
    };
    let mut entries = Vec::new();
    for entry in rd {
        match entry.and_then(|e| Ok((e.path(), e.file_type()?))) {
            Ok(pair) => entries.push(pair),
            Err(e) => summary.unreadable(dir, &e),
        }
    }
    entries.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
    Some(entries)
}

/// Why a path that is not a regular file is skipped, naming what it is.
fn not_regular(ft: &fs::FileType) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_block_device() || ft.is_char_device() {
            "a device"
        } else if ft.is_dir() {
            "a directory"
        } else if ft.is_symlink() {
            "a symbolic link"
        } else {
            "something else"
        };
        format!("not a regular file ({kind})")
    }
    #[cfg(not(unix))]
    {
        let _ = ft;
        "not a regular file".to_string()
    }
}

/// A file to scan: its path, and the real path of the tree the walk found it in (`None` for a file named on
/// the command line, which is followed wherever it leads, like the roots).
struct Listed {
    path: PathBuf,
    root: Option<PathBuf>,
}

/// Open a listed file for reading as what the walk saw: without blocking (a FIFO put in its place would
/// wait for a writer for ever), without following a symlink at its place when it came from a walk, and
/// only if the handle is a regular file inside the tree. `Err` holds the outcome to report instead.
fn open_listed(entry: &Listed) -> Result<File, Outcome> {
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if entry.root.is_some() {
            libc::O_NOFOLLOW
        } else {
            0
        };
        opts.custom_flags(libc::O_NONBLOCK | nofollow);
    }
    let file = match opts.open(&entry.path) {
        Ok(f) => f,
        #[cfg(unix)]
        Err(e) if entry.root.is_some() && e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Outcome::Refused(
                "a symbolic link where the walk listed a file (not followed)".to_string(),
            ));
        }
        Err(e) => return Err(Outcome::Unreadable(e)),
    };
    // The handle's own type (fstat), not the path's: the path may have changed since.
    let md = file.metadata().map_err(Outcome::Unreadable)?;
    if !md.is_file() {
        return Err(Outcome::Refused(not_regular(&md.file_type())));
    }
    if let Some(root) = &entry.root {
        let real = real_path(&file, &entry.path).map_err(Outcome::Unreadable)?;
        if !real.starts_with(root) {
            return Err(Outcome::Refused(format!(
                "outside the scanned tree (it is {}, reached through a symbolic link)",
                real.display()
            )));
        }
    }
    Ok(file)
}

/// Where an open file really is: the kernel's name for the handle on Linux, else the path resolved now.
fn real_path(file: &File, path: &Path) -> io::Result<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let _ = path;
        fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        fs::canonicalize(path)
    }
}

/// One finding located in its file.
struct Row {
    line: u64,
    column: u64,
    finding: Finding,
}

/// What scanning one file gave.
enum Outcome {
    Scanned {
        bytes: u64,
        rows: Vec<Row>,
    },
    Skipped,
    /// Skipped, with the reason noted for the operator.
    Refused(String),
    Unreadable(io::Error),
}

fn scan_file(scanner: &ContentScanner, entry: &Listed, opts: &ScanOptions) -> Outcome {
    let mut file = match open_listed(entry) {
        Ok(f) => f,
        Err(outcome) => return outcome,
    };
    let chunk_bytes = opts.chunk_bytes.max(BINARY_SNIFF);
    let size = file.metadata().map_or(0, |m| m.len());
    let mut carry: Vec<u8> = Vec::new();
    let mut pos = Position {
        line: 1,
        col_base: 0,
    };
    let mut first = true;
    let mut bytes = 0u64;
    let mut rows = Vec::new();
    loop {
        let mut chunk = std::mem::take(&mut carry);
        chunk.reserve(
            chunk_bytes
                .min(usize::try_from(size).unwrap_or(usize::MAX))
                .saturating_sub(chunk.len())
                + 1,
        );
        let eof = match fill(&mut file, &mut chunk, chunk_bytes) {
            Ok(eof) => eof,
            Err(e) => return Outcome::Unreadable(e),
        };
        if first {
            first = false;
            if memchr::memchr(0, &chunk[..chunk.len().min(BINARY_SNIFF)]).is_some() {
                return Outcome::Skipped;
            }
        }
        if chunk.is_empty() {
            break;
        }
        let cut = if eof { chunk.len() } else { cut_point(&chunk) };
        carry = chunk.split_off(cut);
        bytes += chunk.len() as u64;
        // The strict check is SIMD-fast on valid text; only invalid text pays for the lossy decode.
        let text = match std::str::from_utf8(&chunk) {
            Ok(t) => Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(&chunk),
        };
        locate(&text, scanner.scan(&text), &pos, &mut rows);
        if eof && carry.is_empty() {
            break;
        }
        pos.advance(&text);
    }
    Outcome::Scanned { bytes, rows }
}

/// Line and column of each finding, walking the text once (findings come sorted by start).
fn locate(text: &str, findings: Vec<Finding>, pos: &Position, rows: &mut Vec<Row>) {
    let b = text.as_bytes();
    let (mut line, mut line_start, mut at) = (pos.line, 0usize, 0usize);
    for finding in findings {
        let start = finding.start.min(b.len());
        if start < at {
            line = pos.line;
            line_start = 0;
            at = 0;
        }
        let between = &b[at..start];
        if let Some(nl) = memchr::memrchr(b'\n', between) {
            line += count_newlines(between);
            line_start = at + nl + 1;
        }
        at = start;
        let mut column = text.get(line_start..start).map_or(0, |s| s.chars().count()) as u64 + 1;
        if line == pos.line {
            column += pos.col_base;
        }
        rows.push(Row {
            line,
            column,
            finding,
        });
    }
}

/// Read until `buf` holds `want` bytes or the file ends; `Ok(true)` at end of file.
fn fill(file: &mut File, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
    let need = want.saturating_sub(buf.len());
    let got = Read::by_ref(file).take(need as u64).read_to_end(buf)?;
    Ok(got < need)
}

/// Where to end a chunk that is not the file's last: after its last newline, else at a UTF-8 boundary.
fn cut_point(chunk: &[u8]) -> usize {
    if let Some(nl) = memchr::memrchr(b'\n', chunk) {
        return nl + 1;
    }
    // Step back over continuation bytes to the last character's first byte; cut before it if incomplete.
    let mut start = chunk.len();
    while start > 0 && chunk.len() - start < 4 && (chunk[start - 1] & 0xC0) == 0x80 {
        start -= 1;
    }
    let Some(&lead) = start.checked_sub(1).and_then(|i| chunk.get(i)) else {
        return chunk.len();
    };
    let width = match lead {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    };
    if start - 1 + width > chunk.len() && start > 1 {
        start - 1
    } else {
        chunk.len()
    }
}

/// A plain counting loop: the compiler vectorises it, and it beats stopping at every short line.
fn count_newlines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

/// Line of a chunk's first byte, and characters already on that line before the chunk (a cut mid-line).
struct Position {
    line: u64,
    col_base: u64,
}

impl Position {
    fn advance(&mut self, text: &str) {
        let b = text.as_bytes();
        let newlines = count_newlines(b);
        match memchr::memrchr(b'\n', b) {
            Some(nl) => {
                self.line += newlines;
                self.col_base = text[nl + 1..].chars().count() as u64;
            }
            None => self.col_base += text.chars().count() as u64,
        }
    }
}

#[derive(Serialize)]
struct JsonRow<'a> {
    path: &'a str,
    line: u64,
    column: u64,
    scanner: &'a str,
    redacted: &'a str,
    category: &'static str,
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<&'a str>,
}

enum Sink<'w> {
    Csv(Box<csv::Writer<&'w mut dyn Write>>),
    Json {
        out: BufWriter<&'w mut dyn Write>,
        fingerprints: bool,
    },
}

/// Prefix cells a spreadsheet would evaluate as a formula (DESIGN §4's export rule).
fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

impl<'w> Sink<'w> {
    fn new(
        format: ScanFormat,
        out: &'w mut dyn Write,
        fingerprints: bool,
    ) -> Result<Self, ScanError> {
        Ok(match format {
            ScanFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                w.write_record(["path", "line", "column", "scanner", "redacted"])?;
                Sink::Csv(Box::new(w))
            }
            ScanFormat::Json => Sink::Json {
                out: BufWriter::new(out),
                fingerprints,
            },
        })
    }

    fn write(&mut self, path: &str, rows: &[Row]) -> Result<(), ScanError> {
        for Row {
            line,
            column,
            finding: f,
        } in rows
        {
            match self {
                Sink::Csv(w) => {
                    let (l, c) = (line.to_string(), column.to_string());
                    w.write_record([
                        neutralise(path).as_ref(),
                        &l,
                        &c,
                        neutralise(&f.scanner).as_ref(),
                        neutralise(&f.redacted).as_ref(),
                    ])?;
                }
                Sink::Json { out, fingerprints } => {
                    let row = JsonRow {
                        path,
                        line: *line,
                        column: *column,
                        scanner: &f.scanner,
                        redacted: &f.redacted,
                        category: f.category.as_str(),
                        severity: f.severity.as_str(),
                        fingerprint: fingerprints.then_some(f.fingerprint.as_str()),
                    };
                    serde_json::to_writer(&mut *out, &row)?;
                    out.write_all(b"\n")?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), ScanError> {
        match self {
            Sink::Csv(mut w) => w.flush()?,
            Sink::Json { mut out, .. } => out.flush()?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_dir(dir: &Path, format: ScanFormat, opts: &ScanOptions) -> (String, ScanSummary) {
        let mut out = Vec::new();
        let summary = run_with(
            &[dir.to_path_buf()],
            format,
            &mut out,
            &Tuning::default(),
            opts,
        )
        .expect("scan runs");
        (String::from_utf8(out).expect("utf-8 output"), summary)
    }

    #[test]
    fn csv_rows_positions_and_skips() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(
            dir.path().join("a.txt"),
            "first line\n  é key AKIAZ3MSJV4WWNKWW5FP\n",
        )
        .expect("write");
        fs::write(dir.path().join("bin.dat"), b"AKIAZ3MSJV4WWNKWW5FP\0\0").expect("write");
        fs::create_dir(dir.path().join("sub")).expect("mkdir");
        fs::write(dir.path().join("sub/=evil.txt"), "ssn: 536-22-8417").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).expect("symlink");
        let (out, s) = scan_dir(dir.path(), ScanFormat::Csv, &ScanOptions::default());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "path,line,column,scanner,redacted");
        assert!(
            lines[1]
                .ends_with("a.txt,2,9,aws-access-key-id,\"AKIA…[aws-access-key-id, 20 chars]\""),
            "{out}"
        );
        assert!(
            lines[2].contains("sub/=evil.txt,1,6,us-ssn,\"[us-ssn, 9 chars]\""),
            "{out}"
        );
        assert_eq!(lines.len(), 3);
        assert_eq!((s.files_scanned, s.findings), (2, 2));
        assert_eq!(s.files_skipped, if cfg!(unix) { 2 } else { 1 });
        assert!(!out.contains("WWNKWW5FP"));
    }

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(neutralise("=1+1"), "'=1+1");
        assert_eq!(neutralise("-----BEGIN"), "'-----BEGIN");
        assert_eq!(neutralise("path"), "path");
    }

    #[test]
    fn small_chunks_keep_lines_and_columns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut text = String::new();
        for i in 0..500 {
            text.push_str(&format!("line {i} padding padding padding\n"));
        }
        text.push_str("xx ghp_aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5\n");
        fs::write(dir.path().join("big.txt"), &text).expect("write");
        let opts = ScanOptions {
            chunk_bytes: 8 << 10,
            include_fingerprint: true,
            ..ScanOptions::default()
        };
        let (out, s) = scan_dir(dir.path(), ScanFormat::Json, &opts);
        let row: serde_json::Value = serde_json::from_str(out.trim()).expect("one json row");
        assert_eq!(row["line"], 501);
        assert_eq!(row["column"], 4);
        assert_eq!(row["scanner"], "github-token");
        assert_eq!(row["fingerprint"].as_str().map(str::len), Some(32));
        assert_eq!(s.bytes_scanned, text.len() as u64);
    }

    #[test]
    fn missing_path_is_reported_and_scan_goes_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("ok.txt"), "nothing here").expect("write");
        let mut out = Vec::new();
        let s = run(
            &[dir.path().join("missing"), dir.path().join("ok.txt")],
            ScanFormat::Csv,
            &mut out,
            &Tuning::default(),
        )
        .expect("runs");
        assert_eq!(s.unreadable.len(), 1);
        assert_eq!(s.files_scanned, 1);
        assert!(s.to_string().starts_with("scanned=1 skipped=0"));
    }

    /// Run `scan_file` on `entry` as if the walk had listed it, failing instead of hanging.
    fn scan_listed(entry: Listed) -> Outcome {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let scanner =
                ContentScanner::new(&Tuning::default(), AT_REST_FINGERPRINT_KEY).expect("scanner");
            let _ = tx.send(scan_file(&scanner, &entry, &ScanOptions::default()));
        });
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .expect("scan_file returned instead of blocking")
    }

    fn walked(root: &Path, path: PathBuf) -> Listed {
        Listed {
            path,
            root: Some(fs::canonicalize(root).expect("root")),
        }
    }

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo runs");
        assert!(ok.success());
    }

    #[cfg(unix)]
    #[test]
    fn a_file_swapped_for_a_fifo_is_skipped_with_a_note_not_opened_for_ever() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("notes.txt");
        mkfifo(&fifo);
        match scan_listed(walked(dir.path(), fifo)) {
            Outcome::Refused(why) => assert!(why.contains("not a regular file"), "{why}"),
            _ => panic!("a FIFO is refused with a reason"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_swapped_for_a_symlink_is_not_followed() {
        let outside = tempfile::tempdir().expect("tempdir");
        fs::write(outside.path().join("secret.txt"), "ssn: 536-22-8417").expect("write");
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("notes.txt");
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), &link).expect("symlink");
        match scan_listed(walked(dir.path(), link)) {
            Outcome::Refused(why) => assert!(why.contains("symbolic link"), "{why}"),
            _ => panic!("a symlink is refused, not read"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_swapped_for_a_symlink_out_of_the_tree_is_not_read() {
        let outside = tempfile::tempdir().expect("tempdir");
        fs::write(outside.path().join("a.txt"), "ssn: 536-22-8417").expect("write");
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("sub")).expect("symlink");
        match scan_listed(walked(dir.path(), dir.path().join("sub/a.txt"))) {
            Outcome::Refused(why) => assert!(why.contains("outside"), "{why}"),
            _ => panic!("a file reached through a swapped directory is refused"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn fifos_in_the_tree_are_skipped_with_a_note_and_files_beside_them_scanned() {
        let dir = tempfile::tempdir().expect("tempdir");
        mkfifo(&dir.path().join("pipe"));
        fs::write(dir.path().join("z.txt"), "ssn: 536-22-8417").expect("write");
        let (tx, rx) = mpsc::channel();
        let root = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(scan_dir(&root, ScanFormat::Csv, &ScanOptions::default()));
        });
        let (out, s) = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the scan finished");
        assert_eq!(out.lines().count(), 2, "{out}");
        assert_eq!((s.files_scanned, s.files_skipped), (1, 1));
        assert_eq!(s.notes.len(), 1, "{:?}", s.notes);
        assert!(s.notes[0].path.ends_with("pipe"));
        assert!(s.notes[0].reason.contains("FIFO"), "{:?}", s.notes);
    }

    #[test]
    fn cut_points() {
        assert_eq!(cut_point(b"ab\ncd"), 3);
        assert_eq!(cut_point("abé".as_bytes()), 4);
        assert_eq!(cut_point(&"abé".as_bytes()[..3]), 2);
    }
}
