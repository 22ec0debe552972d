//! `vigil integrations list` and `vigil integrations test NAME`: where alerts go, how each destination is
//! doing, and a test alert sent now. Endpoints are masked and secrets never printed.

use std::io::Write;

use color_eyre::eyre::{Result, bail};
use vigil::deliver::format::mask_url;
use vigil::deliver::worker::{Target, send_test};
use vigil::engine::delivery::targets;
use vigil::model::text::sanitize;

use super::args::ListFormat;
use super::setup::Setup;

/// One row of `integrations list`.
#[derive(Debug, serde::Serialize)]
struct Row {
    name: String,
    kind: &'static str,
    endpoint: String,
    min_severity: &'static str,
    detections: Vec<String>,
    on: Vec<&'static str>,
    enabled: bool,
    /// `ok`, `failing since …`, `disabled: …`, `cannot be used: …`, or `unknown` when the store is busy.
    state: String,
    pending: Option<u64>,
    dead: Option<u64>,
    last_attempt: Option<String>,
}

fn row(t: &Target, store: Option<&vigil::store::Store>) -> Result<Row> {
    let i = &t.integration;
    let mut on = Vec::new();
    if i.on.created {
        on.push("created");
    }
    if i.on.updated {
        on.push("updated");
    }
    let (endpoint, problem) = match &t.destination {
        Ok(d) => (mask_url(&d.url), None),
        Err(why) => ("-".to_string(), Some(format!("cannot be used: {why}"))),
    };
    let (state, pending, dead, last_attempt) = match store {
        Some(s) => {
            let h = s.integration_health(&i.name)?;
            let c = s.outbox_counts(Some(&i.name))?;
            let last = h.recent.last().map(describe_attempt);
            (
                problem.unwrap_or_else(|| h.summary()),
                Some(c.pending),
                Some(c.dead),
                last,
            )
        }
        None => (
            problem.unwrap_or_else(|| "unknown".into()),
            None,
            None,
            None,
        ),
    };
    Ok(Row {
        name: i.name.clone(),
        kind: i.kind.as_str(),
        endpoint,
        min_severity: i.min_severity.as_str(),
        detections: i.detections.clone(),
        on,
        enabled: i.enabled,
        state,
        pending,
        dead,
        last_attempt,
    })
}

/// An attempt in a line: when, what came back, how long it took.
fn describe_attempt(a: &vigil::model::Attempt) -> String {
    let what = match (a.status, a.error.is_empty()) {
        (Some(code), true) => format!("HTTP {code}"),
        _ => a.error.clone(),
    };
    format!(
        "{} {what} in {} ms",
        a.at.format("%Y-%m-%d %H:%M:%SZ"),
        a.latency_ms
    )
}

/// The rows as the running `vigil serve` of the data dir sees them (its integrations, health and outbox),
/// when one answers on its socket.
fn rows_from_serve(setup: &mut Setup) -> Result<Option<Vec<Row>>> {
    let Some((handle, _)) = setup.attach_ui()? else {
        return Ok(None);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let views = runtime.block_on(handle.integrations())?;
    Ok(Some(
        views
            .into_iter()
            .map(|v| {
                let i = v.integration;
                let mut on = Vec::new();
                if i.on.created {
                    on.push("created");
                }
                if i.on.updated {
                    on.push("updated");
                }
                Row {
                    kind: i.kind.as_str(),
                    endpoint: v.endpoint,
                    min_severity: i.min_severity.as_str(),
                    detections: i.detections,
                    on,
                    enabled: i.enabled,
                    state: v.state,
                    pending: Some(v.pending),
                    dead: Some(v.dead),
                    last_attempt: v.recent.last().map(describe_attempt),
                    name: i.name,
                }
            })
            .collect(),
    ))
}

/// `vigil integrations list`: from the running `vigil serve` when one holds the store, else from the store.
pub fn list(mut setup: Setup, format: ListFormat) -> Result<i32> {
    if let Some(rows) = rows_from_serve(&mut setup)? {
        return print_rows(&rows, format);
    }
    let targets = targets(&setup.config.integrations);
    let dir = setup.data_dir()?;
    let store = if dir.exists() {
        match setup.open_store() {
            Ok((_, s)) => Some(s),
            Err(e) => {
                eprintln!("vigil: health and outbox figures unavailable: {e}");
                None
            }
        }
    } else {
        None
    };
    let rows: Vec<Row> = targets
        .iter()
        .map(|t| row(t, store.as_ref()))
        .collect::<Result<_>>()?;
    print_rows(&rows, format)
}

fn print_rows(rows: &[Row], format: ListFormat) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    match format {
        ListFormat::Json => {
            for r in rows {
                serde_json::to_writer(&mut out, r)?;
                writeln!(out)?;
            }
        }
        ListFormat::Text => {
            if rows.is_empty() {
                writeln!(
                    out,
                    "no integrations configured ([[integrations]] in the config)"
                )?;
            }
            for r in rows {
                let figures = match (r.pending, r.dead) {
                    (Some(p), Some(d)) => format!("{p} pending, {d} dead"),
                    _ => "outbox unknown".into(),
                };
                let detections = if r.detections.is_empty() {
                    String::new()
                } else {
                    format!("  detections {}", r.detections.join(","))
                };
                let last = r
                    .last_attempt
                    .as_ref()
                    .map(|a| format!("; last {}", sanitize(a)))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{}  {}  {}  {}  min {}  on {}{detections}\n    {}; {figures}{last}",
                    sanitize(&r.name),
                    r.kind,
                    sanitize(&r.endpoint),
                    if r.enabled { "enabled" } else { "disabled" },
                    r.min_severity,
                    r.on.join(","),
                    sanitize(&r.state),
                )?;
            }
        }
    }
    out.flush()?;
    Ok(0)
}

/// `vigil integrations test NAME`: exit 0 when the receiver accepted the test alert.
pub fn test(setup: Setup, name: &str) -> Result<i32> {
    let Some(target) = targets(&setup.config.integrations)
        .into_iter()
        .find(|t| t.integration.name == name)
    else {
        let known: Vec<&str> = setup
            .config
            .integrations
            .iter()
            .map(|i| i.integration.name.as_str())
            .collect();
        bail!(
            "no integration named '{}' (configured: {})",
            sanitize(name),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let dest = match target.destination {
        Ok(d) => d,
        Err(why) => bail!("{} cannot be used: {why}", sanitize(name)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let attempt = runtime.block_on(send_test(&dest))?;
    let ok = attempt.status.is_some_and(|s| (200..300).contains(&s));
    let what = match (attempt.status, attempt.error.is_empty()) {
        (Some(code), true) => format!("HTTP {code}"),
        _ => attempt.error.clone(),
    };
    println!(
        "{} ({}, {}): {what} in {} ms",
        sanitize(name),
        dest.kind.as_str(),
        mask_url(&dest.url),
        attempt.latency_ms
    );
    Ok(if ok { 0 } else { 1 })
}
