//! The command line's shape (DESIGN §8), as clap derives it: every subcommand, flag and format. No behaviour.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    Export(ExportArgs),
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
    /// Scan files at rest, or a whole Atlassian site (--site), for secrets and personal data: one row per
    /// finding.
    Scan(ScanArgs),
    /// Validate the configuration; every error is named with its place.
    Check,
    /// Headless engine: follow the configured sources, detect, keep retention, until SIGTERM or SIGINT.
    Serve {
        /// Also read events from standard input until it ends.
        #[arg(long)]
        stdin: bool,
    },
    /// Where alerts are delivered: list the integrations with their health, or send a test alert.
    Integrations {
        #[command(subcommand)]
        action: IntegrationsCmd,
    },
    /// Engine and store figures: events, alerts by status, quarantined, backlog, outbox, schema, size.
    ///
    /// JSON keys (stable): engine, data_dir, schema_version, store_bytes, live_bytes, events, quarantined, backlog,
    /// alerts {open, acknowledged, expected, true_positive, total}, outbox_pending, outbox_dead.
    Status {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Rebuild the store into a fresh database (crash-safe): gives back the space of rewritten and deleted
    /// data that the database keeps, and packs and compresses every event run again.
    Compact,
    /// The terminal UI over a synthetic organization with a month of history and a live event stream
    /// (a temporary data dir, removed on exit, unless --data-dir is given).
    Demo {
        #[arg(long, default_value_t = 1, value_name = "N")]
        seed: u64,
    },
}

/// `vigil integrations …`
#[derive(Debug, Subcommand)]
pub enum IntegrationsCmd {
    /// Each configured integration: kind, endpoint (masked), routing, health, outbox depth, dead letters.
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Send a test alert (marked as a test) to one integration now and say what it answered; exit 1 unless it
    /// accepted. Jira is checked with a search (no issue is created).
    Test {
        /// The integration's name.
        name: String,
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

/// `vigil scan`'s arguments: files (PATH…) or a site (--site …), not both.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["paths", "site"]))]
pub struct ScanArgs {
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Files or directories to scan.
    #[arg(value_name = "PATH", conflicts_with = "site")]
    pub paths: Vec<PathBuf>,
    /// Scan this Atlassian Cloud site's content at rest (https://ORG.atlassian.net): Confluence pages and
    /// blog posts, Jira work items with their comments. Rows: finding_id, detection, app, container, title,
    /// link, redacted, fingerprint.
    #[arg(long, value_name = "URL", requires_all = ["user", "token"])]
    pub site: Option<String>,
    /// The Atlassian account's e-mail (HTTP Basic user).
    #[arg(long, value_name = "EMAIL", requires = "site")]
    pub user: Option<String>,
    /// Its API token, as env:NAME or file:PATH (never the token itself: it would show in ps and shell
    /// history).
    #[arg(long, value_name = "env:NAME|file:PATH", requires = "site")]
    pub token: Option<String>,
    /// Scan Confluence (with neither --confluence nor --jira: both).
    #[arg(long, requires = "site")]
    pub confluence: bool,
    /// Scan Jira (with neither --confluence nor --jira: both).
    #[arg(long, requires = "site")]
    pub jira: bool,
    /// Also raise each finding as an alert in the store, once per secret and place across scans.
    #[arg(long, requires = "site")]
    pub alerts: bool,
    /// Discard the saved position of an interrupted scan of this site and start over.
    #[arg(long, requires = "site")]
    pub restart: bool,
    /// Items asked for per API page (Jira takes at most 100, Confluence 250).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=250))]
    pub page_size: u32,
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

/// `vigil export`'s arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// csv (the contract's columns, formula cells neutralised) or json (one alert per line).
    #[arg(long, value_enum)]
    pub format: Format,
    /// Created at or after (RFC 3339, YYYY-MM-DD, or a span back from now such as 7d, 12h).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Created before (same forms as --since).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// open, acknowledged, expected or true_positive (repeat or comma-separate for several).
    #[arg(long, value_name = "S", value_delimiter = ',')]
    pub status: Vec<String>,
    /// Detection id, e.g. page-crawling.
    #[arg(long, value_name = "D")]
    pub detection: Option<String>,
    /// Actor id, e-mail or full name.
    #[arg(long, value_name = "A")]
    pub actor: Option<String>,
    /// A query in the UI's `/` filter language, e.g. "assignee:me sev:>=high since:7d"; `assignee:me` is
    /// the name the UI's "assign to me" writes (the passwd name). Combines with the flags above, which must
    /// not name the same thing again.
    #[arg(long, value_name = "QUERY")]
    pub filter: Option<String>,
    /// Write here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
}
