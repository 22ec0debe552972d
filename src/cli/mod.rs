//! Command-line contract of DESIGN §8. Exit status: 0 success, 1 failure with a one-line reason on stderr,
//! 2 usage (clap's own).
//!
//! Start-up order, the same for every command: parse arguments → install the error hooks → [`setup::Setup`]
//! (configuration → data dir → logging → store or engine) → the command. The commands live by what they need:
//! `tool_cmds` (no store: generate, scan, check), `store_cmds` (the store: ingest, export, quarantine,
//! status), `engine_cmds` (the running engine: the UI, demo, serve). None of them imports another.

mod engine_cmds;
mod setup;
mod store_cmds;
mod time_arg;
mod tool_cmds;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use color_eyre::eyre::Result;

use setup::{Globals, Setup};

/// vigil: triage security alerts raised from SaaS audit logs.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about, propagate_version = true)]
pub struct Cli {
    /// Where the store lives (default: $VIGIL_DATA_DIR, else the XDG data dir).
    #[arg(long, global = true, env = "VIGIL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (default: vigil.toml in the XDG config dir, when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, store and detect; prints `ingested=N duplicates=D quarantined=Q alerts=A` last.
    Ingest {
        /// Files of audit events (one event, an array, a page, or JSON lines); `-` reads stdin.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Write alerts as CSV or JSON lines.
    Export {
        #[arg(long, value_enum)]
        format: Format,
        /// Created at or after (RFC 3339, YYYY-MM-DD, or a span back from now such as 7d, 12h).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Created before (same forms as --since).
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// open, acknowledged, expected or true_positive (repeat or comma-separate for several).
        #[arg(long, value_name = "S", value_delimiter = ',')]
        status: Vec<String>,
        /// Detection id, e.g. page-crawling.
        #[arg(long, value_name = "D")]
        detection: Option<String>,
        /// Actor id, e-mail or full name.
        #[arg(long, value_name = "A")]
        actor: Option<String>,
        /// Write here instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Synthetic audit events of a made-up organization, as JSON lines on stdout.
    Generate {
        #[arg(long, value_name = "N")]
        events: u64,
        #[arg(long, default_value_t = 1, value_name = "S")]
        seed: u64,
        /// Incidents to plant, spread over the detection catalogue.
        #[arg(long, default_value_t = 0, value_name = "N")]
        incidents: u32,
        /// Also write the planted incidents (detection, actor, time) as JSON lines to FILE.
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
    },
    /// Records refused at ingest, with their reasons.
    Quarantine {
        #[command(subcommand)]
        action: QuarantineCmd,
    },
    /// Scan files at rest for secrets and personal data: one row per finding.
    Scan {
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Validate the configuration; every error is named with its place.
    Check,
    /// Headless engine: follow the configured sources, detect, keep retention, until SIGTERM or SIGINT.
    Serve {
        /// Also read events from standard input until it ends.
        #[arg(long)]
        stdin: bool,
    },
    /// Engine and store figures: events, alerts by status, quarantined, backlog, schema, size.
    ///
    /// JSON keys (stable): engine, data_dir, schema_version, store_bytes, events, quarantined, backlog,
    /// alerts {open, acknowledged, expected, true_positive, total}.
    Status {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// The terminal UI over a synthetic organization with a month of history and a live event stream
    /// (a temporary data dir, removed on exit, unless --data-dir is given).
    Demo {
        #[arg(long, default_value_t = 1, value_name = "N")]
        seed: u64,
    },
}

/// `vigil quarantine …`
#[derive(Debug, Subcommand)]
pub enum QuarantineCmd {
    /// List quarantined records: reason, source, line.
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        /// At most this many records.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

/// Machine formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

/// Human or machine listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

/// Parse arguments, run, and turn the outcome into an exit status.
pub fn run() -> i32 {
    let cli = Cli::parse();
    vigil::tui::terminal::install_error_hooks();
    match dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            // One line: the chain of causes joined, as scripts expect.
            let msg = err
                .chain()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("vigil: {}", vigil::model::text::sanitize(&msg));
            1
        }
    }
}

/// Run the parsed command line: the one place commands are chosen and their start-up begins.
fn dispatch(cli: Cli) -> Result<i32> {
    let globals = Globals {
        data_dir: cli.data_dir,
        config: cli.config,
    };
    let Some(command) = cli.command else {
        return engine_cmds::ui(Setup::load(globals)?);
    };
    match command {
        // No configuration needed: the generator's output depends on its options alone.
        Command::Generate {
            events,
            seed,
            incidents,
            manifest,
        } => tool_cmds::generate(events, seed, incidents, manifest.as_deref()),
        // `check` reports a broken configuration instead of failing on it.
        Command::Check => tool_cmds::check(&globals),
        Command::Scan { format, paths } => tool_cmds::scan(&Setup::load(globals)?, format, &paths),
        Command::Ingest { files } => store_cmds::ingest(Setup::load(globals)?, &files),
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
            let request = store_cmds::ExportArgs {
                format,
                since,
                until,
                status,
                detection,
                actor,
                output,
                force,
            };
            store_cmds::export(Setup::load(globals)?, request)
        }
        Command::Quarantine {
            action: QuarantineCmd::List { format, limit },
        } => store_cmds::quarantine_list(Setup::load(globals)?, format, limit),
        Command::Status { format } => store_cmds::status(Setup::load(globals)?, format),
        Command::Serve { stdin } => engine_cmds::serve(Setup::load(globals)?, stdin),
        Command::Demo { seed } => {
            // Only an explicit --data-dir: a VIGIL_DATA_DIR (or a configured data_dir) meant for real data must
            // not get the demo's synthetic events.
            let explicit = std::env::args_os()
                .any(|a| a == "--data-dir" || a.to_string_lossy().starts_with("--data-dir="));
            let dir = if explicit {
                globals.data_dir.clone()
            } else {
                None
            };
            engine_cmds::demo(Setup::load(globals)?, dir, seed)
        }
    }
}
