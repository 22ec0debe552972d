//! One function per subcommand. Each resolves what it needs (data dir, config, store) in the order `main`'s
//! doc gives, and returns an exit status or an error with context.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;
use color_eyre::eyre::{Context, Result, eyre};
use vigil::config::Config;
use vigil::detect::tuning::Tuning;
use vigil::engine::Pipeline;
use vigil::export::{ExportFormat, Exporter};
use vigil::model::AlertStatus;
use vigil::store::{AlertFilter, Store};

use super::engine_cmds;
use super::time_arg::parse_time;
use super::{Cli, Command, Format, ListFormat, QuarantineCmd};

/// Run the parsed command line.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let Some(command) = cli.command else {
        return engine_cmds::ui(cli.data_dir, cli.config.as_deref());
    };
    match command {
        Command::Generate {
            events,
            seed,
            incidents,
            manifest,
        } => generate(events, seed, incidents, manifest.as_deref()),
        Command::Scan { format, paths } => scan(format, &paths, cli.config.as_deref()),
        Command::Check => check(cli.config.as_deref()),
        Command::Ingest { files } => {
            let dir = data_dir(cli.data_dir)?;
            let _log = init_logging(&dir);
            ingest(&dir, &files, cli.config.as_deref())
        }
        Command::Export {
            format,
            since,
            until,
            status,
            detection,
            actor,
            output,
            force,
        } => {
            let dir = data_dir(cli.data_dir)?;
            let _log = init_logging(&dir);
            let now = Utc::now();
            let filter = AlertFilter {
                statuses: status
                    .iter()
                    .map(|s| s.parse::<AlertStatus>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| eyre!("--status: {e}"))?,
                since: since
                    .map(|s| parse_time(&s, now))
                    .transpose()
                    .map_err(|e| eyre!("--since: {e}"))?,
                until: until
                    .map(|s| parse_time(&s, now))
                    .transpose()
                    .map_err(|e| eyre!("--until: {e}"))?,
                detection,
                actor,
                ascending: true,
                ..Default::default()
            };
            export(&dir, format, &filter, output.as_deref(), force)
        }
        Command::Serve { stdin } => engine_cmds::serve(cli.data_dir, cli.config.as_deref(), stdin),
        Command::Status { format } => {
            engine_cmds::status(cli.data_dir, cli.config.as_deref(), format)
        }
        Command::Demo { seed } => {
            // Only an explicit --data-dir: a VIGIL_DATA_DIR meant for real data must not get the demo's.
            let explicit = std::env::args_os()
                .any(|a| a == "--data-dir" || a.to_string_lossy().starts_with("--data-dir="));
            let dir = if explicit { cli.data_dir } else { None };
            engine_cmds::demo(dir, cli.config.as_deref(), seed)
        }
        Command::Quarantine {
            action: QuarantineCmd::List { format, limit },
        } => {
            let dir = data_dir(cli.data_dir)?;
            quarantine_list(&dir, format, limit)
        }
    }
}

/// `--data-dir`, else `$VIGIL_DATA_DIR` (clap reads both), else the XDG data dir.
pub(super) fn data_dir(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = given {
        return Ok(d);
    }
    directories::ProjectDirs::from("", "", "vigil")
        .map(|p| p.data_dir().to_path_buf())
        .ok_or_else(|| {
            eyre!("no data directory: set --data-dir or VIGIL_DATA_DIR (no home directory found)")
        })
}

/// Logs go to `<data-dir>/vigil.log`, never to the terminal; the filter comes from `VIGIL_LOG`.
pub(super) fn init_logging(dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    std::fs::create_dir_all(dir).ok()?;
    let appender = tracing_appender::rolling::never(dir, "vigil.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

/// `--config`, else `vigil.toml` in the XDG config dir when it exists, else no file (defaults).
fn config_path(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_path_buf());
    }
    let p = directories::ProjectDirs::from("", "", "vigil")?
        .config_dir()
        .join("vigil.toml");
    p.exists().then_some(p)
}

/// The configuration in force; a file with errors stops the command with every error listed.
pub(super) fn load_config(given: Option<&Path>) -> Result<Config> {
    match config_path(given) {
        Some(p) => vigil::config::load(&p).map_err(|errs| eyre!("{errs}")),
        None => Ok(Config::default()),
    }
}

/// The file's tuning with the store's UI changes laid over it.
pub(super) fn tuning(config: &Config, store: &Store) -> Result<Tuning> {
    Ok(config.tuning().overlay(&store.detection_overrides()?))
}

fn ingest(dir: &Path, files: &[PathBuf], config: Option<&Path>) -> Result<i32> {
    let config = load_config(config)?;
    let store = Store::open(dir)?;
    let tuning = tuning(&config, &store)?;
    let key = match &config.engine.fingerprint_key {
        Some(r) => Some(
            r.resolve()
                .map_err(|e| eyre!("engine.fingerprint_key: {e}"))?
                .into_bytes(),
        ),
        None => None,
    };
    let mut pipeline = Pipeline::new(store, &tuning, key.as_deref())?;
    let mut unreadable = 0;
    for path in files {
        let name = path.display().to_string();
        let result = if name == "-" {
            pipeline.ingest_reader("-", std::io::stdin())
        } else {
            match File::open(path) {
                Ok(f) => pipeline.ingest_reader(&name, f),
                Err(e) => {
                    eprintln!("vigil: cannot read {name}: {e}");
                    unreadable += 1;
                    continue;
                }
            }
        };
        if let Err(e) = result {
            match e {
                vigil::engine::PipelineError::Read { .. } => {
                    eprintln!("vigil: {e}");
                    unreadable += 1;
                }
                other => return Err(other.into()),
            }
        }
    }
    let stats = pipeline.finish()?;
    if stats.late > 0 {
        eprintln!(
            "vigil: {} events arrived more than 5 minutes late: stored, not detected",
            stats.late
        );
    }
    if stats.quarantined > 0 {
        eprintln!(
            "vigil: {} records quarantined; see `vigil quarantine list`",
            stats.quarantined
        );
    }
    println!("{stats}");
    Ok(if unreadable > 0 { 1 } else { 0 })
}

fn export(
    dir: &Path,
    format: Format,
    filter: &AlertFilter,
    output: Option<&Path>,
    force: bool,
) -> Result<i32> {
    let store = Store::open(dir)?;
    let format = match format {
        Format::Csv => ExportFormat::Csv,
        Format::Json => ExportFormat::Json,
    };
    let out: Box<dyn Write> = match output {
        Some(p) if p != Path::new("-") => {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true);
            if force {
                opts.create(true).truncate(true);
            } else {
                opts.create_new(true);
            }
            let f = opts.open(p).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    eyre!("{} exists; use --force to overwrite it", p.display())
                } else {
                    eyre!("cannot write {}: {e}", p.display())
                }
            })?;
            Box::new(BufWriter::new(f))
        }
        _ => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut exporter = Exporter::new(out, format).wrap_err("cannot write the export")?;
    let mut cursor = None;
    loop {
        let page = store.alerts_page(filter, cursor, 1000)?;
        for a in &page.alerts {
            exporter.write(a).wrap_err("cannot write the export")?;
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let rows = exporter.rows();
    exporter.finish().wrap_err("cannot write the export")?;
    if let Some(p) = output {
        eprintln!("vigil: wrote {rows} alerts to {}", p.display());
    }
    Ok(0)
}

fn quarantine_list(dir: &Path, format: ListFormat, limit: usize) -> Result<i32> {
    let store = Store::open(dir)?;
    let records = store.quarantine_list(0, limit)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    match format {
        ListFormat::Json => {
            for r in &records {
                let mut v = serde_json::to_value(r)?;
                v["raw"] = serde_json::Value::String(String::from_utf8_lossy(&r.raw).into_owned());
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            }
        }
        ListFormat::Text => {
            let clean = vigil::model::text::sanitize;
            for r in &records {
                writeln!(out, "{}: {}", clean(&r.source), clean(&r.reason))?;
            }
            if std::io::stdout().is_terminal() || records.is_empty() {
                writeln!(out, "{} quarantined in all", store.quarantined_count())?;
            }
        }
    }
    out.flush()?;
    Ok(0)
}

fn generate(events: u64, seed: u64, incidents: u32, manifest: Option<&Path>) -> Result<i32> {
    use vigil::generate::{GenerateOptions, write_jsonl};
    let opts = GenerateOptions {
        events,
        seed,
        incidents,
        ..GenerateOptions::default()
    };
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let summary = match write_jsonl(&opts, &mut out).and_then(|s| out.flush().map(|_| s)) {
        Ok(s) => s,
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
        Err(e) => return Err(e).wrap_err("cannot write events to stdout"),
    };
    if let Some(path) = manifest {
        let mut f = BufWriter::new(
            File::create(path).wrap_err_with(|| format!("cannot write {}", path.display()))?,
        );
        for p in &summary.planted {
            serde_json::to_writer(&mut f, p)?;
            writeln!(f)?;
        }
        f.flush()?;
    }
    Ok(0)
}

fn scan(format: Format, paths: &[PathBuf], config: Option<&Path>) -> Result<i32> {
    let tuning = load_config(config)?.tuning();
    let format = match format {
        Format::Csv => vigil::scan::ScanFormat::Csv,
        Format::Json => vigil::scan::ScanFormat::Json,
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let summary = match vigil::scan::run(paths, format, &mut out, &tuning) {
        Ok(s) => s,
        Err(vigil::scan::ScanError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(0);
        }
        Err(e) => return Err(e.into()),
    };
    out.flush().ok();
    let clean = vigil::model::text::sanitize;
    for u in &summary.unreadable {
        eprintln!(
            "vigil: cannot read {}: {}",
            clean(&u.path.display().to_string()),
            clean(&u.reason)
        );
    }
    eprintln!("vigil: {summary}");
    // Findings are the answer, not a failure: exit 0 whether or not there were any.
    Ok(0)
}

/// The user keymap: `keymap.toml` beside `--config` when one is given, else in the XDG config dir; only when
/// it exists (the defaults are embedded).
pub(super) fn keymap_path(config: Option<&Path>) -> Option<PathBuf> {
    let dir = match config {
        Some(c) => c.parent().map(Path::to_path_buf),
        None => {
            directories::ProjectDirs::from("", "", "vigil").map(|p| p.config_dir().to_path_buf())
        }
    }?;
    let p = dir.join("keymap.toml");
    p.exists().then_some(p)
}

/// `vigil check`: the configuration file and the user keymap, every error with its place.
fn check(config: Option<&Path>) -> Result<i32> {
    let clean = vigil::model::text::sanitize;
    let mut failed = false;
    match config_path(config) {
        None => println!(
            "no configuration file (looked for vigil.toml in the config dir); defaults are valid"
        ),
        Some(path) => match vigil::config::load(&path) {
            Ok(_) => println!("{}: ok", path.display()),
            Err(errs) => {
                for e in &errs.0 {
                    eprintln!("{}", clean(&e.to_string()));
                }
                eprintln!("{}: {} error(s)", path.display(), errs.0.len());
                failed = true;
            }
        },
    }
    match keymap_path(config) {
        None => println!("no user keymap; the default bindings are in force"),
        Some(path) => {
            let errs = vigil::tui::keymap::check_file(&path);
            if errs.is_empty() {
                println!("{}: ok", path.display());
            } else {
                for e in &errs {
                    eprintln!("{}", clean(&e.to_string()));
                }
                eprintln!("{}: {} error(s)", path.display(), errs.len());
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}
