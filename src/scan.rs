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
//! - **Errors**: an unreadable path is recorded in [`ScanSummary::unreadable`] and the scan goes on; only a
//!   failure to write the output ends it.

use std::borrow::Cow;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

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
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self { fingerprint_key: AT_REST_FINGERPRINT_KEY.to_vec(), include_fingerprint: false, chunk_bytes: CHUNK_BYTES }
    }
}

impl fmt::Debug for ScanOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanOptions")
            .field("fingerprint_key", &"<hidden>")
            .field("include_fingerprint", &self.include_fingerprint)
            .field("chunk_bytes", &self.chunk_bytes)
            .finish()
    }
}

/// A path the scan could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub path: PathBuf,
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
pub fn run(paths: &[PathBuf], format: ScanFormat, out: &mut dyn Write, tuning: &Tuning) -> Result<ScanSummary, ScanError> {
    run_with(paths, format, out, tuning, &ScanOptions::default())
}

/// [`run`] with explicit options.
pub fn run_with(
    paths: &[PathBuf],
    format: ScanFormat,
    out: &mut dyn Write,
    tuning: &Tuning,
    opts: &ScanOptions,
) -> Result<ScanSummary, ScanError> {
    let scanner = ContentScanner::new(tuning, &opts.fingerprint_key).map_err(ScanError::Config)?;
    let mut sink = Sink::new(format, out, opts.include_fingerprint)?;
    let mut summary = ScanSummary::default();
    let mut job = Job { scanner: &scanner, opts, summary: &mut summary, sink: &mut sink };
    for root in paths {
        match fs::metadata(root) {
            Err(e) => job.unreadable(root, &e),
            Ok(md) if md.is_dir() => job.walk(root)?,
            Ok(md) if md.is_file() => job.file(root)?,
            Ok(_) => job.summary.files_skipped += 1,
        }
    }
    sink.finish()?;
    Ok(summary)
}

struct Job<'a, 'w> {
    scanner: &'a ContentScanner,
    opts: &'a ScanOptions,
    summary: &'a mut ScanSummary,
    sink: &'a mut Sink<'w>,
}

impl Job<'_, '_> {
    fn unreadable(&mut self, path: &Path, e: &io::Error) {
        self.summary.unreadable.push(Unreadable { path: path.to_path_buf(), reason: e.to_string() });
    }

    /// Depth-first, names sorted, with an explicit stack so deep trees cannot overflow the call stack.
    fn walk(&mut self, root: &Path) -> Result<(), ScanError> {
        let mut stack: Vec<std::vec::IntoIter<(PathBuf, fs::FileType)>> = Vec::new();
        if let Some(entries) = self.list(root) {
            stack.push(entries.into_iter());
        }
        while let Some(top) = stack.last_mut() {
            let Some((path, ft)) = top.next() else {
                stack.pop();
                continue;
            };
            if ft.is_dir() {
                if let Some(entries) = self.list(&path) {
                    stack.push(entries.into_iter());
                }
            } else if ft.is_file() {
                self.file(&path)?;
            } else {
                self.summary.files_skipped += 1;
            }
        }
        Ok(())
    }

    fn list(&mut self, dir: &Path) -> Option<Vec<(PathBuf, fs::FileType)>> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.unreadable(dir, &e);
                return None;
            }
        };
        let mut entries = Vec::new();
        for entry in rd {
            match entry.and_then(|e| Ok((e.path(), e.file_type()?))) {
                Ok(pair) => entries.push(pair),
                Err(e) => self.unreadable(dir, &e),
            }
        }
        entries.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
        Some(entries)
    }

    fn file(&mut self, path: &Path) -> Result<(), ScanError> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.unreadable(path, &e);
                return Ok(());
            }
        };
        let chunk_bytes = self.opts.chunk_bytes.max(BINARY_SNIFF);
        let display = sanitize(&path.to_string_lossy());
        let size = file.metadata().map_or(0, |m| m.len());
        let mut carry: Vec<u8> = Vec::with_capacity(size.min(chunk_bytes as u64) as usize + 1);
        let mut pos = Position { line: 1, col_base: 0 };
        let mut first = true;
        let mut bytes = 0u64;
        loop {
            let mut chunk = std::mem::take(&mut carry);
            chunk.reserve(chunk_bytes.min(size as usize).saturating_sub(chunk.len()) + 1);
            let eof = match fill(&mut file, &mut chunk, chunk_bytes) {
                Ok(eof) => eof,
                Err(e) => {
                    self.unreadable(path, &e);
                    return Ok(());
                }
            };
            if first {
                first = false;
                if memchr::memchr(0, &chunk[..chunk.len().min(BINARY_SNIFF)]).is_some() {
                    self.summary.files_skipped += 1;
                    return Ok(());
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
            let findings = self.scanner.scan(&text);
            self.summary.findings += self.sink.write(&display, &text, &findings, &pos)? as u64;
            pos.advance(&text);
            if eof && carry.is_empty() {
                break;
            }
        }
        self.summary.files_scanned += 1;
        self.summary.bytes_scanned += bytes;
        Ok(())
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
    let Some(&lead) = start.checked_sub(1).and_then(|i| chunk.get(i)) else { return chunk.len() };
    let width = match lead {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    };
    if start - 1 + width > chunk.len() && start > 1 { start - 1 } else { chunk.len() }
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
    Csv(csv::Writer<&'w mut dyn Write>),
    Json { out: BufWriter<&'w mut dyn Write>, fingerprints: bool },
}

/// Prefix cells a spreadsheet would evaluate as a formula (DESIGN §4's export rule).
fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { Cow::Owned(format!("'{cell}")) } else { Cow::Borrowed(cell) }
}

impl<'w> Sink<'w> {
    fn new(format: ScanFormat, out: &'w mut dyn Write, fingerprints: bool) -> Result<Self, ScanError> {
        Ok(match format {
            ScanFormat::Csv => {
                let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
                w.write_record(["path", "line", "column", "scanner", "redacted"])?;
                Sink::Csv(w)
            }
            ScanFormat::Json => Sink::Json { out: BufWriter::new(out), fingerprints },
        })
    }

    /// Write the findings of one chunk; line and column are computed here, walking the text once.
    fn write(&mut self, path: &str, text: &str, findings: &[Finding], pos: &Position) -> Result<usize, ScanError> {
        let b = text.as_bytes();
        let (mut line, mut line_start, mut at) = (pos.line, 0usize, 0usize);
        for f in findings {
            let start = f.start.min(b.len());
            if start < at {
                // Findings come sorted; an earlier start only happens for overlapping custom matches.
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
                        line,
                        column,
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
        Ok(findings.len())
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
        let summary =
            run_with(&[dir.to_path_buf()], format, &mut out, &Tuning::default(), opts).expect("scan runs");
        (String::from_utf8(out).expect("utf-8 output"), summary)
    }

    #[test]
    fn csv_rows_positions_and_skips() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("a.txt"), "first line\n  é key AKIAZ3MSJV4WWNKWW5FP\n").expect("write");
        fs::write(dir.path().join("bin.dat"), b"AKIAZ3MSJV4WWNKWW5FP\0\0").expect("write");
        fs::create_dir(dir.path().join("sub")).expect("mkdir");
        fs::write(dir.path().join("sub/=evil.txt"), "ssn: 536-22-8417").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).expect("symlink");
        let (out, s) = scan_dir(dir.path(), ScanFormat::Csv, &ScanOptions::default());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "path,line,column,scanner,redacted");
        assert!(lines[1].ends_with("a.txt,2,9,aws-access-key-id,\"AKIA…[aws-access-key-id, 20 chars]\""), "{out}");
        assert!(lines[2].contains("sub/=evil.txt,1,6,us-ssn,\"[us-ssn, 9 chars]\""), "{out}");
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
        let opts = ScanOptions { chunk_bytes: 8 << 10, include_fingerprint: true, ..ScanOptions::default() };
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
