//! `[[sources]]`: where events come from (HTTP receiver, followed file, organizations events API).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::secret::SecretRef;
use super::walker::{Value, Walker, array_of_tables};

/// Default HTTP receiver address: loopback only (DESIGN §7).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8717";
/// Default HTTP receiver body cap.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// Default cap on the receiver's open connections; more are answered 503 and closed at once.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 512;
/// Default requests a second one client address may make to `POST /v1/events` (bursts of as many).
pub const DEFAULT_RATE_PER_SEC: u64 = 50;
/// Default seconds a client has to send a request's headers.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 5;
/// Default seconds a client has to send a request's body.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
/// Default organizations API base.
pub const DEFAULT_API_URL: &str = "https://api.atlassian.com";
/// Requests a minute an `atlassian_api` source makes at most unless told otherwise: Atlassian documents
/// 10 a minute per user and per path for `GET /admin/v1/orgs/{orgId}/events` (since May 2025). An
/// organization granted more sets `requests_per_minute`.
pub const DEFAULT_API_RPM: u32 = 10;

/// How far back a new `atlassian_api` source starts when neither `from` nor `from_days` is given: a week is
/// enough to see what happened recently without pulling a whole history through the API's rate limit.
pub const DEFAULT_API_FROM_DAYS: u32 = 7;

/// Where an `atlassian_api` source starts on its first poll (afterwards its stored cursor decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFrom {
    /// `from = "2026-01-01T00:00:00Z"`: a fixed instant.
    At(chrono::DateTime<chrono::Utc>),
    /// `from_days = 30`: this many days before the first poll.
    DaysBack(u32),
}

impl Default for ApiFrom {
    fn default() -> Self {
        Self::DaysBack(DEFAULT_API_FROM_DAYS)
    }
}

impl ApiFrom {
    /// The instant to start from, given the wall clock at the first poll.
    pub fn resolve(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        match self {
            Self::At(t) => *t,
            Self::DaysBack(d) => now - chrono::Duration::days(i64::from(*d)),
        }
    }
}

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
        /// What keeps one sender, or many, from exhausting the receiver.
        limits: HttpLimits,
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
        /// The organization's name as people know it (`org_name`, optional): a confirmation to suspend
        /// someone names the org by it, as well as by its id.
        org_name: Option<String>,
        /// Organization admin API key: polls the events API, and suspends or restores an alert's actor.
        token: SecretRef,
        /// API base (default `https://api.atlassian.com`).
        url: String,
        /// Seconds between polls once caught up (default 60).
        poll_secs: u64,
        /// Most requests a minute (default [`DEFAULT_API_RPM`], what Atlassian documents for `/events`).
        requests_per_minute: u32,
        /// Where the first poll starts (`from` or `from_days`; default 7 days back).
        from: ApiFrom,
    },
}

/// The HTTP receiver's defences against slow, greedy or numerous clients, each with a safe default so a
/// config that names none still gets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Open connections at most (`max_connections`, default 512); one more is answered 503 and closed, so
    /// memory stays bounded whatever the number of clients.
    pub max_connections: u64,
    /// Requests a second per client address to `POST /v1/events` (`rate_per_sec`, default 50, bursts of as
    /// many); over it a client gets 429 with `Retry-After`. 0 turns the limit off.
    pub rate_per_sec: u64,
    /// Seconds a client has to send a request's headers before its connection is dropped
    /// (`header_timeout_secs`, default 5): a client that never finishes holds nothing for long.
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body (`body_timeout_secs`, default 30); then 408.
    pub body_timeout_secs: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            rate_per_sec: DEFAULT_RATE_PER_SEC,
            header_timeout_secs: DEFAULT_HEADER_TIMEOUT_SECS,
            body_timeout_secs: DEFAULT_BODY_TIMEOUT_SECS,
        }
    }
}

/// An optional integer key of a source table within `min..=max`, `default` when absent; an error names the
/// key and its line.
fn ranged(
    w: &mut Walker<'_>,
    t: &toml::de::DeTable<'_>,
    prefix: &str,
    name: &str,
    (min, max): (u64, u64),
    default: u64,
) -> Option<u64> {
    let key = format!("{prefix}.{name}");
    let Some(v) = t.get(name) else {
        return Some(default);
    };
    let n = w.uint(v, &key, u64::MAX)?;
    if !(min..=max).contains(&n) {
        w.err(
            v.span(),
            &key,
            format!("'{n}' is out of range; expected {min} to {max}"),
        );
        return None;
    }
    Some(n)
}

pub(super) fn parse_sources(w: &mut Walker<'_>, v: &Value<'_>) -> Vec<SourceConfig> {
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
                    &[
                        "kind",
                        "listen",
                        "token",
                        "max_body_bytes",
                        "max_connections",
                        "rate_per_sec",
                        "header_timeout_secs",
                        "body_timeout_secs",
                    ],
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
                let max = ranged(
                    w,
                    t,
                    &prefix,
                    "max_body_bytes",
                    (1, 1 << 30),
                    DEFAULT_MAX_BODY_BYTES,
                );
                let d = HttpLimits::default();
                let limits = (
                    ranged(
                        w,
                        t,
                        &prefix,
                        "max_connections",
                        (1, 100_000),
                        d.max_connections,
                    ),
                    ranged(
                        w,
                        t,
                        &prefix,
                        "rate_per_sec",
                        (0, 1_000_000),
                        d.rate_per_sec,
                    ),
                    ranged(
                        w,
                        t,
                        &prefix,
                        "header_timeout_secs",
                        (1, 300),
                        d.header_timeout_secs,
                    ),
                    ranged(
                        w,
                        t,
                        &prefix,
                        "body_timeout_secs",
                        (1, 3600),
                        d.body_timeout_secs,
                    ),
                );
                if let (
                    Some(listen),
                    Some(token),
                    Some(max_body_bytes),
                    (Some(max_connections), Some(rate_per_sec), Some(header), Some(body)),
                ) = (listen, token, max, limits)
                {
                    out.push(SourceConfig::Http {
                        listen,
                        token,
                        max_body_bytes,
                        limits: HttpLimits {
                            max_connections,
                            rate_per_sec,
                            header_timeout_secs: header,
                            body_timeout_secs: body,
                        },
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
                    &[
                        "kind",
                        "org_id",
                        "org_name",
                        "token",
                        "url",
                        "poll_secs",
                        "from",
                        "from_days",
                        "requests_per_minute",
                    ],
                    "an atlassian_api source",
                );
                let org = get_required(w, "org_id")
                    .and_then(|v| w.string(&v, &format!("{prefix}.org_id")));
                let org_name = match t.get("org_name") {
                    Some(v) => w
                        .string(v, &format!("{prefix}.org_name"))
                        .map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty())),
                    None => Some(None),
                };
                let token =
                    get_required(w, "token").and_then(|v| w.secret(&v, &format!("{prefix}.token")));
                let url = match t.get("url") {
                    Some(v) => w.string(v, &format!("{prefix}.url")).and_then(|s| {
                        let s = s.trim_end_matches('/').to_string();
                        match super::check_url_scheme(&s, false) {
                            Ok(()) => Some(s),
                            Err(why) => {
                                w.err(v.span(), &format!("{prefix}.url"), format!("'{s}' {why}"));
                                None
                            }
                        }
                    }),
                    None => Some(DEFAULT_API_URL.to_string()),
                };
                let from = api_from(w, t, &prefix);
                let poll = match t.get("poll_secs") {
                    Some(v) => w
                        .uint(v, &format!("{prefix}.poll_secs"), 86_400)
                        .filter(|n| *n > 0),
                    None => Some(60),
                };
                let rpm = match t.get("requests_per_minute") {
                    Some(v) => w
                        .uint(v, &format!("{prefix}.requests_per_minute"), 60_000)
                        .filter(|n| *n > 0)
                        .map(|n| n as u32),
                    None => Some(DEFAULT_API_RPM),
                };
                if let (
                    Some(org_id),
                    Some(token),
                    Some(url),
                    Some(poll_secs),
                    Some(from),
                    Some(rpm),
                    Some(org_name),
                ) = (org, token, url, poll, from, rpm, org_name)
                {
                    out.push(SourceConfig::AtlassianApi {
                        org_id,
                        org_name,
                        token,
                        url,
                        poll_secs,
                        requests_per_minute: rpm,
                        from,
                    });
                }
            }
        }
    }
    out
}

/// `from` (RFC 3339) or `from_days` (1 to 3650), not both; the default when neither is given.
fn api_from(w: &mut Walker<'_>, t: &toml::de::DeTable<'_>, prefix: &str) -> Option<ApiFrom> {
    match (t.get("from"), t.get("from_days")) {
        (Some(v), Some(_)) => {
            w.err(
                v.span(),
                &format!("{prefix}.from"),
                "give 'from' or 'from_days', not both",
            );
            None
        }
        (Some(v), None) => {
            let key = format!("{prefix}.from");
            let s = w.string(v, &key)?;
            match chrono::DateTime::parse_from_rfc3339(&s) {
                Ok(t) => Some(ApiFrom::At(t.with_timezone(&chrono::Utc))),
                Err(_) => {
                    w.err(
                        v.span(),
                        &key,
                        format!(
                            "'{s}' is not an RFC 3339 time; expected e.g. 2026-01-01T00:00:00Z"
                        ),
                    );
                    None
                }
            }
        }
        (None, Some(v)) => {
            let key = format!("{prefix}.from_days");
            let n = w.uint(v, &key, 3650)?;
            if n == 0 {
                w.err(v.span(), &key, "'0' is out of range; expected 1 to 3650");
                return None;
            }
            u32::try_from(n).ok().map(ApiFrom::DaysBack)
        }
        (None, None) => Some(ApiFrom::default()),
    }
}
