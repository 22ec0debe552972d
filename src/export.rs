//! Alert exports (DESIGN §4): CSV in the contract's column order with RFC 4180 quoting and formula-injection
//! neutralised, or JSON lines with every field. The CLI and the UI's export write through here, so both give
//! the same rows.

use std::io::Write;

use chrono::SecondsFormat;

use crate::model::Alert;

/// The CSV columns, in contract order.
pub const CSV_COLUMNS: [&str; 19] = [
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
];

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

/// A spreadsheet treats a cell starting with `=`, `+`, `-`, `@`, tab or CR as a formula; prefix those with `'`
/// so an attacker-chosen page title cannot run one on the analyst's machine.
pub fn neutralise_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
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

    /// Write one alert.
    pub fn write(&mut self, a: &Alert) -> std::io::Result<()> {
        self.rows += 1;
        match self.format {
            ExportFormat::Csv => {
                let t = |t: &chrono::DateTime<chrono::Utc>| {
                    t.to_rfc3339_opts(SecondsFormat::Millis, true)
                };
                let row: [String; 19] = [
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
                ];
                let w = self
                    .csv
                    .as_mut()
                    .ok_or_else(|| std::io::Error::other("exporter closed"))?;
                w.write_record(row.iter().map(|c| neutralise_formula(c).into_owned()))
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
    fn formula_cells_are_prefixed() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise_formula(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(neutralise_formula("Deploy notes"), "Deploy notes");
        assert_eq!(neutralise_formula(""), "");
    }
}
