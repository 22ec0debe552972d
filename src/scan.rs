//! `vigil scan`: the content scanners of [`crate::detect::content`] run over files at rest.
//!
//! Decisions, so operators know what a clean result means:
//! - **Walk**: directories recursively, entries in byte order of their names, so output is reproducible.
//!   Nothing is skipped by name (no `.gitignore` logic, hidden files included).
//! - **Symlinks**: a path named on the command line is followed (like `find -H` and ripgrep); a symlink met
//!   while walking is never followed and counts as skipped, so the scan cannot leave the tree or loop.
//!   Sockets, FIFOs and devices are skipped too (opening a FIFO would block).
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
    let mut files: Vec<PathBuf> = Vec::new();
    for root in paths {
        match fs::metadata(root) {
            Err(e) => summary.unreadable(root, &e),
            Ok(md) if md.is_dir() => walk(root, &mut files, &mut summary),
            Ok(md) if md.is_file() => files.push(root.clone()),
            Ok(_) => summary.files_skipped += 1,
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
                    result = summary.record(&files[turn], outcome, &mut sink);
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

    fn record(
        &mut self,
        path: &Path,
        outcome: Outcome,
        sink: &mut Sink<'_>,
    ) -> Result<(), ScanError> {
        match outcome {
            Outcome::Skipped => self.files_skipped += 1,
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
fn walk(root: &Path, files: &mut Vec<PathBuf>, summary: &mut ScanSummary) {
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
            files.push(path);
        } else {
            summary.files_skipped += 1;
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

/// One finding located in its file.
struct Row {
    line: u64,
    column: u64,
    finding: Finding,
}

/// What scanning one file gave.
enum Outcome {
    Scanned { bytes: u64, rows: Vec<Row> },
    Skipped,
    Unreadable(io::Error),
}

fn scan_file(scanner: &ContentScanner, path: &Path, opts: &ScanOptions) -> Outcome {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return Outcome::Unreadable(e),
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

    #[test]
    fn cut_points() {
        assert_eq!(cut_point(b"ab\ncd"), 3);
        assert_eq!(cut_point("abé".as_bytes()), 4);
        assert_eq!(cut_point(&"abé".as_bytes()[..3]), 2);
    }
}
