//! `vigil scan --site`: the content scan of a whole Atlassian Cloud site at rest (Guard Detect's "content
//! scan"). Confluence pages and blog posts (REST v2, storage format) and Jira work items (JQL search, ADF
//! descriptions and comments) are read page by page with HTTP Basic auth, and every title, body, summary,
//! description and comment goes through the same [`ContentScanner`] as the pipeline's content events.
//!
//! Decisions, so an operator knows what a result means:
//! - **What is read**: the text a person wrote. Storage-format tags are removed (inline ones such as
//!   `<span>` without a trace, so a secret split by formatting is read whole; block ones as line breaks),
//!   entities decoded, code macros' CDATA kept verbatim, link targets kept as words. ADF text nodes are
//!   joined, blocks and hard breaks are line breaks, ADF deeper than the JSON parser's limit is scanned as
//!   raw JSON. Attachments, page history and Jira custom fields are not read.
//! - **Output exactly once, even across a kill**: rows are not printed as pages are read. Each page's rows
//!   are appended to a findings file in the data dir and synced, then the position that covers them (the
//!   cursor of the next page, counters, the findings file's length) replaces the saved one atomically (see
//!   `state.rs`). A killed scan prints nothing; run again, it cuts the findings file back to the saved length
//!   (rows of a page whose position was never saved), reads on from the saved cursor, and when every stream
//!   is done prints every row, then removes its files. So the rows printed are the same, in the same order, as
//!   an uninterrupted scan's: none lost, none twice. The price: rows come at the end, not as found; the
//!   progress line counts them meanwhile, and the findings file (redacted rows only, owner-only) can be read
//!   while a scan runs. A scan whose printing fails (a closed pipe) keeps its files, so the next run prints
//!   the rows again without reading the site. `--restart` discards a saved position.
//! - **Alerts** (`--alerts`): raised per page before its position is saved; a page read twice after a
//!   kill raises nothing twice, because alerts are deduplicated by fingerprint and place (see `alerts.rs`).
//! - **Hostile servers**: a `next` link is followed only on the site's own origin (only its cursor is used, so
//!   the request goes where vigil builds it), redirects are never followed, a cursor that comes back within a
//!   run is a loop and stops the scan, bodies are capped ([`SiteScanOptions::max_page_bytes`]; a page over the
//!   cap is asked for again with half as many items), 401/403 stop the scan naming the status, 429 and 5xx
//!   are asked again after `Retry-After` (capped) with a jittered backoff, and a page that is not what the
//!   API returns is an error naming its URL. The token is only ever sent in the `Authorization` header: it is
//!   in no URL, no message and no log line.
//! - **Fingerprints** use the engine's private key (`[engine] fingerprint_key`, else the store's own): a
//!   public key would let anyone brute-force short secrets (an SSN, a card number) back from them.
//!
//! Runs on the calling thread with a current-thread tokio runtime of its own, one request at a time (the
//! APIs' rate limits are per user, and a scan is not in a hurry).

mod alerts;
mod confluence;
mod http;
mod jira;
mod progress;
mod rows;
mod state;
pub mod text;

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::Utc;
use serde::Deserialize;

pub use progress::Progress;
pub use rows::{COLUMNS, Row, finding_id};

use crate::detect::content::{ContentScanner, fingerprint};
use crate::detect::tuning::Tuning;
use crate::model::Alert;
use crate::store::{Store, StoreError};
use http::{Client, Site, Wait};
use state::{ScanFiles, ScanState};

/// How a site scan talks to the site. The defaults suit Atlassian Cloud; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct SiteScanOptions {
    /// Items asked for per page (Confluence allows up to 250, Jira's search 100).
    pub page_size: u32,
    /// A page body larger than this is not read (then asked for again with fewer items).
    pub max_page_bytes: usize,
    /// Per-request timeout, the body included.
    pub timeout: Duration,
    /// First backoff after a failure; doubled per failure in a row, with jitter.
    pub retry_base: Duration,
    /// Longest backoff, and the longest `Retry-After` honoured.
    pub retry_cap: Duration,
    /// Failures in a row on one request before the scan stops (it can be resumed).
    pub max_retries: u32,
}

impl Default for SiteScanOptions {
    fn default() -> Self {
        Self {
            page_size: 100,
            max_page_bytes: 64 << 20,
            timeout: Duration::from_secs(120),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(120),
            max_retries: 8,
        }
    }
}

/// How rows are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// [`COLUMNS`] as a header row, then RFC 4180 rows (formula cells neutralised).
    #[default]
    Csv,
    /// One JSON object per row per line, with the same keys.
    Json,
}

/// The API token: sent in the `Authorization` header and nowhere else; `Debug` does not show it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wrap a resolved token.
    pub fn new(token: String) -> Self {
        Self(token)
    }

    fn expose(&self) -> &str {
        &self.0
    }

    /// The forms in which the token could leak: itself, and the Basic credentials it makes with `user`.
    fn forms(&self, user: &str) -> [String; 2] {
        [
            self.0.clone(),
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", self.0)),
        ]
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

/// What to scan, how, and where to keep the position.
pub struct SiteScan {
    /// `https://ORG.atlassian.net`.
    pub site: String,
    /// The account's e-mail (Basic auth user).
    pub user: String,
    /// The account's API token.
    pub token: Token,
    /// Scan Confluence (pages and blog posts).
    pub confluence: bool,
    /// Scan Jira work items.
    pub jira: bool,
    /// CSV or JSON lines.
    pub format: OutputFormat,
    /// Where positions and findings are kept between runs (`<data-dir>/site-scan`).
    pub state_dir: PathBuf,
    /// Discard a saved position and start over.
    pub restart: bool,
    /// Key of the findings' fingerprints: the engine's private key.
    pub fingerprint_key: Vec<u8>,
    /// Scanner switches and custom detections; detection switches and exclusions for `--alerts`.
    pub tuning: Tuning,
    /// Raise alerts here (`--alerts`): the store, or a running `vigil serve` that holds it.
    pub alerts: Option<Box<dyn AlertSink>>,
    /// Page size, caps, timeouts and retries.
    pub options: SiteScanOptions,
}

/// Where `--alerts` raises alerts: the store itself, or a running `vigil serve` that holds it (the CLI
/// speaks to it over the control socket). Either way a finding's alert is raised once across scans.
pub trait AlertSink {
    /// Whether group `key` has an alert already. A sink that deduplicates as it raises may answer `false`.
    fn has_group(&mut self, key: &str) -> Result<bool, SiteScanError>;
    /// Raise one page's new alerts durably; how many were raised.
    fn raise(&mut self, alerts: Vec<Alert>) -> Result<u64, SiteScanError>;
}

impl AlertSink for Store {
    fn has_group(&mut self, key: &str) -> Result<bool, SiteScanError> {
        Ok(self.latest_in_group(key)?.is_some())
    }

    fn raise(&mut self, alerts: Vec<Alert>) -> Result<u64, SiteScanError> {
        self.save_alerts(&alerts)?;
        self.flush()?;
        Ok(alerts.len() as u64)
    }
}

/// What a finished scan covered (over all its runs when it was resumed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteScanSummary {
    /// The site's origin.
    pub site: String,
    /// Items scanned, per app (`confluence`, `jira`).
    pub items_by_app: Vec<(&'static str, u64)>,
    /// Rows printed.
    pub findings: u64,
    /// New alerts raised, when asked to.
    pub alerts: Option<u64>,
    /// API pages read.
    pub pages: u64,
    /// Requests asked again (429, 5xx, no answer).
    pub retries: u64,
    /// Whether this run continued a saved position.
    pub resumed: bool,
    /// Items read by this run, and how long it took.
    pub run_items: u64,
    pub elapsed: Duration,
}

impl SiteScanSummary {
    /// Items of every app.
    pub fn items(&self) -> u64 {
        self.items_by_app.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for SiteScanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let apps: Vec<String> = self
            .items_by_app
            .iter()
            .map(|(a, n)| format!("{a}={n}"))
            .collect();
        write!(
            f,
            "site scan of {}: items={} ({}) findings={}",
            self.site,
            self.items(),
            apps.join(" "),
            self.findings
        )?;
        if let Some(a) = self.alerts {
            write!(f, " alerts={a}")?;
        }
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.run_items as f64 / secs
        } else {
            0.0
        };
        write!(
            f,
            " pages={} retries={}{} in {secs:.1} s ({rate:.0} items/s)",
            self.pages,
            self.retries,
            if self.resumed { " resumed" } else { "" }
        )
    }
}

/// Why a site scan stopped. Never holds the token.
#[derive(Debug, thiserror::Error)]
pub enum SiteScanError {
    #[error("--site {0}")]
    Site(String),
    #[error("scanner configuration: {0}")]
    Config(String),
    /// Raising the findings' alerts failed (through `vigil serve`); the scan stops and can be resumed.
    #[error("raising alerts: {0}; scan stopped, run it again to resume")]
    Alerts(String),
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
    #[error(
        "{url} answered HTTP {status}: the site refused the credentials (check --user and --token, and that the account may read it); scan stopped"
    )]
    Refused { status: String, url: String },
    #[error("{url} answered HTTP {status}; scan stopped")]
    Status { status: String, url: String },
    #[error(
        "{url}: no answer after {tries} tries (last: {why}); scan stopped, run it again to resume"
    )]
    GaveUp {
        url: String,
        why: String,
        tries: u32,
    },
    #[error("{url}: {why}; scan stopped")]
    Malformed { url: String, why: String },
    #[error("{url}: the next link points to another origin ({to}); not followed, scan stopped")]
    ForeignLink { url: String, to: String },
    #[error(
        "{url}: the site gave the cursor of an earlier page again ({stream}, after {pages} pages this run): a loop; scan stopped"
    )]
    Loop {
        url: String,
        stream: &'static str,
        pages: u64,
    },
    #[error("{url}: {empty} pages in a row without an item but with a next cursor; scan stopped")]
    Empty { url: String, empty: u32 },
    #[error("{url}: page larger than {max} bytes even with one item per page; scan stopped")]
    TooBig { url: String, max: usize },
    #[error("scan position {0}")]
    State(String),
    #[error("another `vigil scan --site` of this site is running (it holds {0})")]
    Busy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the findings: {0}")]
    Output(#[from] std::io::Error),
    #[error("writing the findings: {0}")]
    Csv(#[from] csv::Error),
}

impl SiteScanError {
    /// Whether the reader of the output went away (`| head`): its choice, not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
            || matches!(self, Self::Csv(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe))
    }
}

/// A page body the parser refused, as an error naming the page.
fn malformed(url: &reqwest::Url, e: &serde_json::Error) -> SiteScanError {
    let why = match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("the answer is not valid JSON ({e})")
        }
        _ => format!("the answer is not what the API returns ({e})"),
    };
    SiteScanError::Malformed {
        url: url.to_string(),
        why,
    }
}

/// An id the APIs give as a string or a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(u64),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Number(n) => n.to_string(),
        }
    }
}

/// One text of an item.
#[derive(Debug, Clone)]
struct Field {
    /// `title`, `body`, `summary`, `description` or `comment:<id>`.
    name: String,
    text: String,
    /// Where this field is shown, when not at the item's link (a comment).
    link: Option<String>,
    /// Who wrote it (account id, display name), when the API says.
    author: Option<(String, Option<String>)>,
}

/// A page, blog post or work item: the first field is its title.
#[derive(Debug, Clone)]
struct Item {
    app: &'static str,
    id: String,
    container: String,
    title: String,
    link: String,
    author: Option<(String, Option<String>)>,
    fields: Vec<Field>,
}

/// One page of items and the cursor of the next one (`None`: the last page).
struct PageOut {
    items: Vec<Item>,
    next: Option<String>,
}

/// The streams of items a scan reads, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Pages,
    Blogposts,
    Issues,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Self::Pages => "confluence-pages",
            Self::Blogposts => "confluence-blogposts",
            Self::Issues => "jira-issues",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Pages => "confluence pages",
            Self::Blogposts => "confluence blog posts",
            Self::Issues => "jira work items",
        }
    }

    fn app(self) -> &'static str {
        match self {
            Self::Pages | Self::Blogposts => "confluence",
            Self::Issues => "jira",
        }
    }
}

/// Most pages in a row with no item but a next cursor before the scan calls it a loop.
const MAX_EMPTY_PAGES: u32 = 50;

/// Check `--site` before anything else is done: an `https://` origin (plain `http://` to this host only).
pub fn check_site(site: &str) -> Result<(), SiteScanError> {
    Site::parse(site).map(|_| ())
}

/// Run the scan: read every stream from its saved position to its end, then write every row to `out`. See the
/// module docs for what is read, how a kill is survived and what stops a scan.
pub fn run(
    mut scan: SiteScan,
    out: &mut dyn Write,
    progress: &mut Progress,
) -> Result<SiteScanSummary, SiteScanError> {
    let started = Instant::now();
    let site = Site::parse(&scan.site)?;
    let scanner =
        ContentScanner::new(&scan.tuning, &scan.fingerprint_key).map_err(SiteScanError::Config)?;
    let mut streams = Vec::new();
    let (confluence, jira) = match (scan.confluence, scan.jira) {
        (false, false) => (true, true),
        both => both,
    };
    if confluence {
        streams.extend([Stream::Pages, Stream::Blogposts]);
    }
    if jira {
        streams.push(Stream::Issues);
    }
    let names: Vec<&str> = streams.iter().map(|s| s.name()).collect();
    let files = ScanFiles::lock(
        &scan.state_dir,
        &state::scan_name(&site.base, site.host(), &names),
    )?;
    if scan.restart {
        files.remove()?;
    }
    let key_check = fingerprint(&scan.fingerprint_key, b"vigil-site-scan:key-check");
    let fresh = || ScanState::new(&site.base, &key_check, &names);
    let mut st = match files.load()? {
        Some(s) if s.key_check != key_check => {
            progress.note(&format!(
                "the fingerprint key changed since the saved scan of {}; starting over",
                site.base
            ));
            files.remove()?;
            fresh()
        }
        Some(s)
            if s.streams
                .iter()
                .map(|x| x.name.as_str())
                .ne(names.iter().copied()) =>
        {
            files.remove()?;
            fresh()
        }
        Some(s) => s,
        None => fresh(),
    };
    let resumed = st.started();
    if resumed {
        progress.note(&format!(
            "resuming the scan of {} from its saved position ({} items, {} findings so far)",
            site.base,
            st.items(),
            st.findings()
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SiteScanError::Client(e.to_string()))?;
    let mut ctx = Ctx {
        client: Client::new(&scan.user, scan.token.clone(), scan.options.clone())?,
        site: site.clone(),
        scanner,
        tuning: &scan.tuning,
        store: scan.alerts.as_deref_mut(),
        files: &files,
        writer: files.findings_writer(st.findings_len)?,
        page_size: scan.options.page_size.max(1),
        started,
        run_items: 0,
        retries_before: st.retries,
    };
    runtime.block_on(ctx.scan_all(&streams, &mut st, progress))?;
    let run_items = ctx.run_items;
    drop(ctx);
    progress.clear();

    let mut sink = rows::Sink::new(scan.format, out)?;
    let mut written = 0u64;
    for line in files.findings_reader(st.findings_len)? {
        let row: Row = serde_json::from_str(&line?).map_err(|e| {
            SiteScanError::State(format!(
                "findings file: a row is damaged ({e}); --restart starts over"
            ))
        })?;
        sink.write(&row)?;
        written += 1;
    }
    sink.finish()?;
    files.remove()?;
    let mut by_app: Vec<(&'static str, u64)> = Vec::new();
    for (s, kind) in st.streams.iter().zip(&streams) {
        match by_app.iter_mut().find(|(a, _)| *a == kind.app()) {
            Some(e) => e.1 += s.items,
            None => by_app.push((kind.app(), s.items)),
        }
    }
    Ok(SiteScanSummary {
        site: site.base,
        items_by_app: by_app,
        findings: written,
        alerts: scan.alerts.as_ref().map(|_| st.alerts),
        pages: st.pages(),
        retries: st.retries,
        resumed,
        run_items,
        elapsed: started.elapsed(),
    })
}

/// A scan under way.
struct Ctx<'a> {
    client: Client,
    site: Site,
    scanner: ContentScanner,
    tuning: &'a Tuning,
    store: Option<&'a mut (dyn AlertSink + 'static)>,
    files: &'a ScanFiles,
    writer: state::FindingsWriter,
    page_size: u32,
    started: Instant,
    run_items: u64,
    retries_before: u64,
}

impl Ctx<'_> {
    async fn scan_all(
        &mut self,
        streams: &[Stream],
        st: &mut ScanState,
        progress: &mut Progress,
    ) -> Result<(), SiteScanError> {
        let mut spaces = confluence::Spaces::default();
        for (i, &stream) in streams.iter().enumerate() {
            if st.streams[i].done {
                continue;
            }
            let total = match stream {
                Stream::Issues => {
                    let mut on_wait = |_: &Wait| {};
                    jira::approximate_count(&mut self.client, &self.site, &mut on_wait).await
                }
                _ => None,
            };
            let mut limit = match stream {
                Stream::Issues => self.page_size.min(100),
                _ => self.page_size.min(250),
            };
            // Cursors met by this run: one coming back is a loop.
            let mut seen: HashSet<String> = st.streams[i].cursor.iter().cloned().collect();
            let mut empty_run: u32 = 0;
            let mut run_pages: u64 = 0;
            loop {
                let cursor = st.streams[i].cursor.clone();
                let url = match stream {
                    Stream::Pages => confluence::page_url(
                        &self.site,
                        confluence::Kind::Pages,
                        cursor.as_deref(),
                        limit,
                    ),
                    Stream::Blogposts => confluence::page_url(
                        &self.site,
                        confluence::Kind::Blogposts,
                        cursor.as_deref(),
                        limit,
                    ),
                    Stream::Issues => jira::page_url(&self.site, cursor.as_deref(), limit),
                };
                let findings = st.findings();
                let stream_items = st.streams[i].items;
                let (started, run_items) = (self.started, self.run_items);
                let mut on_wait = |w: &Wait| {
                    let text = format!("{}; retrying in {:.1} s", w.why, w.wait.as_secs_f64());
                    progress.update(
                        &progress::Snapshot {
                            stream: stream.label(),
                            stream_items,
                            stream_total: total,
                            findings,
                            run_items,
                            elapsed: started.elapsed(),
                            waiting: Some(&text),
                        },
                        true,
                    );
                };
                let got = match stream {
                    Stream::Pages | Stream::Blogposts => {
                        let kind = if stream == Stream::Pages {
                            confluence::Kind::Pages
                        } else {
                            confluence::Kind::Blogposts
                        };
                        confluence::page(
                            &mut self.client,
                            &self.site,
                            &mut spaces,
                            kind,
                            cursor.as_deref(),
                            limit,
                            &mut on_wait,
                        )
                        .await
                    }
                    Stream::Issues => {
                        jira::page(
                            &mut self.client,
                            &self.site,
                            cursor.as_deref(),
                            limit,
                            &mut on_wait,
                        )
                        .await
                    }
                };
                let page = match got {
                    Ok(p) => p,
                    Err(SiteScanError::TooBig { .. }) if limit > 1 => {
                        limit = (limit / 2).max(1);
                        tracing::info!(
                            stream = stream.name(),
                            limit,
                            "page over the size cap; asking for fewer items"
                        );
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                run_pages += 1;
                if let Some(next) = &page.next
                    && !seen.insert(next.clone())
                {
                    return Err(SiteScanError::Loop {
                        url: url.to_string(),
                        stream: stream.name(),
                        pages: run_pages,
                    });
                }
                if page.items.is_empty() && page.next.is_some() {
                    empty_run += 1;
                    if empty_run >= MAX_EMPTY_PAGES {
                        return Err(SiteScanError::Empty {
                            url: url.to_string(),
                            empty: empty_run,
                        });
                    }
                } else {
                    empty_run = 0;
                }
                self.take_page(stream, i, page, st)?;
                progress.update(
                    &progress::Snapshot {
                        stream: stream.label(),
                        stream_items: st.streams[i].items,
                        stream_total: total,
                        findings: st.findings(),
                        run_items: self.run_items,
                        elapsed: self.started.elapsed(),
                        waiting: None,
                    },
                    false,
                );
                if st.streams[i].done {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Scan a page's items, raise their alerts, keep their rows, and save the position after it.
    fn take_page(
        &mut self,
        stream: Stream,
        i: usize,
        page: PageOut,
        st: &mut ScanState,
    ) -> Result<(), SiteScanError> {
        let now = Utc::now();
        let mut lines: Vec<u8> = Vec::new();
        let mut new_alerts = Vec::new();
        let mut raiser = self.store.as_deref_mut().map(|store| alerts::Raiser {
            store,
            tuning: self.tuning,
            site: &self.site.base,
            now,
            batch: HashSet::new(),
        });
        let mut found_rows = 0u64;
        for item in &page.items {
            let (rows, found) = rows::scan_item(&self.scanner, &self.site.base, item);
            if let (Some(raiser), Some(first)) = (raiser.as_mut(), rows.first()) {
                new_alerts.extend(raiser.drafts(item, &first.title, &found)?);
            }
            for r in &rows {
                serde_json::to_writer(&mut lines, r).map_err(std::io::Error::from)?;
                lines.push(b'\n');
            }
            found_rows += rows.len() as u64;
        }
        drop(raiser);
        if let Some(store) = self.store.as_deref_mut()
            && !new_alerts.is_empty()
        {
            st.alerts += store.raise(new_alerts)?;
        }
        st.findings_len = self.writer.append(&lines)?;
        let n = page.items.len() as u64;
        let s = &mut st.streams[i];
        s.pages += 1;
        s.items += n;
        s.findings += found_rows;
        s.done = page.next.is_none();
        s.cursor = page.next;
        st.retries = self.retries_before + self.client.retries;
        self.files.save(st)?;
        self.run_items += n;
        tracing::debug!(
            stream = stream.name(),
            items = n,
            findings = found_rows,
            "site scan page done"
        );
        Ok(())
    }
}
