//! `vigil.toml` (DESIGN §10): parsing, validation and the [`Tuning`] the detector is built from.
//!
//! The file is walked from toml's spanned document tree rather than deserialised with serde, so that one
//! pass reports *every* problem — each with its file, line and dotted key — instead of stopping at the first.
//! Decisions:
//! - Unknown keys are errors (a misspelt `sensitivty` silently ignored would leave a detection untuned).
//! - Secrets (`token`, `secret`, integration `url`) stay unresolved [`SecretRef`]s; their `Debug` and
//!   `Display` never show a literal value. A file holding a literal secret must not be world-readable.
//! - `until` of an exclusion is an RFC 3339 date-time, or a date, meaning through the end of that day (UTC).
//! - `[scanners] disabled = [...]` lists scanner ids to switch off.
//! - `[actions]` entries add real keys to a catalogue key; `"!key"` removes one (see `detect::engine`).
//!
//! No I/O beyond reading the file and its permissions; secrets are resolved only by [`SecretRef::resolve`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::detect::catalogue::{self, DetectionKind};
use crate::detect::tuning::{
    CustomDetection, DetectionSettings, Exclusion, ExclusionKind, Sensitivity, Tuning,
};
use crate::model::Severity;

/// Custom detection limits (DESIGN §5), shared with the content scanner so both reject the same things.
pub use crate::detect::content::{
    MAX_CUSTOM_DETECTIONS, MAX_TERMS as MAX_CUSTOM_TERMS, TERM_CHARS as CUSTOM_TERM_CHARS,
};

/// One problem in a configuration file, with enough to find and fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as given to [`load`] or [`parse`].
    pub path: PathBuf,
    /// 1-based line; `None` for problems of the file as a whole (unreadable, permissions).
    pub line: Option<usize>,
    /// Dotted key (`detections.page-crawling.sensitivity`); empty for syntax errors.
    pub key: String,
    /// What is wrong, with the bad value in quotes and what would be accepted.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a configuration file, in file order. `Display` prints one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Where a secret comes from. Kept unresolved so the config can be printed, compared and stored without the
/// secret, and so rotating an env var or file needs no config change.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The value itself, written in the file.
    Literal(String),
    /// `env:NAME`: read from the environment at use.
    Env(String),
    /// `file:PATH`: read from a file at use (trailing newline trimmed).
    File(PathBuf),
}

/// Why a secret could not be resolved; never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// `env:NAME` with `NAME` unset.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// `file:PATH` that cannot be read.
    #[error("cannot read secret file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

impl SecretRef {
    /// Parse `env:NAME`, `file:PATH` or a literal.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(name) = s.strip_prefix("env:") {
            let ok = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(format!("'{name}' is not an environment variable name"));
            }
            Ok(Self::Env(name.to_string()))
        } else if let Some(path) = s.strip_prefix("file:") {
            if path.trim().is_empty() {
                return Err("'file:' needs a path".to_string());
            }
            Ok(Self::File(PathBuf::from(path)))
        } else if s.is_empty() {
            Err("is empty; give a value, env:NAME or file:PATH".to_string())
        } else {
            Ok(Self::Literal(s.to_string()))
        }
    }

    /// Whether the secret is written in the config file itself.
    pub fn is_literal(&self) -> bool {
        matches!(self, Self::Literal(_))
    }

    /// The secret's value, read now. Call at use, never to log.
    pub fn resolve(&self) -> Result<String, SecretError> {
        match self {
            Self::Literal(s) => Ok(s.clone()),
            Self::Env(name) => {
                std::env::var(name).map_err(|_| SecretError::MissingEnv(name.clone()))
            }
            Self::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| SecretError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                }),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(_) => f.write_str("********"),
            Self::Env(name) => write!(f, "env:{name}"),
            Self::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

/// `[engine]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineConfig {
    /// Data directory; `VIGIL_DATA_DIR` and `--data-dir` win over it.
    pub data_dir: Option<PathBuf>,
    /// Key of the content fingerprints. Unset, each store makes a random one (fingerprints then only compare
    /// within one store); set it (`env:NAME` or `file:PATH`) so that several stores give equal fingerprints.
    pub fingerprint_key: Option<SecretRef>,
}

/// `[retention]`: how long events and alerts are kept, in days; 0 keeps them forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Days events are kept (default 400).
    pub events_days: u32,
    /// Days alerts are kept (default 0: forever).
    pub alerts_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            events_days: 400,
            alerts_days: 0,
        }
    }
}

/// `[scanners]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScannersConfig {
    /// Scanner ids switched off (`email-addresses`, `payment-card`…).
    pub disabled: BTreeSet<String>,
}

/// Default HTTP receiver address: loopback only (DESIGN §7).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8717";
/// Default HTTP receiver body cap.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// Default organizations API base.
pub const DEFAULT_API_URL: &str = "https://api.atlassian.com";

/// `[[sources]]`: where events come from, one variant per `kind` with its defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceConfig {
    /// `kind = "http"`: the audit-log webhook receiver; requests must carry `token`.
    Http {
        /// Bind address (default `127.0.0.1:8717`).
        listen: SocketAddr,
        /// Bearer or Basic credential requests must carry.
        token: SecretRef,
        /// Larger bodies are refused with 413 (default 10 MiB).
        max_body_bytes: u64,
    },
    /// `kind = "file"`: a JSON-lines file followed like `tail -F`.
    File {
        /// The file to follow.
        path: PathBuf,
    },
    /// `kind = "atlassian_api"`: polls the organizations events API.
    AtlassianApi {
        /// Organization id.
        org_id: String,
        /// Organization admin API key.
        token: SecretRef,
        /// API base (default `https://api.atlassian.com`).
        url: String,
        /// Seconds between polls (default 60).
        poll_secs: u64,
    },
}

/// Integration kinds of DESIGN §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IntegrationKind {
    /// Slack incoming webhook (Block Kit).
    Slack,
    /// Teams Workflows webhook (Adaptive Card).
    Teams,
    /// Jira issue creation over REST.
    Jira,
    /// Generic JSON webhook signed per Standard Webhooks.
    Webhook,
    /// Splunk HTTP Event Collector.
    SplunkHec,
    /// Raw audit events forwarded to a SIEM.
    AuditForward,
}

impl IntegrationKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [IntegrationKind; 6] = [
        Self::Slack,
        Self::Teams,
        Self::Jira,
        Self::Webhook,
        Self::SplunkHec,
        Self::AuditForward,
    ];

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Jira => "jira",
            Self::Webhook => "webhook",
            Self::SplunkHec => "splunk_hec",
            Self::AuditForward => "audit_forward",
        }
    }
}

/// `[[integrations]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationConfig {
    /// Unique; the outbox and the integrations pane key on it.
    pub name: String,
    /// Which payload format and transport it uses.
    pub kind: IntegrationKind,
    /// Endpoint; a secret itself for Slack and Teams webhooks.
    pub url: SecretRef,
    /// Signing key (webhook: Standard Webhooks `whsec_…`).
    pub secret: Option<SecretRef>,
    /// API token (Jira, Splunk HEC).
    pub token: Option<SecretRef>,
    /// Jira account e-mail for Basic auth.
    pub user: Option<String>,
    /// Jira project key.
    pub project: Option<String>,
    /// Jira issue type (default `Task` at delivery).
    pub issue_type: Option<String>,
    /// Alerts below this severity are not sent.
    pub min_severity: Severity,
    /// Detection ids to forward; empty = all.
    pub detections: Vec<String>,
    /// A disabled integration keeps its outbox but sends nothing.
    pub enabled: bool,
}

/// `[roles]`: unix users (`alice`), groups (`group:secops`) or `*` per role, for attached UIs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolesConfig {
    /// May tune detections, manage integrations and export.
    pub admin: Vec<String>,
    /// May triage: status, assignee, notes, forwarding.
    pub responder: Vec<String>,
    /// May read.
    pub viewer: Vec<String>,
}

/// A validated `vigil.toml`. `Config::default()` is what runs when there is no file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The file it came from, `None` for the default.
    pub path: Option<PathBuf>,
    /// `[engine]`.
    pub engine: EngineConfig,
    /// `[retention]`.
    pub retention: RetentionConfig,
    /// Catalogue action key → real keys (`"!key"` removes).
    pub actions: BTreeMap<String, Vec<String>>,
    /// `[detections.<id>]`, keyed by detection id.
    pub detections: BTreeMap<String, DetectionSettings>,
    /// `[scanners]`.
    pub scanners: ScannersConfig,
    /// `[[custom_detections]]`, in file order.
    pub custom_detections: Vec<CustomDetection>,
    /// `[[sources]]`, in file order.
    pub sources: Vec<SourceConfig>,
    /// `[[integrations]]`, in file order, names unique.
    pub integrations: Vec<IntegrationConfig>,
    /// `[roles]`.
    pub roles: RolesConfig,
}

impl Config {
    /// The detector's view of this configuration.
    pub fn tuning(&self) -> Tuning {
        Tuning {
            detections: self.detections.clone(),
            disabled_scanners: self.scanners.disabled.clone(),
            custom: self.custom_detections.clone(),
            actions: self.actions.clone(),
        }
    }

    /// Whether any secret is written into the file (so it must not be world-readable).
    pub fn has_literal_secrets(&self) -> bool {
        self.sources.iter().any(|s| match s {
            SourceConfig::Http { token, .. } | SourceConfig::AtlassianApi { token, .. } => {
                token.is_literal()
            }
            SourceConfig::File { .. } => false,
        }) || self.integrations.iter().any(|i| {
            (url_is_secret(i.kind) && i.url.is_literal())
                || i.secret.as_ref().is_some_and(SecretRef::is_literal)
                || i.token.as_ref().is_some_and(SecretRef::is_literal)
        })
    }
}

/// Slack and Teams webhook URLs carry their credential in the URL.
fn url_is_secret(kind: IntegrationKind) -> bool {
    matches!(kind, IntegrationKind::Slack | IntegrationKind::Teams)
}

/// Read, parse and validate a configuration file, reporting every problem at once.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            path: path.to_path_buf(),
            line: None,
            key: String::new(),
            message: format!("cannot read: {e}"),
        }])
    })?;
    let (config, mut errors, first_literal) = parse_inner(&src, path);
    if let Some((key, line)) = first_literal
        && let Some(mode) = world_readable_mode(path)
    {
        errors.push(ConfigError {
            path: path.to_path_buf(),
            line: Some(line),
            key,
            message: format!(
                "a literal secret in a world-readable file (mode {mode:04o}); run chmod 600 on it, or use env:NAME or file:PATH"
            ),
        });
    }
    finish(config, errors)
}

/// Parse and validate configuration text (no permission check: there is no file). `path` names it in errors.
pub fn parse(src: &str, path: &Path) -> Result<Config, ConfigErrors> {
    let (config, errors, _) = parse_inner(src, path);
    finish(config, errors)
}

fn finish(config: Config, mut errors: Vec<ConfigError>) -> Result<Config, ConfigErrors> {
    if errors.is_empty() {
        Ok(config)
    } else {
        errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        Err(ConfigErrors(errors))
    }
}

#[cfg(unix)]
fn world_readable_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o004 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn world_readable_mode(_path: &Path) -> Option<u32> {
    None
}

type Value<'a> = Spanned<DeValue<'a>>;

/// Walks the document, collecting errors with their lines.
struct Walker<'s> {
    src: &'s str,
    path: &'s Path,
    errors: Vec<ConfigError>,
    /// First literal secret seen (key, line), for the permission check.
    first_literal: Option<(String, usize)>,
}

impl<'s> Walker<'s> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.src.len());
        self.src.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn err(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let line = self.line(&span);
        self.errors.push(ConfigError {
            path: self.path.to_path_buf(),
            line: Some(line),
            key: key.to_string(),
            message: message.into(),
        });
    }

    fn type_err(&mut self, v: &Value<'_>, key: &str, expected: &str) {
        let got = v.get_ref().type_str();
        self.err(v.span(), key, format!("expected {expected}, found {got}"));
    }

    /// Report keys of `table` not in `allowed`.
    fn unknown(&mut self, table: &DeTable<'_>, prefix: &str, allowed: &[&str], what: &str) {
        for (k, _) in table.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                let key = join(prefix, k.get_ref());
                let hint = match closest(k.get_ref(), allowed.iter().copied()) {
                    Some(near) => format!("did you mean '{near}'?"),
                    None => format!("expected one of: {}", allowed.join(", ")),
                };
                self.err(
                    k.span(),
                    &key,
                    format!("unknown key '{}' in {what}; {hint}", k.get_ref()),
                );
            }
        }
    }

    fn table<'v, 'a>(&mut self, v: &'v Value<'a>, key: &str) -> Option<&'v DeTable<'a>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.type_err(v, key, "a table");
                None
            }
        }
    }

    fn string(&mut self, v: &Value<'_>, key: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.type_err(v, key, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, v: &Value<'_>, key: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.type_err(v, key, "true or false");
                None
            }
        }
    }

    fn uint(&mut self, v: &Value<'_>, key: &str, max: u64) -> Option<u64> {
        match v.get_ref() {
            DeValue::Integer(i) => match u64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) if n <= max => Some(n),
                _ => {
                    self.err(
                        v.span(),
                        key,
                        format!("'{i}' is out of range; expected 0 to {max}"),
                    );
                    None
                }
            },
            _ => {
                self.type_err(v, key, "an integer");
                None
            }
        }
    }

    /// An array of strings; bad elements are reported and skipped.
    fn strings(&mut self, v: &Value<'_>, key: &str) -> Option<Vec<(String, Range<usize>)>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.type_err(v, key, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(s) = self.string(item, &format!("{key}[{i}]")) {
                out.push((s, item.span()));
            }
        }
        Some(out)
    }

    /// A secret reference; a literal one is remembered for the world-readable check.
    fn secret(&mut self, v: &Value<'_>, key: &str) -> Option<SecretRef> {
        self.secret_ref(v, key, true)
    }

    /// `sensitive = false` for values that are secrets only sometimes (an integration URL).
    fn secret_ref(&mut self, v: &Value<'_>, key: &str, sensitive: bool) -> Option<SecretRef> {
        let s = self.string(v, key)?;
        match SecretRef::parse(&s) {
            Ok(r) => {
                if sensitive && r.is_literal() && self.first_literal.is_none() {
                    self.first_literal = Some((key.to_string(), self.line(&v.span())));
                }
                Some(r)
            }
            Err(m) => {
                self.err(v.span(), key, m);
                None
            }
        }
    }

    fn enum_value<T: Copy>(
        &mut self,
        v: &Value<'_>,
        key: &str,
        what: &str,
        all: &[(&str, T)],
    ) -> Option<T> {
        let s = self.string(v, key)?;
        let found = all.iter().find(|(name, _)| *name == s).map(|(_, t)| *t);
        if found.is_none() {
            let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
            self.err(
                v.span(),
                key,
                format!("'{s}' is not {what}; expected one of: {}", names.join(", ")),
            );
        }
        found
    }

    fn severity(&mut self, v: &Value<'_>, key: &str) -> Option<Severity> {
        let s = self.string(v, key)?;
        match s.parse::<Severity>() {
            Ok(sev) => Some(sev),
            Err(e) => {
                self.err(v.span(), key, e.to_string());
                None
            }
        }
    }
}

/// The candidate nearest to `word` by edit distance, if it is close enough to be a typo.
fn closest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let dist = |a: &str, b: &str| -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    };
    candidates
        .map(|c| (dist(word, c), c))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Iterate over `[[name]]` entries: each an inline or standard table.
fn array_of_tables<'v, 'a>(
    w: &mut Walker<'_>,
    v: &'v Value<'a>,
    key: &str,
) -> Vec<(usize, &'v Value<'a>, &'v DeTable<'a>)> {
    let DeValue::Array(items) = v.get_ref() else {
        w.type_err(v, key, "an array of tables ([[...]])");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(t) = w.table(item, &format!("{key}[{i}]")) {
            out.push((i, item, t));
        }
    }
    out
}

const TOP_KEYS: &[&str] = &[
    "engine",
    "retention",
    "actions",
    "detections",
    "scanners",
    "custom_detections",
    "sources",
    "integrations",
    "roles",
];

fn parse_inner(src: &str, path: &Path) -> (Config, Vec<ConfigError>, Option<(String, usize)>) {
    let mut w = Walker {
        src,
        path,
        errors: Vec::new(),
        first_literal: None,
    };
    let mut config = Config {
        path: Some(path.to_path_buf()),
        ..Config::default()
    };
    let (doc, syntax) = DeTable::parse_recoverable(src);
    for e in syntax {
        let span = e.span().unwrap_or(0..0);
        w.err(span, "", e.message().trim().to_string());
    }
    if !w.errors.is_empty() {
        // A damaged document gives misleading follow-up errors; report the syntax first.
        return (config, w.errors, None);
    }
    let root = doc.get_ref();
    w.unknown(root, "", TOP_KEYS, "the configuration");

    if let Some(v) = root.get("engine")
        && let Some(t) = w.table(v, "engine")
    {
        w.unknown(t, "engine", &["data_dir", "fingerprint_key"], "[engine]");
        if let Some(v) = t.get("data_dir") {
            config.engine.data_dir = w.string(v, "engine.data_dir").map(PathBuf::from);
        }
        if let Some(v) = t.get("fingerprint_key") {
            config.engine.fingerprint_key = w.secret(v, "engine.fingerprint_key");
        }
    }
    if let Some(v) = root.get("retention")
        && let Some(t) = w.table(v, "retention")
    {
        w.unknown(
            t,
            "retention",
            &["events_days", "alerts_days"],
            "[retention]",
        );
        let max = 36_500;
        if let Some(n) = t
            .get("events_days")
            .and_then(|v| w.uint(v, "retention.events_days", max))
        {
            config.retention.events_days = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) = t
            .get("alerts_days")
            .and_then(|v| w.uint(v, "retention.alerts_days", max))
        {
            config.retention.alerts_days = u32::try_from(n).unwrap_or(u32::MAX);
        }
    }
    if let Some(v) = root.get("actions") {
        config.actions = parse_actions(&mut w, v);
    }
    // Custom detections first: [detections.custom:<slug>] may refer to them.
    if let Some(v) = root.get("custom_detections") {
        config.custom_detections = parse_custom(&mut w, v);
    }
    let custom_ids: BTreeSet<String> = config
        .custom_detections
        .iter()
        .map(|c| catalogue::custom_detection_id(&c.name))
        .collect();
    if let Some(v) = root.get("detections") {
        config.detections = parse_detections(&mut w, v, &custom_ids);
    }
    if let Some(v) = root.get("scanners")
        && let Some(t) = w.table(v, "scanners")
    {
        w.unknown(t, "scanners", &["disabled"], "[scanners]");
        if let Some(list) = t
            .get("disabled")
            .and_then(|v| w.strings(v, "scanners.disabled"))
        {
            for (s, span) in list {
                let known = crate::detect::content::scanner_ids().any(|k| k == s)
                    || custom_ids.contains(&s);
                if !known {
                    let ids: Vec<&str> = crate::detect::content::scanner_ids().collect();
                    w.err(
                        span,
                        "scanners.disabled",
                        format!(
                            "'{s}' is not a scanner id; expected custom:<name> or one of: {}",
                            ids.join(", ")
                        ),
                    );
                } else {
                    config.scanners.disabled.insert(s);
                }
            }
        }
    }
    if let Some(v) = root.get("sources") {
        config.sources = parse_sources(&mut w, v);
    }
    if let Some(v) = root.get("integrations") {
        config.integrations = parse_integrations(&mut w, v, &custom_ids);
    }
    if let Some(v) = root.get("roles")
        && let Some(t) = w.table(v, "roles")
    {
        w.unknown(t, "roles", &["admin", "responder", "viewer"], "[roles]");
        for (name, slot) in [
            ("admin", &mut config.roles.admin),
            ("responder", &mut config.roles.responder),
            ("viewer", &mut config.roles.viewer),
        ] {
            let key = format!("roles.{name}");
            if let Some(list) = t.get(name).and_then(|v| w.strings(v, &key)) {
                for (s, span) in list {
                    let who = s.strip_prefix("group:").unwrap_or(&s);
                    if who.is_empty() || who.contains(char::is_whitespace) {
                        w.err(span, &key, format!("'{s}' is not a user, group:NAME or *"));
                    } else {
                        slot.push(s);
                    }
                }
            }
        }
    }
    if w.errors.is_empty() {
        // The scanner is the final judge of custom detections; report anything it still rejects.
        if let Err(e) =
            crate::detect::content::ContentScanner::new(&config.tuning(), b"vigil check")
        {
            let span = root.get("custom_detections").map_or(0..0, |v| v.span());
            w.err(span, "custom_detections", e);
        }
    }
    let literal = w.first_literal.take();
    (config, w.errors, literal)
}

fn parse_actions(w: &mut Walker<'_>, v: &Value<'_>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Some(t) = w.table(v, "actions") else {
        return out;
    };
    for (k, v) in t.iter() {
        let key = format!("actions.{}", k.get_ref());
        if !catalogue::is_catalogue_action(k.get_ref()) {
            w.err(
                k.span(),
                &key,
                format!(
                    "'{}' is not an action key of the detection catalogue",
                    k.get_ref()
                ),
            );
            continue;
        }
        let Some(list) = w.strings(v, &key) else {
            continue;
        };
        let mut keys = Vec::new();
        for (s, span) in list {
            let bare = s.strip_prefix('!').unwrap_or(&s);
            if bare.is_empty() || bare.contains(char::is_whitespace) {
                w.err(span, &key, format!("'{s}' is not an action key"));
            } else {
                keys.push(s);
            }
        }
        out.insert(k.get_ref().to_string(), keys);
    }
    out
}

fn parse_custom(w: &mut Walker<'_>, v: &Value<'_>) -> Vec<CustomDetection> {
    let mut out: Vec<CustomDetection> = Vec::new();
    let tables = array_of_tables(w, v, "custom_detections");
    if tables.len() > MAX_CUSTOM_DETECTIONS
        && let Some((_, item, _)) = tables.get(MAX_CUSTOM_DETECTIONS)
    {
        w.err(
            item.span(),
            "custom_detections",
            format!(
                "at most {MAX_CUSTOM_DETECTIONS} custom detections are allowed, found {}",
                tables.len()
            ),
        );
    }
    let mut slugs = BTreeSet::new();
    for (i, item, t) in tables {
        let mut prefix = format!("custom_detections[{i}]");
        w.unknown(
            t,
            &prefix,
            &["name", "terms", "regex", "severity", "enabled"],
            "a custom detection",
        );
        let name = match t.get("name") {
            Some(v) => w.string(v, &format!("{prefix}.name")),
            None => {
                w.err(item.span(), &prefix, "missing 'name'");
                None
            }
        };
        if let Some(n) = &name {
            let id = catalogue::custom_detection_id(n);
            let span = t.get("name").map_or(item.span(), |v| v.span());
            if id == "custom:" || n.chars().count() > 100 {
                w.err(
                    span,
                    &format!("{prefix}.name"),
                    format!("'{n}' is not a usable name: 1 to 100 characters with at least one ASCII letter or digit"),
                );
            } else if !slugs.insert(id.clone()) {
                w.err(
                    span,
                    &format!("{prefix}.name"),
                    format!("'{n}' has the same id ({id}) as another custom detection; rename one"),
                );
            } else {
                prefix = format!("custom_detections.{}", id.trim_start_matches("custom:"));
            }
        }
        let mut terms = Vec::new();
        if let Some(v) = t.get("terms") {
            let key = format!("{prefix}.terms");
            if let Some(list) = w.strings(v, &key) {
                if list.len() > MAX_CUSTOM_TERMS {
                    w.err(
                        v.span(),
                        &key,
                        format!(
                            "at most {MAX_CUSTOM_TERMS} terms are allowed, found {}",
                            list.len()
                        ),
                    );
                }
                for (s, span) in list {
                    let n = s.chars().count();
                    if !CUSTOM_TERM_CHARS.contains(&n) {
                        w.err(
                            span,
                            &key,
                            format!(
                                "'{}' is {n} characters; terms must be 4 to 255",
                                crate::model::text::truncate(&s, 40)
                            ),
                        );
                    } else {
                        terms.push(s);
                    }
                }
            }
        }
        let regex = t.get("regex").and_then(|v| {
            let key = format!("{prefix}.regex");
            let s = w.string(v, &key)?;
            match regex::RegexBuilder::new(&s)
                .size_limit(1 << 20)
                .dfa_size_limit(1 << 20)
                .build()
            {
                Ok(re) if re.is_match("") => {
                    w.err(
                        v.span(),
                        &key,
                        "the regex matches the empty string, so it would match everywhere",
                    );
                    None
                }
                Ok(_) => Some(s),
                Err(e) => {
                    let msg = e.to_string();
                    let last = msg
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("invalid")
                        .trim();
                    let last = last.strip_prefix("error: ").unwrap_or(last).to_string();
                    w.err(
                        v.span(),
                        &key,
                        format!("the regex does not compile: {last}"),
                    );
                    None
                }
            }
        });
        match (t.contains_key("terms"), t.contains_key("regex")) {
            (true, true) => w.err(
                item.span(),
                &prefix,
                "give either 'terms' or 'regex', not both",
            ),
            (false, false) => w.err(item.span(), &prefix, "give 'terms' or 'regex'"),
            _ => {}
        }
        let severity = match t.get("severity") {
            Some(v) => w.severity(v, &format!("{prefix}.severity")),
            None => Some(Severity::Medium),
        };
        let enabled = match t.get("enabled") {
            Some(v) => w.boolean(v, &format!("{prefix}.enabled")),
            None => Some(true),
        };
        if let (Some(name), Some(severity), Some(enabled)) = (name, severity, enabled) {
            out.push(CustomDetection {
                name,
                terms,
                regex,
                severity,
                enabled,
            });
        }
    }
    out
}

fn parse_detections(
    w: &mut Walker<'_>,
    v: &Value<'_>,
    custom: &BTreeSet<String>,
) -> BTreeMap<String, DetectionSettings> {
    let mut out = BTreeMap::new();
    let Some(t) = w.table(v, "detections") else {
        return out;
    };
    for (k, v) in t.iter() {
        let id = k.get_ref().to_string();
        let prefix = format!("detections.{id}");
        let spec = catalogue::spec(&id);
        if spec.is_none() && !custom.contains(&id) {
            let hint = if id.starts_with("custom:") {
                "no custom detection has this id (custom: and its name in lower-case kebab form)"
                    .to_string()
            } else {
                match closest(&id, catalogue::catalogue().iter().map(|s| s.id)) {
                    Some(near) => format!("'{id}' is not a detection id; did you mean '{near}'?"),
                    None => format!("'{id}' is not a detection id; the detections pane lists them"),
                }
            };
            w.err(k.span(), &prefix, hint);
            continue;
        }
        let Some(t) = w.table(v, &prefix) else {
            continue;
        };
        w.unknown(
            t,
            &prefix,
            &[
                "enabled",
                "sensitivity",
                "exclude_actors",
                "exclude_containers",
                "exclude_objects",
            ],
            "a detection's settings",
        );
        let mut s = DetectionSettings::default();
        if let Some(v) = t.get("enabled")
            && let Some(b) = w.boolean(v, &format!("{prefix}.enabled"))
        {
            s.enabled = b;
        }
        if let Some(v) = t.get("sensitivity") {
            let key = format!("{prefix}.sensitivity");
            if let Some(text) = w.string(v, &key) {
                match text.as_str() {
                    "fewer" => s.sensitivity = Sensitivity::Fewer,
                    "default" => s.sensitivity = Sensitivity::Default,
                    "more" => s.sensitivity = Sensitivity::More,
                    _ => w.err(
                        v.span(),
                        &key,
                        format!("'{text}' is not a sensitivity; expected fewer, default or more"),
                    ),
                }
                if !matches!(spec.map(|s| s.kind), Some(DetectionKind::Threshold { .. }))
                    && text != "default"
                {
                    w.err(v.span(), &key, format!("{id} has no threshold; sensitivity applies to threshold detections only"));
                }
            }
        }
        for (field, kind) in [
            ("exclude_actors", ExclusionKind::Actor),
            ("exclude_containers", ExclusionKind::Container),
            ("exclude_objects", ExclusionKind::Object),
        ] {
            let key = format!("{prefix}.{field}");
            let Some(v) = t.get(field) else { continue };
            let DeValue::Array(items) = v.get_ref() else {
                w.type_err(v, &key, "an array");
                continue;
            };
            for item in items.iter() {
                if let Some(x) = parse_exclusion(w, item, &key, kind) {
                    s.exclusions.push(x);
                }
            }
        }
        out.insert(id, s);
    }
    out
}

fn parse_exclusion(
    w: &mut Walker<'_>,
    item: &Value<'_>,
    key: &str,
    kind: ExclusionKind,
) -> Option<Exclusion> {
    match item.get_ref() {
        DeValue::String(s) if !s.trim().is_empty() => Some(Exclusion {
            kind,
            value: s.to_string(),
            until: None,
        }),
        DeValue::Table(t) => {
            w.unknown(t, key, &["value", "until"], "an exclusion");
            let value = match t.get("value") {
                Some(v) => w.string(v, &format!("{key}.value"))?,
                None => {
                    w.err(item.span(), key, "an exclusion table needs 'value'");
                    return None;
                }
            };
            let until = match t.get("until") {
                Some(v) => Some(until(w, v, &format!("{key}.until"))?),
                None => None,
            };
            Some(Exclusion { kind, value, until })
        }
        _ => {
            w.type_err(
                item,
                key,
                "a non-empty string or { value = \"...\", until = \"...\" }",
            );
            None
        }
    }
}

/// An RFC 3339 date-time, or a date meaning through the end of that day (UTC).
fn until(w: &mut Walker<'_>, v: &Value<'_>, key: &str) -> Option<DateTime<Utc>> {
    let text = match v.get_ref() {
        DeValue::String(s) => s.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        _ => {
            w.type_err(v, key, "an RFC 3339 date or date-time");
            return None;
        }
    };
    let parsed = DateTime::parse_from_rfc3339(&text)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.succ_opt())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|d| d.and_utc())
        });
    if parsed.is_none() {
        w.err(
            v.span(),
            key,
            format!("'{text}' is not a date; expected e.g. 2026-12-31 or 2026-12-31T18:00:00Z"),
        );
    }
    parsed
}

fn parse_sources(w: &mut Walker<'_>, v: &Value<'_>) -> Vec<SourceConfig> {
    let mut out = Vec::new();
    for (i, item, t) in array_of_tables(w, v, "sources") {
        let prefix = format!("sources[{i}]");
        let Some(kv) = t.get("kind") else {
            w.err(
                item.span(),
                &prefix,
                "missing 'kind' (http, file or atlassian_api)",
            );
            continue;
        };
        let kinds = [("http", 0u8), ("file", 1), ("atlassian_api", 2)];
        let Some(kind) = w.enum_value(kv, &format!("{prefix}.kind"), "a source kind", &kinds)
        else {
            continue;
        };
        let get_required = |w: &mut Walker<'_>, name: &str| -> Option<Value<'_>> {
            let v = t.get(name).cloned();
            if v.is_none() {
                w.err(
                    item.span(),
                    &prefix,
                    format!(
                        "{} source needs '{name}'",
                        ["an http", "a file", "an atlassian_api"][usize::from(kind)]
                    ),
                );
            }
            v
        };
        match kind {
            0 => {
                w.unknown(
                    t,
                    &prefix,
                    &["kind", "listen", "token", "max_body_bytes"],
                    "an http source",
                );
                let listen = match t.get("listen") {
                    Some(v) => w.string(v, &format!("{prefix}.listen")).and_then(|s| {
                        match s.parse::<SocketAddr>() {
                            Ok(a) => Some(a),
                            Err(_) => {
                                w.err(
                                    v.span(),
                                    &format!("{prefix}.listen"),
                                    format!(
                                        "'{s}' is not an address; expected e.g. {DEFAULT_LISTEN}"
                                    ),
                                );
                                None
                            }
                        }
                    }),
                    None => DEFAULT_LISTEN.parse().ok(),
                };
                let token =
                    get_required(w, "token").and_then(|v| w.secret(&v, &format!("{prefix}.token")));
                let max = match t.get("max_body_bytes") {
                    Some(v) => w.uint(v, &format!("{prefix}.max_body_bytes"), 1 << 30),
                    None => Some(DEFAULT_MAX_BODY_BYTES),
                };
                if let (Some(listen), Some(token), Some(max_body_bytes)) = (listen, token, max) {
                    out.push(SourceConfig::Http {
                        listen,
                        token,
                        max_body_bytes,
                    });
                }
            }
            1 => {
                w.unknown(t, &prefix, &["kind", "path"], "a file source");
                if let Some(p) =
                    get_required(w, "path").and_then(|v| w.string(&v, &format!("{prefix}.path")))
                {
                    out.push(SourceConfig::File {
                        path: PathBuf::from(p),
                    });
                }
            }
            _ => {
                w.unknown(
                    t,
                    &prefix,
                    &["kind", "org_id", "token", "url", "poll_secs"],
                    "an atlassian_api source",
                );
                let org = get_required(w, "org_id")
                    .and_then(|v| w.string(&v, &format!("{prefix}.org_id")));
                let token =
                    get_required(w, "token").and_then(|v| w.secret(&v, &format!("{prefix}.token")));
                let url = match t.get("url") {
                    Some(v) => w.string(v, &format!("{prefix}.url")),
                    None => Some(DEFAULT_API_URL.to_string()),
                };
                let poll = match t.get("poll_secs") {
                    Some(v) => w
                        .uint(v, &format!("{prefix}.poll_secs"), 86_400)
                        .filter(|n| *n > 0),
                    None => Some(60),
                };
                if let (Some(org_id), Some(token), Some(url), Some(poll_secs)) =
                    (org, token, url, poll)
                {
                    out.push(SourceConfig::AtlassianApi {
                        org_id,
                        token,
                        url,
                        poll_secs,
                    });
                }
            }
        }
    }
    out
}

fn parse_integrations(
    w: &mut Walker<'_>,
    v: &Value<'_>,
    custom: &BTreeSet<String>,
) -> Vec<IntegrationConfig> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    let kinds: Vec<(&str, IntegrationKind)> = IntegrationKind::ALL
        .iter()
        .map(|k| (k.as_str(), *k))
        .collect();
    for (i, item, t) in array_of_tables(w, v, "integrations") {
        let mut prefix = format!("integrations[{i}]");
        w.unknown(
            t,
            &prefix,
            &[
                "name",
                "kind",
                "url",
                "secret",
                "token",
                "user",
                "project",
                "issue_type",
                "min_severity",
                "detections",
                "enabled",
            ],
            "an integration",
        );
        let name = match t.get("name") {
            Some(v) => w.string(v, &format!("{prefix}.name")).filter(|n| {
                let ok = !n.trim().is_empty();
                if !ok {
                    w.err(v.span(), &format!("{prefix}.name"), "is empty");
                } else if !names.insert(n.clone()) {
                    w.err(
                        v.span(),
                        &format!("{prefix}.name"),
                        format!("'{n}' is already the name of another integration"),
                    );
                }
                ok
            }),
            None => {
                w.err(item.span(), &prefix, "missing 'name'");
                None
            }
        };
        if let Some(n) = &name {
            prefix = format!("integrations.{n}");
        }
        let kind = match t.get("kind") {
            Some(v) => w.enum_value(v, &format!("{prefix}.kind"), "an integration kind", &kinds),
            None => {
                w.err(item.span(), &prefix, "missing 'kind'");
                None
            }
        };
        let url = match t.get("url") {
            Some(v) => w
                .secret_ref(v, &format!("{prefix}.url"), false)
                .filter(|u| match u {
                    SecretRef::Literal(s)
                        if !(s.starts_with("https://") || s.starts_with("http://")) =>
                    {
                        w.err(
                            v.span(),
                            &format!("{prefix}.url"),
                            "is not an http(s) URL, env:NAME or file:PATH",
                        );
                        false
                    }
                    _ => true,
                }),
            None => {
                w.err(item.span(), &prefix, "missing 'url'");
                None
            }
        };
        // A literal Slack/Teams URL only counts as a secret once we know the kind.
        if let (Some(SecretRef::Literal(_)), Some(k)) = (&url, kind)
            && url_is_secret(k)
            && w.first_literal.is_none()
            && let Some(v) = t.get("url")
        {
            w.first_literal = Some((format!("{prefix}.url"), w.line(&v.span())));
        }
        let secret = t
            .get("secret")
            .and_then(|v| w.secret(v, &format!("{prefix}.secret")));
        let token = t
            .get("token")
            .and_then(|v| w.secret(v, &format!("{prefix}.token")));
        let text = |w: &mut Walker<'_>, f: &str| {
            t.get(f).and_then(|v| w.string(v, &format!("{prefix}.{f}")))
        };
        let user = text(w, "user");
        let project = text(w, "project");
        let issue_type = text(w, "issue_type");
        let min_severity = match t.get("min_severity") {
            Some(v) => w.severity(v, &format!("{prefix}.min_severity")),
            None => Some(Severity::Low),
        };
        let enabled = match t.get("enabled") {
            Some(v) => w.boolean(v, &format!("{prefix}.enabled")),
            None => Some(true),
        };
        let mut detections = Vec::new();
        if let Some(v) = t.get("detections") {
            let key = format!("{prefix}.detections");
            for (d, span) in w.strings(v, &key).unwrap_or_default() {
                if catalogue::spec(&d).is_some() || custom.contains(&d) {
                    detections.push(d);
                } else {
                    w.err(span, &key, format!("'{d}' is not a detection id"));
                }
            }
        }
        if let Some(k) = kind {
            let needs: &[(&str, bool)] = match k {
                IntegrationKind::Webhook => &[("secret", secret.is_some())],
                IntegrationKind::SplunkHec => &[("token", token.is_some())],
                IntegrationKind::Jira => &[
                    ("token", token.is_some()),
                    ("user", user.is_some()),
                    ("project", project.is_some()),
                ],
                _ => &[],
            };
            for (field, present) in needs {
                if !present && !t.contains_key(*field) {
                    w.err(
                        item.span(),
                        &prefix,
                        format!("a {} integration needs '{field}'", k.as_str()),
                    );
                }
            }
        }
        if let (Some(name), Some(kind), Some(url), Some(min_severity), Some(enabled)) =
            (name, kind, url, min_severity, enabled)
        {
            out.push(IntegrationConfig {
                name,
                kind,
                url,
                secret,
                token,
                user,
                project,
                issue_type,
                min_severity,
                detections,
                enabled,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = SecretRef::parse("hunter2-very-secret").unwrap_or(SecretRef::Env("X".into()));
        assert!(s.is_literal());
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        assert_eq!(
            SecretRef::parse("env:TOKEN").map(|s| s.to_string()),
            Ok("env:TOKEN".to_string())
        );
        assert!(SecretRef::parse("env:1BAD").is_err());
    }

    #[test]
    fn lines_are_counted_from_one() {
        let src = "[detections.page-crawling]\n\nsensitivity = \"loud\"\n";
        let err = parse(src, Path::new("vigil.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "vigil.toml line 3: detections.page-crawling.sensitivity: 'loud' is not a sensitivity; expected fewer, default or more"
        );
    }
}
