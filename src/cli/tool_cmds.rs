//! The commands that need no store: `generate`, `scan` and `check`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Context, Result};

use super::args::Format;
use super::setup::{Globals, Setup, config_path, keymap_path};

/// `vigil generate`: synthetic events as JSON lines on stdout, the planted incidents to `manifest`.
pub fn generate(events: u64, seed: u64, incidents: u32, manifest: Option<&Path>) -> Result<i32> {
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

/// `vigil scan`: secrets and personal data in files at rest, one row per finding.
pub fn scan(setup: &Setup, format: Format, paths: &[PathBuf]) -> Result<i32> {
    let tuning = setup.config.tuning();
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
    for n in &summary.notes {
        eprintln!(
            "vigil: skipped {}: {}",
            clean(&n.path.display().to_string()),
            clean(&n.reason)
        );
    }
    eprintln!("vigil: {summary}");
    // Findings are the answer, not a failure: exit 0 whether or not there were any.
    Ok(0)
}

/// `vigil check`: the configuration file and the user keymap, every error with its place.
pub fn check(globals: &Globals) -> Result<i32> {
    let config = globals.config.as_deref();
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
