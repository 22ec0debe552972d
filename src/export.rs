//! Alert exports (DESIGN §4): CSV in the contract's column order with RFC 4180 quoting, formula-injection
//! neutralised and control characters replaced, or JSON lines with every field. `vigil export` and the UI's
//! export (through the engine) both call [`export_alerts`] and [`ExportFile`], so both give the same
//! rows into the same kind of file.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::SecondsFormat;
use ulid::Ulid;

use crate::model::{Alert, AlertFilter};
use crate::store::{Store, StoreError};

/// Which alerts an export writes.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportSelection {
    /// Every alert the filter matches, paged from the store's indexes (never all in memory).
    Filter(AlertFilter),
    /// These alerts (the UI's selection), in this order; ids no longer stored are skipped.
    Ids(Vec<Ulid>),
}

/// Why an export stopped. Says which file; never holds alert content.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output file is there and overwriting was not asked for.
    #[error("{} exists; use --force to overwrite it", .0.display())]
    Exists(PathBuf),
    /// The output file cannot be created or put in place.
    #[error("cannot write {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing the rows failed (disk full, closed pipe).
    #[error("cannot write the export: {0}")]
    Write(#[source] std::io::Error),
    /// Reading the alerts failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExportError {
    /// Whether the reader went away (`| head`): the reader's choice, not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Write(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// An export being written: a temporary file beside the target, which [`ExportFile::commit`] puts in the
/// target's place.
///
/// Why not open the target: a symlink planted at the target would be followed (or, with `O_NOFOLLOW`,
/// would make `--force` fail), a reader could see half an export, and an export that fails would leave one
/// behind. The temporary file is created owner-only (alerts name people and what they did) and exclusively
/// (`O_EXCL`: nothing planted under its name is used); the rename replaces whatever is at the target, a
/// symlink included, and never writes through it. Without `overwrite` an existing target (a symlink too) is
/// refused, also when it appears while the export is written. Dropped without a commit, the temporary file
/// is removed.
pub struct ExportFile {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    overwrite: bool,
    committed: bool,
}

impl ExportFile {
    /// Start an export to `path`; an existing file there is refused unless `overwrite`.
    pub fn create(path: &Path, overwrite: bool) -> Result<Self, ExportError> {
        let open_err = |source| ExportError::Open {
            path: path.to_path_buf(),
            source,
        };
        if !overwrite && std::fs::symlink_metadata(path).is_ok() {
            return Err(ExportError::Exists(path.to_path_buf()));
        }
        let name = path.file_name().ok_or_else(|| {
            open_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a file name",
            ))
        })?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut attempt = 0;
        loop {
            let mut temp_name = std::ffi::OsString::from(".");
            temp_name.push(name);
            temp_name.push(format!(
                ".vigil-{}-{:08x}.part",
                std::process::id(),
                rand::random::<u32>()
            ));
            let temp = dir.join(temp_name);
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
            }
            match opts.open(&temp) {
                Ok(file) => {
                    return Ok(Self {
                        file,
                        temp,
                        target: path.to_path_buf(),
                        overwrite,
                        committed: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                    attempt += 1;
                }
                Err(e) => return Err(open_err(e)),
            }
        }
    }

    /// Make the export durable and put it at the target: replacing what is there when overwriting
    /// (`rename`), else only if nothing is (`link`, which fails on any existing name).
    pub fn commit(mut self) -> Result<(), ExportError> {
        let open_err = |source| ExportError::Open {
            path: self.target.clone(),
            source,
        };
        self.file.sync_all().map_err(ExportError::Write)?;
        if self.overwrite {
            std::fs::rename(&self.temp, &self.target).map_err(open_err)?;
        } else {
            match std::fs::hard_link(&self.temp, &self.target) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&self.temp);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(ExportError::Exists(self.target.clone()));
                }
                // A file system without hard links: check, then rename (a target appearing in between is
                // replaced; it was absent when the export started and when it ended).
                Err(_) if std::fs::symlink_metadata(&self.target).is_ok() => {
                    return Err(ExportError::Exists(self.target.clone()));
                }
                Err(_) => std::fs::rename(&self.temp, &self.target).map_err(open_err)?,
            }
        }
        self.committed = true;
        Ok(())
    }
}

impl Write for ExportFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Drop for ExportFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Write the selected alerts to `out` in `format`, flushing at the end; returns the rows written.
pub fn export_alerts<W: Write>(
    store: &Store,
    selection: &ExportSelection,
    out: W,
    format: ExportFormat,
) -> Result<u64, ExportError> {
    let mut exporter = Exporter::new(out, format).map_err(ExportError::Write)?;
    match selection {
        ExportSelection::Ids(ids) => {
            for id in ids {
                if let Some(a) = store.alert(*id)? {
                    exporter.write(&a).map_err(ExportError::Write)?;
                }
            }
        }
        ExportSelection::Filter(filter) => {
            let mut cursor = None;
            loop {
                let page = store.alerts_page(filter, cursor, 1000)?;
                for a in &page.alerts {
                    exporter.write(a).map_err(ExportError::Write)?;
                }
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
    }
    let rows = exporter.rows();
    exporter.finish().map_err(ExportError::Write)?;
    Ok(rows)
}

/// The CSV columns: DESIGN §4's nineteen in contract order, then four an analyst needs to hand the
/// export on without vigil at hand — see [`Exporter::write`] for what each holds. New columns only ever
/// go at the end, so a script reading the first nineteen by position keeps working.
pub const CSV_COLUMNS: [&str; 23] = [
    "id",
    "created",
    "time_start",
    "time_end",
    "detection",
    "title",
    "severity",
    "status",
    "assignee",
    "product",
    "site",
    "actor_id",
    "actor_name",
    "actor_email",
    "actor_ip",
    "actor_country",
    "subject",
    "count",
    "summary",
    "notes",
    "matches",
    "evidence_count",
    "link",
];

/// Most characters of the `notes` cell: spreadsheets hold at most 32,767 characters in a cell and break
/// the row beyond it, so a longer history is cut, saying how much was left out.
pub const NOTES_CELL_MAX: usize = 32_000;

/// Every note of an alert in one cell, oldest first: `time author: text`, joined with ` | `. Newlines
/// inside a note become single spaces (a cell is one line), and the whole is cut at [`NOTES_CELL_MAX`].
pub fn notes_cell(a: &Alert) -> String {
    let joined = a
        .notes
        .iter()
        .map(|n| {
            let text = n
                .text
                .split(['\r', '\n'])
                .filter(|l| !l.trim().is_empty())
                .map(str::trim_end)
                .collect::<Vec<_>>()
                .join(" ");
            format!(
                "{} {}: {text}",
                n.time.to_rfc3339_opts(SecondsFormat::Secs, true),
                n.author
            )
        })
        .collect::<Vec<_>>()
        .join(" | ");
    let total = joined.chars().count();
    if total <= NOTES_CELL_MAX {
        return joined;
    }
    let mut cut: String = joined.chars().take(NOTES_CELL_MAX).collect();
    cut.push_str(&format!("… ({} more characters)", total - NOTES_CELL_MAX));
    cut
}

/// The content-scanning matches of an alert in one cell: the redacted form and the scanner kind, joined
/// with ` | ` (`AKIA…[aws-access-key-id, 20 chars] (aws-access-key-id)`). The alert holds only redacted
/// forms and fingerprints, never a secret, and the fingerprint (a keyed hash) is left out: it means
/// nothing outside this store.
pub fn matches_cell(a: &Alert) -> String {
    a.matches
        .iter()
        .map(|m| format!("{} ({})", m.redacted, m.kind))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Where a reader of the export can look at what the alert is about. Alerts carry no URL field of their
/// own (the content URL stays on the evidence events, which an export does not read), so: the subject
/// when it is an `http(s)` URL; else the site — as given when it is a URL, `https://HOST` when it is a
/// host name, and `https://NAME.atlassian.net` for a bare Atlassian cloud site name (what the audit log's
/// `siteName` holds); else empty.
pub fn alert_link(a: &Alert) -> String {
    let is_url = |s: &str| {
        let l = s.to_ascii_lowercase();
        (l.starts_with("https://") || l.starts_with("http://")) && !s.contains(char::is_whitespace)
    };
    if let Some(subject) = a.subject.as_deref().map(str::trim)
        && is_url(subject)
    {
        return subject.to_string();
    }
    match a.site.as_deref().map(str::trim) {
        Some(site) if is_url(site) => site.to_string(),
        Some(site)
            if !site.is_empty()
                && site
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') =>
        {
            if site.contains('.') {
                format!("https://{site}")
            } else {
                format!("https://{site}.atlassian.net")
            }
        }
        _ => String::new(),
    }
}

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Json,
}

/// A spreadsheet treats a cell starting with `=`, `+`, `-`, `@`, tab or CR as a formula; prefix those with `'`
/// so an attacker-chosen page title cannot run one on the analyst's machine. Spreadsheets skip leading blanks
/// and read fullwidth signs as the ASCII ones, so the sign is looked for behind any run of whitespace (NBSP,
/// ideographic space…) and invisible characters (zero-width space, BOM), and `＝`, `＋`, `－`, `＠` count too.
pub fn neutralise_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['\t', '\r']) {
        return format!("'{cell}").into();
    }
    let first = cell
        .chars()
        .find(|c| !(c.is_whitespace() || is_invisible(*c)));
    match first {
        Some(
            '=' | '+' | '-' | '@' | '\u{ff1d}' | '\u{ff0b}' | '\u{ff0d}' | '\u{ff20}' | '\u{fe66}'
            | '\u{fe62}' | '\u{fe63}' | '\u{fe6b}' | '\u{2212}',
        ) => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Characters that show nothing but change what a reader sees: zero-width spaces and joiners, direction
/// marks, embeddings, overrides and isolates, the BOM, the word joiner.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
    )
}

/// One CSV cell as written: formula neutralised (decided on the text as given), then every C0/C1 control
/// (newlines and tabs included: a cell is one line, and a raw ESC or BEL would drive the terminal of whoever
/// `cat`s the file) and every other invisible character replaced by U+FFFD, so what the file shows is what it
/// holds. A bidi control becomes the marker naming it (`⟨RLO⟩`), as on screen: the reader of a report sees
/// that a name was made to read backwards, not only that something was there.
pub fn csv_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    let cell = neutralise_formula(cell);
    if !cell.chars().any(|c| c.is_control() || is_invisible(c)) {
        return cell;
    }
    let mut out = String::with_capacity(cell.len() + 8);
    for c in cell.chars() {
        match crate::model::text::bidi_marker(c) {
            Some(m) => out.push_str(m),
            None if c.is_control() || is_invisible(c) => out.push('\u{fffd}'),
            None => out.push(c),
        }
    }
    out.into()
}

/// Streams alerts to a writer in one format; `finish` flushes.
pub struct Exporter<W: Write> {
    format: ExportFormat,
    csv: Option<csv::Writer<W>>,
    json: Option<W>,
    rows: u64,
}

impl<W: Write> Exporter<W> {
    /// Start an export; CSV writes its header at once.
    pub fn new(out: W, format: ExportFormat) -> std::io::Result<Self> {
        match format {
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                w.write_record(CSV_COLUMNS).map_err(std::io::Error::other)?;
                Ok(Self {
                    format,
                    csv: Some(w),
                    json: None,
                    rows: 0,
                })
            }
            ExportFormat::Json => Ok(Self {
                format,
                csv: None,
                json: Some(out),
                rows: 0,
            }),
        }
    }

    /// Write one alert. CSV: the [`CSV_COLUMNS`], each cell through [`csv_cell`] (formulas neutralised,
    /// controls replaced) — the added `notes` ([`notes_cell`]), `matches` ([`matches_cell`]),
    /// `evidence_count` (the event ids kept as evidence, at most [`Alert::EVIDENCE_CAP`]; `count` says how
    /// many activities were grouped) and `link` ([`alert_link`]) too. JSON: the alert as stored, one per line.
    pub fn write(&mut self, a: &Alert) -> std::io::Result<()> {
        self.rows += 1;
        match self.format {
            ExportFormat::Csv => {
                let t = |t: &chrono::DateTime<chrono::Utc>| {
                    t.to_rfc3339_opts(SecondsFormat::Millis, true)
                };
                let row: [String; 23] = [
                    a.id.to_string(),
                    t(&a.created),
                    t(&a.time_start),
                    a.time_end.as_ref().map(t).unwrap_or_default(),
                    a.detection.to_string(),
                    a.title.clone(),
                    a.severity.to_string(),
                    a.status.to_string(),
                    a.assignee.clone().unwrap_or_default(),
                    a.product.clone().unwrap_or_default(),
                    a.site.clone().unwrap_or_default(),
                    a.actor.id.clone(),
                    a.actor.name.clone().unwrap_or_default(),
                    a.actor.email.clone().unwrap_or_default(),
                    a.actor.ip.clone().unwrap_or_default(),
                    a.actor.country.clone().unwrap_or_default(),
                    a.subject.clone().unwrap_or_default(),
                    a.count.to_string(),
                    a.summary(),
                    notes_cell(a),
                    matches_cell(a),
                    a.evidence.len().to_string(),
                    alert_link(a),
                ];
                let w = self
                    .csv
                    .as_mut()
                    .ok_or_else(|| std::io::Error::other("exporter closed"))?;
                w.write_record(row.iter().map(|c| csv_cell(c).into_owned()))
                    .map_err(std::io::Error::other)
            }
            ExportFormat::Json => {
                let w = self
                    .json
                    .as_mut()
                    .ok_or_else(|| std::io::Error::other("exporter closed"))?;
                serde_json::to_writer(&mut *w, a)?;
                w.write_all(b"\n")
            }
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flush and hand back the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        match self.format {
            ExportFormat::Csv => {
                let w = self
                    .csv
                    .take()
                    .ok_or_else(|| std::io::Error::other("exporter closed"))?;
                w.into_inner()
                    .map_err(|e| std::io::Error::other(e.to_string()))
            }
            ExportFormat::Json => {
                let mut w = self
                    .json
                    .take()
                    .ok_or_else(|| std::io::Error::other("exporter closed"))?;
                w.flush()?;
                Ok(w)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_replacement_characters_and_bidi_controls_markers() {
        let hostile = "Deploy\x1b]0;pwned\x07 \0notes\u{9b}2J\u{202e}txt.exe\u{2066}\u{200b}\u{feff}\r\n\tend\x7f";
        let cell = csv_cell(hostile);
        assert!(
            !cell.chars().any(|c| c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')),
            "{cell:?}"
        );
        assert_eq!(
            cell,
            "Deploy\u{fffd}]0;pwned\u{fffd} \u{fffd}notes\u{fffd}2J⟨RLO⟩txt.exe⟨LRI⟩\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}end\u{fffd}"
        );
        assert_eq!(csv_cell("Ana Admin — Zürich"), "Ana Admin — Zürich");
    }

    #[test]
    fn formulas_behind_blanks_or_in_fullwidth_are_prefixed() {
        for bad in [
            " =1+1",
            "   @SUM(A1)",
            "\u{a0}=HYPERLINK(\"x\")",
            "\u{200b}=1",
            "\u{feff}+1",
            "\u{3000}-1",
            "\u{ff1d}HYPERLINK(\"x\")",
            "\u{ff0b}1",
            "\u{ff0d}1",
            "\u{ff20}SUM(A1)",
            " \u{ff1d}1",
            "\t=1",
        ] {
            assert!(csv_cell(bad).starts_with('\''), "{bad:?}");
        }
        for fine in [" plain", "a=b", "\u{a0}text", "x-1"] {
            assert!(!csv_cell(fine).starts_with('\''), "{fine:?}");
        }
    }

    #[test]
    fn formula_cells_are_prefixed() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise_formula(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(neutralise_formula("Deploy notes"), "Deploy notes");
        assert_eq!(neutralise_formula(""), "");
    }
}
