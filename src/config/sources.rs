//! `[[sources]]`: where events come from (HTTP receiver, followed file, organizations events API).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::secret::SecretRef;
use super::walker::{Value, Walker, array_of_tables};

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
