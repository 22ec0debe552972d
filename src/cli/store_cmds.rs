//! The commands that work on the store without running the engine: `ingest`, `export`, `quarantine list`
//! and `status`. Each starts through [`Setup`], so each honours the same data dir.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr, eyre};
use vigil::engine::{Pipeline, PipelineError, StatusReport};
use vigil::export::{ExportFile, ExportFormat, ExportSelection, export_alerts};
use vigil::ingest::SortLimits;
use vigil::model::{AlertFilter, AlertStatus, AssigneeFilter, query};
use vigil::store::StoreError;

use super::args::{ExportArgs, Format, ListFormat};
use super::setup::Setup;
use super::time_arg::parse_time;

/// `vigil ingest FILE... | -`: parse, store and detect; the summary is the last stdout line.
///
/// A full disk stops it at the first failed write, whatever is left to read, with one line saying so and how
/// many events this run stored: nothing written is lost and re-running the same command dedupes, so the
/// remedy is space and the same command.
pub fn ingest(mut setup: Setup, files: &[PathBuf]) -> Result<i32> {
    // A running `vigil serve` holds the store: the events go through its engine (an admin's right).
    if let Some((client, at)) = setup.attach()? {
        return ingest_through(client, &at, files);
    }
    let (_dir, store) = match setup.open_store() {
        Ok(opened) => opened,
        Err(e) => {
            return match e.downcast_ref::<StoreError>() {
                Some(StoreError::DiskFull { dir }) => Ok(disk_full(dir, 0)),
                _ => Err(e),
            };
        }
    };
    // Alerts this run raises are queued for the configured integrations; `serve` (or the UI) delivers them.
    store.set_integrations(
        setup
            .config
            .integrations
            .iter()
            .map(|i| i.integration.clone())
            .collect(),
    );
    let tuning = setup.tuning(&store)?;
    let key = setup.fingerprint_key()?;
    let mut pipeline = match Pipeline::new(store.clone(), &tuning, key.as_deref()) {
        Ok(p) => p,
        Err(PipelineError::Store(StoreError::DiskFull { dir })) => return Ok(disk_full(&dir, 0)),
        Err(e) => return Err(e.into()),
    };
    pipeline.set_time_limits(setup.config.engine.time_limits());
    let engine = &setup.config.engine;
    let defaults = SortLimits::default();
    pipeline.set_sort_limits(SortLimits {
        chunk: engine
            .sort_chunk_events
            .map_or(defaults.chunk, |n| n as usize),
        fan_in: engine.sort_runs.map_or(defaults.fan_in, |n| n as usize),
    });
    let mut unreadable = 0;
    // Each step's time goes to the log, so a slow ingest says where its time went.
    let mut step = std::time::Instant::now();
    let mut timed = |what: &str, events: u64| {
        tracing::info!(
            step = what,
            events,
            seconds = format_args!("{:.2}", step.elapsed().as_secs_f64()),
            "vigil ingest: step done"
        );
        step = std::time::Instant::now();
    };
    for path in files {
        let name = path.display().to_string();
        let result = if name == "-" {
            pipeline.ingest_reader("-", std::io::stdin())
        } else {
            match File::open(path) {
                Ok(f) => pipeline.ingest_file(&name, f),
                Err(e) => {
                    eprintln!("vigil: cannot read {name}: {e}");
                    unreadable += 1;
                    continue;
                }
            }
        };
        if let Err(e) = result {
            match e {
                PipelineError::Read { .. } => {
                    eprintln!("vigil: {e}");
                    unreadable += 1;
                }
                PipelineError::Store(StoreError::DiskFull { dir }) => {
                    return Ok(disk_full(&dir, pipeline.stats().ingested));
                }
                other => return Err(other.into()),
            }
        }
    }
    let stored = pipeline.stats().ingested;
    timed("read, detect and store", stored);
    let stats = match pipeline.finish() {
        Ok(stats) => stats,
        Err(PipelineError::Store(StoreError::DiskFull { dir })) => {
            return Ok(disk_full(&dir, stored));
        }
        Err(e) => return Err(e.into()),
    };
    timed("checkpoint", stored);
    // The small runs this ingest left (quiet actor-days) are compressed like full ones before it ends.
    match store.seal_small_runs(None).and_then(|_| store.flush()) {
        Ok(()) => {}
        Err(StoreError::DiskFull { dir }) => return Ok(disk_full(&dir, stored)),
        Err(e) => return Err(e.into()),
    }
    timed("seal small runs and flush", stored);
    // A long ingest leaves sled's file far ahead of what it holds (its cleaner lags): past the threshold
    // `serve` compacts at, rebuild it now, while nothing else holds the store.
    let compact = vigil::engine::retention::needs_compaction(&store, &setup.config.retention);
    timed("measure live bytes", stored);
    if compact {
        let started = std::time::Instant::now();
        match store.compact(vigil::store::StoreOptions::default()) {
            Ok((_, before, after)) => eprintln!(
                "vigil: the store's file was mostly garbage after this ingest; compacted: {} → {} on disk in {:.1} s",
                mib(before),
                mib(after),
                started.elapsed().as_secs_f64()
            ),
            Err(StoreError::DiskFull { dir }) => return Ok(disk_full(&dir, stored)),
            // Everything is stored and durable already; the store is only bigger than it need be.
            Err(e) => eprintln!("vigil: compacting the store after this ingest failed: {e}"),
        }
    } else {
        // Open it once more, so that sled's recovery snapshot covers this ingest and the next open is quick
        // (a compaction above opened a fresh store already).
        match store.reopen(vigil::store::StoreOptions::default()) {
            Ok(_) => {}
            Err(StoreError::DiskFull { dir }) => return Ok(disk_full(&dir, stored)),
            // Everything is stored and durable already; only the next open is slower.
            Err(e) => tracing::warn!(error = %e, "reopening the store after this ingest failed"),
        }
    }
    timed(if compact { "compact" } else { "reopen" }, stored);
    if stats.late > 0 {
        eprintln!(
            "vigil: {} events arrived out of time order; {} actors were re-detected from the store, so the \
             alerts are those of in-order arrival",
            stats.late, stats.redetected
        );
    }
    if stats.quarantined > 0 {
        eprintln!(
            "vigil: {} quarantined; see `vigil quarantine list`",
            vigil::model::text::plural(stats.quarantined as usize, "record", "records")
        );
    }
    println!("{stats}");
    Ok(if unreadable > 0 { 1 } else { 0 })
}

/// `vigil ingest` while `vigil serve` runs: each file streamed into its engine, counted once durable.
fn ingest_through(
    mut client: vigil::engine::socket::Client,
    at: &str,
    files: &[PathBuf],
) -> Result<i32> {
    let (mut accepted, mut duplicates, mut quarantined, mut unreadable) = (0u64, 0u64, 0u64, 0);
    for path in files {
        let name = path.display().to_string();
        let counts = if name == "-" {
            client.ingest("-", &mut std::io::stdin().lock())
        } else {
            match File::open(path) {
                Ok(mut f) => client.ingest(&name, &mut f),
                Err(e) => {
                    eprintln!("vigil: cannot read {name}: {e}");
                    unreadable += 1;
                    continue;
                }
            }
        };
        let (a, d, q) = counts.wrap_err_with(|| format!("ingesting {name} through {at}"))?;
        accepted += a;
        duplicates += d;
        quarantined += q;
    }
    if quarantined > 0 {
        eprintln!(
            "vigil: {} quarantined; see `vigil quarantine list`",
            vigil::model::text::plural(quarantined as usize, "record", "records")
        );
    }
    println!(
        "{accepted} events stored, {duplicates} duplicates, {quarantined} quarantined (through {at})"
    );
    Ok(if unreadable > 0 { 1 } else { 0 })
}

/// `vigil compact`: rebuild the store beside itself and swap it in; says the bytes before and after. A running
/// `serve` holds the store: stop it first (it is refused with who holds it).
pub fn compact(mut setup: Setup) -> Result<i32> {
    let (dir, store) = setup.open_existing_store()?;
    let started = std::time::Instant::now();
    let (store, before, after) = store
        .compact(vigil::store::StoreOptions::default())
        .wrap_err_with(|| format!("compacting the store at {}", dir.display()))?;
    drop(store);
    println!(
        "compacted {}: {} → {} on disk in {:.1} s",
        dir.display(),
        mib(before),
        mib(after),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

/// Say once that the disk filled, where, and what to do; the exit status of a failure.
fn disk_full(dir: &Path, stored: u64) -> i32 {
    eprintln!(
        "vigil: disk full writing the store in {} ({stored} events stored; run the same command again when there is space)",
        vigil::model::text::sanitize(&dir.display().to_string())
    );
    1
}

impl ExportArgs {
    /// The filter these arguments mean, oldest first; a bad value is named with its flag.
    fn filter(&self) -> Result<AlertFilter> {
        let now = Utc::now();
        let time = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| parse_time(s, now))
                .transpose()
                .map_err(|e| eyre!("{flag}: {e}"))
        };
        let mut f = match &self.filter {
            Some(q) => query::parse(q, now).map_err(|e| eyre!("--filter: {e}"))?,
            None => AlertFilter::default(),
        };
        let statuses: Vec<AlertStatus> = self
            .status
            .iter()
            .map(|s| s.parse::<AlertStatus>())
            .collect::<Result<_, _>>()
            .map_err(|e| eyre!("--status: {e}"))?;
        // A flag and a query term for the same field would have to be intersected or one dropped; naming
        // the clash is clearer than either.
        let both = |flag: &str, term: &str| {
            eyre!("{flag} and --filter's '{term}:' both say it; give it once")
        };
        if !statuses.is_empty() {
            if !f.statuses.is_empty() {
                return Err(both("--status", "status"));
            }
            f.statuses = statuses;
        }
        for (flag, term, value, slot) in [
            (
                "--since",
                "since",
                time("--since", &self.since)?,
                &mut f.since,
            ),
            (
                "--until",
                "until",
                time("--until", &self.until)?,
                &mut f.until,
            ),
        ] {
            if value.is_some() {
                if slot.is_some() {
                    return Err(both(flag, term));
                }
                *slot = value;
            }
        }
        for (flag, term, value, slot) in [
            ("--detection", "det", &self.detection, &mut f.detection),
            ("--actor", "actor", &self.actor, &mut f.actor),
        ] {
            if value.is_some() {
                if slot.is_some() {
                    return Err(both(flag, term));
                }
                slot.clone_from(value);
            }
        }
        if f.assignee == Some(AssigneeFilter::Me) {
            // The name "assign to me" writes in the UI, so `assignee:me` finds what `m` assigned.
            f.me = Some(vigil::tui::user::current_user());
        }
        f.ascending = true;
        Ok(f)
    }
}

/// `vigil export`: the same writer as the UI's export, to a file (owner-only, put in place whole, never
/// written through a symlink) or stdout.
pub fn export(mut setup: Setup, args: ExportArgs) -> Result<i32> {
    let filter = args.filter()?;
    // A mistyped detection would export nothing and look like "no alerts": refuse it, naming the closest
    // id. Custom detections (`custom:…`) come from the config and are taken as given.
    if let Some(det) = &filter.detection
        && !det.starts_with("custom:")
    {
        let known: Vec<&str> = vigil::detect::catalogue::catalogue()
            .iter()
            .map(|d| d.id)
            .collect();
        if let Err(e) = vigil::model::text::known_detection(det, &known) {
            return Err(eyre!("--detection: {e}"));
        }
    }
    let format = match args.format {
        Format::Csv => ExportFormat::Csv,
        Format::Json => ExportFormat::Json,
    };
    let file = args.output.as_deref().filter(|p| *p != Path::new("-"));
    // A running `vigil serve` holds the store: it writes the export for us (an admin's right).
    if let Some((mut client, at)) = setup.attach()? {
        let asking = || format!("exporting through {at}");
        let rows = match file {
            Some(p) => {
                let mut f = ExportFile::create(p, args.force)?;
                let rows = {
                    let mut w = BufWriter::new(&mut f);
                    let rows = client
                        .export(filter, None, format, &mut w)
                        .wrap_err_with(asking)?;
                    w.flush()?;
                    rows
                };
                f.commit()?;
                rows
            }
            None => {
                let mut w = BufWriter::new(std::io::stdout().lock());
                let rows = client
                    .export(filter, None, format, &mut w)
                    .wrap_err_with(asking)?;
                w.flush()?;
                rows
            }
        };
        if let Some(p) = file {
            eprintln!("vigil: wrote {rows} alerts to {}", p.display());
        }
        return Ok(0);
    }
    let (_dir, store) = setup.open_existing_store()?;
    let selection = ExportSelection::Filter(filter);
    let written = match file {
        Some(p) => {
            let mut f = ExportFile::create(p, args.force)?;
            export_alerts(&store, &selection, BufWriter::new(&mut f), format)
                .and_then(|rows| f.commit().map(|()| rows))
        }
        None => export_alerts(
            &store,
            &selection,
            BufWriter::new(std::io::stdout().lock()),
            format,
        ),
    };
    let rows = match written {
        Ok(rows) => rows,
        Err(e) if e.is_broken_pipe() => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    if let Some(p) = file {
        eprintln!("vigil: wrote {rows} alerts to {}", p.display());
    }
    Ok(0)
}

/// `vigil quarantine list`: records refused at ingest, with their reasons (already redacted in the store).
pub fn quarantine_list(mut setup: Setup, format: ListFormat, limit: usize) -> Result<i32> {
    // A running `vigil serve` holds the store: it lists them for us.
    let (records, total) = match setup.attach()? {
        Some((mut client, at)) => client
            .quarantine(limit)
            .wrap_err_with(|| format!("asking {at}"))?,
        None => {
            let (_dir, store) = setup.open_existing_store()?;
            let list = store
                .quarantine_list(0, limit)?
                .into_iter()
                .map(|r| {
                    let raw = String::from_utf8_lossy(&r.raw).into_owned();
                    (r, raw)
                })
                .collect::<Vec<_>>();
            (list, store.quarantined_count())
        }
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    match format {
        ListFormat::Json => {
            for (r, raw) in &records {
                let mut v = serde_json::to_value(r)?;
                v["raw"] = serde_json::Value::String(raw.clone());
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            }
        }
        ListFormat::Text => {
            let clean = vigil::model::text::sanitize;
            for (r, _) in &records {
                writeln!(out, "{}: {}", clean(&r.source), clean(&r.reason))?;
            }
            if std::io::stdout().is_terminal() || records.is_empty() {
                writeln!(out, "{total} quarantined in all")?;
            }
        }
    }
    out.flush()?;
    Ok(0)
}

/// `vigil status`: figures from the running `vigil serve` (through its socket), else from the store.
pub fn status(mut setup: Setup, format: ListFormat) -> Result<i32> {
    let served = match setup.attach()? {
        Some((mut client, at)) => Some(client.status().wrap_err_with(|| format!("asking {at}"))?),
        None => None,
    };
    let report = match served {
        Some(r) => r,
        None => {
            let (_dir, store) = setup.open_existing_store()?;
            StatusReport::of_store(&store)
        }
    };
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string(&report)?),
        ListFormat::Text => println!("{report}"),
    }
    Ok(0)
}
