//! `vigil.toml` (DESIGN §10): parsing, validation and the [`Tuning`] the detector is built from.
//!
//! The file is walked from toml's spanned document tree rather than deserialised with serde, so that one
//! pass reports *every* problem — each with its file, line and dotted key — instead of stopping at the first.
//! Decisions:
//! - Unknown keys are errors (a misspelt `sensitivty` silently ignored would leave a detection untuned).
//! - Secrets (`token`, `secret`, integration `url`) stay unresolved [`SecretRef`]s; their `Debug` and
//!   `Display` never show a literal value. A file holding a literal secret must be readable by its owner only.
//! - `until` of an exclusion is an RFC 3339 date-time, or a date, meaning through the end of that day (UTC).
//! - `[scanners] disabled = [...]` lists scanner ids to switch off.
//! - `[actions]` entries add real keys to a catalogue key; `"!key"` removes one (see `detect::engine`).
//!
//! No I/O beyond reading the file and its permissions; secrets are resolved only by [`SecretRef::resolve`].
//!
//! Layout, one file per job: this file holds [`Config`], [`load`] and the walk over the top-level tables;
//! `walker` the typed getters that record errors with lines; `detections`, `sources` and `integrations` the
//! parsers of those tables; `secret` the secret references; `error` the errors. Only `cli` and `engine`
//! import this module (guarded by `tests/layering.rs`): the rest of vigil sees the [`Tuning`] and
//! [`crate::model::Integration`] it yields.

mod detections;
mod error;
mod integrations;
mod secret;
mod sources;
mod walker;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::detect::catalogue;
use crate::detect::tuning::{CustomDetection, DetectionSettings, Tuning};

pub use error::{ConfigError, ConfigErrors};
pub use integrations::{DIGEST_AFTER, IntegrationConfig, check_url_scheme};
pub use secret::{SecretError, SecretRef};

pub use sources::{
    ApiFrom, DEFAULT_API_FROM_DAYS, DEFAULT_API_RPM, DEFAULT_API_URL, DEFAULT_BODY_TIMEOUT_SECS,
    DEFAULT_HEADER_TIMEOUT_SECS, DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RATE_PER_SEC, HttpLimits, SourceConfig,
};

use detections::{parse_actions, parse_custom, parse_detections};
use integrations::{parse_integrations, url_is_secret};
use sources::parse_sources;
use walker::Walker;

/// Custom detection limits (DESIGN §5), shared with the content scanner so both reject the same things.
pub use crate::detect::content::{
    MAX_CUSTOM_DETECTIONS, MAX_TERMS as MAX_CUSTOM_TERMS, TERM_CHARS as CUSTOM_TERM_CHARS,
};

/// `[engine]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineConfig {
    /// Data directory; `VIGIL_DATA_DIR` and `--data-dir` win over it.
    pub data_dir: Option<PathBuf>,
    /// Key of the content fingerprints. Unset, each store makes a random one (fingerprints then only compare
    /// within one store); set it (`env:NAME` or `file:PATH`) so that several stores give equal fingerprints.
    pub fingerprint_key: Option<SecretRef>,
    /// How far ahead of this host's clock an event may be dated (default 24 h); later ones are quarantined.
    pub max_future_hours: Option<u32>,
    /// The earliest event time accepted (default 2000-01-01); earlier ones are quarantined.
    pub earliest_event_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Events `ingest` sorts in memory at once when its input is out of time order (default 16,384); more
    /// is fewer run files, less is less memory.
    pub sort_chunk_events: Option<u32>,
    /// Sort run files merged at once (default 256): an out-of-order input is put in order in windows of
    /// `sort_chunk_events × sort_runs` events.
    pub sort_runs: Option<u32>,
}

impl EngineConfig {
    /// The plausible span of event times these settings give.
    pub fn time_limits(&self) -> crate::model::TimeLimits {
        let mut l = crate::model::TimeLimits::default();
        if let Some(h) = self.max_future_hours {
            l.max_ahead = chrono::TimeDelta::hours(i64::from(h));
        }
        if let Some(t) = self.earliest_event_time {
            l.earliest = t;
        }
        l
    }

    /// `fingerprint_key` read now, as the bytes the fingerprint HMAC is keyed with; `None` when unset (the
    /// store then uses its own random key). The one place the key is resolved, for `ingest`, `demo` and the
    /// engine alike, so the error always names the same key.
    pub fn resolve_fingerprint_key(&self) -> Result<Option<Vec<u8>>, FingerprintKeyError> {
        self.fingerprint_key
            .as_ref()
            .map(|r| {
                r.resolve()
                    .map(String::into_bytes)
                    .map_err(FingerprintKeyError)
            })
            .transpose()
    }
}

/// `[engine] fingerprint_key` is set but cannot be read; says why without the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("engine.fingerprint_key: {0}")]
pub struct FingerprintKeyError(pub SecretError);

/// `[retention]`: how long events and alerts are kept, in days; 0 keeps them forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Days events are kept (default 400).
    pub events_days: u32,
    /// Days alerts are kept (default 0: forever).
    pub alerts_days: u32,
    /// `vigil serve` compacts the store (rebuilds it beside itself, as `vigil compact` does) when more than
    /// this share of its bytes on disk, in percent, is garbage sled has not reclaimed; 0 never. Default 60:
    /// the file more than 2.5 times what it holds.
    pub compact_garbage_percent: u8,
    /// ... and only once the store takes at least this many MiB on disk (default 256): below it, the pause
    /// is not worth the bytes.
    pub compact_min_mb: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            events_days: 400,
            alerts_days: 0,
            compact_garbage_percent: 60,
            compact_min_mb: 256,
        }
    }
}

/// `[scanners]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScannersConfig {
    /// Scanner ids switched off (`email-addresses`, `payment-card`…).
    pub disabled: BTreeSet<String>,
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

    /// Whether any secret is written into the file (so it must be readable by its owner only).
    pub fn has_literal_secrets(&self) -> bool {
        self.sources.iter().any(|s| match s {
            SourceConfig::Http { token, .. } | SourceConfig::AtlassianApi { token, .. } => {
                token.is_literal()
            }
            SourceConfig::File { .. } => false,
        }) || self.integrations.iter().any(|i| {
            (url_is_secret(i.integration.kind) && i.url.is_literal())
                || i.secret.as_ref().is_some_and(SecretRef::is_literal)
                || i.token.as_ref().is_some_and(SecretRef::is_literal)
        })
    }
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
        && let Some(mode) = shared_mode(path)
    {
        errors.push(ConfigError {
            path: path.to_path_buf(),
            line: Some(line),
            key,
            message: format!(
                "a literal secret in a file readable by group or others (mode {mode:04o}); run chmod 600 on it, or use env:NAME or file:PATH"
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
fn shared_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn shared_mode(_path: &Path) -> Option<u32> {
    None
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
        w.unknown(
            t,
            "engine",
            &[
                "data_dir",
                "fingerprint_key",
                "max_future_hours",
                "earliest_event_time",
                "sort_chunk_events",
                "sort_runs",
            ],
            "[engine]",
        );
        if let Some(n) = t
            .get("sort_chunk_events")
            .and_then(|v| w.uint(v, "engine.sort_chunk_events", 1 << 24))
        {
            config.engine.sort_chunk_events = u32::try_from(n.max(1)).ok();
        }
        if let Some(n) = t
            .get("sort_runs")
            .and_then(|v| w.uint(v, "engine.sort_runs", 4096))
        {
            config.engine.sort_runs = u32::try_from(n.max(2)).ok();
        }
        if let Some(n) = t
            .get("max_future_hours")
            .and_then(|v| w.uint(v, "engine.max_future_hours", 24 * 366))
        {
            config.engine.max_future_hours = u32::try_from(n).ok();
        }
        if let Some(v) = t.get("earliest_event_time") {
            config.engine.earliest_event_time =
                detections::instant(&mut w, v, "engine.earliest_event_time", false);
        }
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
            &[
                "events_days",
                "alerts_days",
                "compact_garbage_percent",
                "compact_min_mb",
            ],
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
        if let Some(n) = t
            .get("compact_garbage_percent")
            .and_then(|v| w.uint(v, "retention.compact_garbage_percent", 99))
        {
            config.retention.compact_garbage_percent = u8::try_from(n).unwrap_or(99);
        }
        if let Some(n) = t
            .get("compact_min_mb")
            .and_then(|v| w.uint(v, "retention.compact_min_mb", 1 << 30))
        {
            config.retention.compact_min_mb = u32::try_from(n).unwrap_or(u32::MAX);
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
