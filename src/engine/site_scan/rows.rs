//! From an item's text to output rows: scan each field, give each finding a stable id, redact the title
//! when it holds a finding, and write the rows as CSV or JSON lines.

use std::io::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Item, OutputFormat};
use crate::detect::content::{ContentScanner, Finding};
use crate::export::csv_cell;
use crate::model::text::{sanitize, truncate};

/// Characters of a title, container or link kept in a row.
const TITLE_MAX: usize = 200;
const CONTAINER_MAX: usize = 100;
const LINK_MAX: usize = 2000;

/// The output columns, in order.
pub const COLUMNS: [&str; 8] = [
    "finding_id",
    "detection",
    "app",
    "container",
    "title",
    "link",
    "redacted",
    "fingerprint",
];

/// One finding as printed (and as kept in the findings file until the scan ends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// Stable across runs: a hash of the site, app, item id, field, scanner and fingerprint.
    pub finding_id: String,
    /// The scanner that found it (`aws-access-key-id`, `payment-card`, `custom:<slug>`…).
    pub detection: String,
    /// `confluence` or `jira`.
    pub app: String,
    /// Space key or project key.
    pub container: String,
    /// The page's, post's or work item's title, with any finding in it replaced by its redacted form.
    pub title: String,
    /// Where to see it: the page, or the work item (its comment when it is in one).
    pub link: String,
    /// At most four leading characters, the scanner and the length.
    pub redacted: String,
    /// Keyed HMAC of the secret (the engine's private key).
    pub fingerprint: String,
}

/// A finding and the field it is in, for alerts.
pub(super) struct Found {
    pub field: String,
    pub finding: Finding,
}

/// `finding_id`: hex of the first 16 bytes of SHA-256 over the finding's place and fingerprint.
pub fn finding_id(
    site: &str,
    app: &str,
    item: &str,
    field: &str,
    detection: &str,
    fingerprint: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"vigil-site-scan:v1");
    for part in [site, app, item, field, detection, fingerprint] {
        h.update([0u8]);
        h.update(part.as_bytes());
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `text` with the spans of `findings` replaced by their redacted forms (overlaps: the first one wins).
fn redact_spans(text: &str, findings: &[&Finding]) -> String {
    let mut spans: Vec<&Finding> = findings.to_vec();
    spans.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0usize;
    for f in spans {
        if f.start < at || f.end > text.len() || f.start > f.end {
            continue;
        }
        let (Some(before), true) = (text.get(at..f.start), text.is_char_boundary(f.end)) else {
            continue;
        };
        out.push_str(before);
        out.push_str(&f.redacted);
        at = f.end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

/// Scan every field of `item`: its rows (one per finding id) and its findings by field.
pub(super) fn scan_item(
    scanner: &ContentScanner,
    site: &str,
    item: &Item,
) -> (Vec<Row>, Vec<Found>) {
    let mut found: Vec<Found> = Vec::new();
    for field in &item.fields {
        if field.text.is_empty() {
            continue;
        }
        for finding in scanner.scan(&field.text) {
            found.push(Found {
                field: field.name.clone(),
                finding,
            });
        }
    }
    if found.is_empty() {
        return (Vec::new(), found);
    }
    let in_title: Vec<&Finding> = found
        .iter()
        .filter(|f| item.fields.first().is_some_and(|t| t.name == f.field))
        .map(|f| &f.finding)
        .collect();
    let title = if in_title.is_empty() {
        item.title.clone()
    } else {
        redact_spans(&item.title, &in_title)
    };
    let title = truncate(sanitize(&title).trim(), TITLE_MAX);
    let container = truncate(&sanitize(&item.container), CONTAINER_MAX);
    let mut rows: Vec<Row> = Vec::new();
    for f in &found {
        let id = finding_id(
            site,
            item.app,
            &item.id,
            &f.field,
            &f.finding.scanner,
            &f.finding.fingerprint,
        );
        if rows.iter().any(|r| r.finding_id == id) {
            continue;
        }
        let link = item
            .fields
            .iter()
            .find(|x| x.name == f.field)
            .and_then(|x| x.link.as_deref())
            .unwrap_or(&item.link);
        rows.push(Row {
            finding_id: id,
            detection: f.finding.scanner.clone(),
            app: item.app.to_string(),
            container: container.clone(),
            title: title.clone(),
            link: truncate(&sanitize(link), LINK_MAX),
            redacted: sanitize(&f.finding.redacted),
            fingerprint: f.finding.fingerprint.clone(),
        });
    }
    (rows, found)
}

/// Writes rows in the chosen format.
pub(super) enum Sink<'w> {
    Csv(Box<csv::Writer<&'w mut dyn Write>>),
    Json(&'w mut dyn Write),
}

impl<'w> Sink<'w> {
    pub fn new(format: OutputFormat, out: &'w mut dyn Write) -> Result<Self, csv::Error> {
        Ok(match format {
            OutputFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                w.write_record(COLUMNS)?;
                Sink::Csv(Box::new(w))
            }
            OutputFormat::Json => Sink::Json(out),
        })
    }

    pub fn write(&mut self, r: &Row) -> std::io::Result<()> {
        match self {
            Sink::Csv(w) => w
                .write_record([
                    csv_cell(&r.finding_id).as_ref(),
                    csv_cell(&r.detection).as_ref(),
                    csv_cell(&r.app).as_ref(),
                    csv_cell(&r.container).as_ref(),
                    csv_cell(&r.title).as_ref(),
                    csv_cell(&r.link).as_ref(),
                    csv_cell(&r.redacted).as_ref(),
                    csv_cell(&r.fingerprint).as_ref(),
                ])
                .map_err(std::io::Error::other),
            Sink::Json(out) => {
                serde_json::to_writer(&mut **out, r)?;
                out.write_all(b"\n")
            }
        }
    }

    pub fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Csv(mut w) => w.flush(),
            Sink::Json(out) => out.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tuning::Tuning;
    use crate::engine::site_scan::Field;

    fn item(title: &str, body: &str) -> Item {
        Item {
            app: "confluence",
            id: "42".into(),
            container: "ENG".into(),
            title: title.into(),
            link: "https://a.example/wiki/x".into(),
            author: None,
            fields: vec![
                Field {
                    name: "title".into(),
                    text: title.into(),
                    link: None,
                    author: None,
                },
                Field {
                    name: "body".into(),
                    text: body.into(),
                    link: None,
                    author: None,
                },
            ],
        }
    }

    #[test]
    fn a_title_holding_a_secret_is_redacted_and_ids_are_stable() {
        let scanner = ContentScanner::new(&Tuning::default(), b"k").expect("scanner");
        let it = item(
            "\u{1b}[2Jkeys AKIAZ3MSJV4WWNKWW5FP \u{202e}x",
            "and ghp_aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5 twice ghp_aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5",
        );
        let (rows, found) = scan_item(&scanner, "https://a.example", &it);
        assert_eq!(found.len(), 3);
        assert_eq!(rows.len(), 2, "the same secret twice in a field is one row");
        for r in &rows {
            assert!(!r.title.contains("AKIAZ3MSJV4WWNKWW5FP"), "{}", r.title);
            assert!(
                r.title.contains("AKIA…[aws-access-key-id, 20 chars]"),
                "{}",
                r.title
            );
            assert!(
                r.title.contains("⟨RLO⟩") && !r.title.contains('\u{1b}'),
                "{}",
                r.title
            );
        }
        let (again, _) = scan_item(&scanner, "https://a.example", &it);
        assert_eq!(rows, again);
        let (other_site, _) = scan_item(&scanner, "https://b.example", &it);
        assert_ne!(rows[0].finding_id, other_site[0].finding_id);
    }

    #[test]
    fn csv_cells_are_neutralised() {
        let mut out: Vec<u8> = Vec::new();
        let mut sink = Sink::new(OutputFormat::Csv, &mut out).expect("sink");
        sink.write(&Row {
            finding_id: "1".into(),
            detection: "d".into(),
            app: "jira".into(),
            container: "=cmd".into(),
            title: "-title".into(),
            link: "l".into(),
            redacted: "r".into(),
            fingerprint: "f".into(),
        })
        .expect("write");
        sink.finish().expect("finish");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains(",'=cmd,'-title,"), "{text}");
    }
}
