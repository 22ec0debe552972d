//! The organizations events API poller (`kind = "atlassian_api"`): pages through
//! `GET {url}/admin/v1/orgs/{orgId}/events` oldest first and hands each page to the pipeline with the cursor
//! that follows it, so the cursor is stored in the same durable checkpoint as the events it covers and a
//! restart continues exactly where the last stored page ended.
//!
//! Paging as Atlassian documents it: the first request asks for `from` (epoch milliseconds), `sortOrder=asc`
//! and `limit`; each answer is a page `{data, links, meta}` whose `links.next` (or `meta.next`) carries the
//! next `cursor`. A `next` link is followed only on the configured origin, a cursor that comes back while
//! its own pages are still being read is a loop and stops the run, a body over the cap is not read. When no
//! `next` comes back the poller is caught up: every `poll_secs` it asks again from the newest event time it
//! stored, skipping the events at that exact time it already has (their ids are kept with the cursor).
//!
//! Rate limits: a 429 or 5xx (or no answer) waits for the server's `Retry-After` (seconds or an HTTP date)
//! and at least a jittered exponential backoff, capped; a 401 or 403 stops the poller with a health note
//! naming the status (a refused key does not get better by asking again). Every problem is a health note
//! and a log line, never a panic and never the key.
//!
//! Runs on its own thread with a small current-thread tokio runtime, like the delivery worker.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::{Rng, SeedableRng};
use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::workers::{Batch, Feeder, Shared, TICK};
use crate::config::{ApiFrom, SourceConfig};
use crate::deliver::retry::retry_after_header;
use crate::deliver::worker::http_client;
use crate::ingest::{Reader, Record};
use crate::store::Store;

/// How the poller talks to the API. The defaults suit the real service; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct PollerOptions {
    /// First backoff after a failure; doubled per failure in a row, with jitter.
    pub retry_base: Duration,
    /// Longest backoff, and the longest `Retry-After` honoured (a server cannot park the poller for days).
    pub retry_cap: Duration,
    /// A page body larger than this is refused unread (the events API pages are far smaller).
    pub max_page_bytes: usize,
    /// `limit` asked for per page.
    pub page_limit: u32,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for PollerOptions {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(300),
            // The ingest framer's record limit: a bigger page could not be parsed whole anyway.
            max_page_bytes: 8 * 1024 * 1024,
            page_limit: 200,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Ids kept for the newest event time: enough for any burst sharing one millisecond.
const MAX_LAST_IDS: usize = 1000;

/// Where the poller is, stored under [`position_key`] with the events it covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    /// The cursor of the next page to ask for; `None` once caught up (then `from` = `last_ms`).
    cursor: Option<String>,
    /// The newest event time stored, epoch ms.
    last_ms: Option<i64>,
    /// Ids of the stored events at exactly `last_ms`: a re-poll from that time skips them.
    last_ids: Vec<String>,
}

/// Meta key under which an `atlassian_api` source's position is kept.
fn position_key(org_id: &str) -> String {
    format!("source.atlassian_api.{org_id}")
}

/// Why a poll produced no page.
#[derive(Debug, thiserror::Error)]
enum PollError {
    /// Sources are stopping.
    #[error("stopping")]
    Stopped,
    /// The key was refused: polling stops.
    #[error(
        "HTTP {status}{reason}: the API key was refused; polling stopped (fix the token and restart)"
    )]
    Refused { status: u16, reason: String },
    /// Worth another try after `after` (the server's word) or the backoff.
    #[error("{why}")]
    Retry {
        why: String,
        after: Option<Duration>,
        /// The cursor may be stale: fall back to `from`.
        drop_cursor: bool,
    },
}

/// The parts of a page the poller reads besides its events (which [`Reader`] parses).
#[derive(Deserialize)]
struct PageShape<'a> {
    #[serde(borrow)]
    data: Vec<&'a serde_json::value::RawValue>,
    #[serde(default)]
    links: Option<Links>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Deserialize, Default)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    next: Option<String>,
}

/// An `atlassian_api` source as the poller needs it.
struct Api {
    name: Arc<str>,
    key: String,
    endpoint: Url,
    token: String,
    poll: Duration,
    /// Least time between two requests: the documented rate limit kept, not only obeyed once broken.
    gap: Duration,
    from: ApiFrom,
    opts: PollerOptions,
}

/// Run the poller for `source` until the engine stops (or the key is refused). Never fails the engine: every
/// problem is a health note under `atlassian_api {org_id}`.
pub(super) fn run(
    source: SourceConfig,
    opts: PollerOptions,
    store: Store,
    feeder: Feeder,
    shared: Arc<Shared>,
) -> Result<(), String> {
    let SourceConfig::AtlassianApi {
        org_id,
        token,
        url,
        poll_secs,
        requests_per_minute,
        from,
        ..
    } = source
    else {
        return Err("the API poller was given another kind of source".into());
    };
    let name: Arc<str> = format!("atlassian_api {org_id}").into();
    let stop_with = |note: String| {
        tracing::error!(source = %name, problem = %note, "API poller stopped");
        shared.set_health(&name, Some(note));
        Ok(())
    };
    let token = match token.resolve() {
        Ok(t) => t,
        Err(e) => return stop_with(format!("cannot read its token: {e}; polling stopped")),
    };
    let endpoint = match events_url(&url, &org_id) {
        Ok(u) => u,
        Err(e) => return stop_with(format!("{e}; polling stopped")),
    };
    let key = position_key(&org_id);
    let pos = match store.meta_get(&key) {
        Ok(Some(v)) => serde_json::from_slice::<Position>(&v).unwrap_or_else(|e| {
            tracing::warn!(source = %name, error = %e, "stored API position unreadable; starting from 'from'");
            Position::default()
        }),
        Ok(None) => Position::default(),
        Err(e) => return Err(format!("{name}: cannot read the stored position: {e}")),
    };
    let api = Api {
        name: name.clone(),
        key,
        endpoint,
        token,
        poll: Duration::from_secs(poll_secs.max(1)),
        gap: Duration::from_secs(60) / requests_per_minute.max(1),
        from,
        opts,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the API poller's runtime: {e}"))?;
    runtime.block_on(api.run(pos, feeder, shared))
}

/// `{url}/admin/v1/orgs/{orgId}/events`, the org id escaped as one path segment.
fn events_url(base: &str, org_id: &str) -> Result<Url, String> {
    let mut u = Url::parse(base).map_err(|e| format!("url '{base}' is not a URL: {e}"))?;
    u.path_segments_mut()
        .map_err(|()| format!("url '{base}' cannot have a path"))?
        .pop_if_empty()
        .extend(["admin", "v1", "orgs", org_id, "events"]);
    Ok(u)
}

impl Api {
    async fn run(
        self,
        mut pos: Position,
        feeder: Feeder,
        shared: Arc<Shared>,
    ) -> Result<(), String> {
        let client = http_client(self.opts.timeout).map_err(|e| e.to_string())?;
        let first_from = self.from.resolve(Utc::now()).timestamp_millis();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(
            Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64,
        );
        tracing::info!(source = %self.name, cursor = pos.cursor.is_some(), "polling the events API");
        // Cursors asked for since the last time the poller was caught up: one coming back is a loop.
        let mut asked: HashSet<String> = HashSet::new();
        let mut failures: u32 = 0;
        let mut warned_order = false;
        let mut last_request: Option<std::time::Instant> = None;
        loop {
            if shared.stopping() {
                return Ok(());
            }
            let url = self.page_url(&pos, first_from);
            if let Some(at) = last_request {
                let wait = self.gap.saturating_sub(at.elapsed());
                if !wait.is_zero() && shared.sleep(wait) {
                    return Ok(());
                }
            }
            last_request = Some(std::time::Instant::now());
            let body = match self.fetch(&client, url, &shared).await {
                Ok(b) => b,
                Err(PollError::Stopped) => return Ok(()),
                Err(e @ PollError::Refused { .. }) => {
                    let note = e.to_string();
                    tracing::error!(source = %self.name, problem = %note, "API poller stopped");
                    shared.set_health(&self.name, Some(note));
                    return Ok(());
                }
                Err(PollError::Retry {
                    why,
                    after,
                    drop_cursor,
                }) => {
                    failures += 1;
                    if drop_cursor && pos.cursor.take().is_some() {
                        tracing::info!(source = %self.name, "cursor dropped; asking again from the newest stored time");
                    }
                    let wait = self.backoff(failures, after, rng.random::<f64>());
                    tracing::warn!(source = %self.name, problem = %why, wait_ms = wait.as_millis() as u64, "events API poll failed");
                    shared.set_health(
                        &self.name,
                        Some(format!("{why}; retrying in {}", secs(wait))),
                    );
                    if shared.sleep(wait) {
                        return Ok(());
                    }
                    continue;
                }
            };
            let page = match self.read_page(&body, &pos, &mut warned_order) {
                Ok(p) => p,
                Err(why) => {
                    failures += 1;
                    let wait = self.backoff(failures, None, rng.random::<f64>());
                    tracing::warn!(source = %self.name, problem = %why, "events API page refused");
                    shared.set_health(
                        &self.name,
                        Some(format!("{why}; retrying in {}", secs(wait))),
                    );
                    if shared.sleep(wait) {
                        return Ok(());
                    }
                    continue;
                }
            };
            failures = 0;
            let requested = pos.cursor.clone();
            if let Some(c) = &requested {
                asked.insert(c.clone());
            }
            let mut problem: Option<String> = None;
            let next = match page.next {
                Ok(n) => n,
                Err(why) => {
                    problem = Some(why);
                    None
                }
            };
            let looped = next
                .as_ref()
                .is_some_and(|n| page.had_data && asked.contains(n));
            if looped {
                problem = Some(format!(
                    "the API gave the same cursor again ({} pages into this run); paging stopped until the next poll",
                    asked.len()
                ));
            }
            // The newest time and the ids at it move with every event handed on.
            for rec in &page.records {
                if let Record::Event(ev) = rec {
                    let t = ev.time.timestamp_millis();
                    match pos.last_ms {
                        Some(last) if t < last => {}
                        Some(last) if t == last => {
                            if pos.last_ids.len() < MAX_LAST_IDS {
                                pos.last_ids.push(ev.id.clone());
                            }
                        }
                        _ => {
                            pos.last_ms = Some(t);
                            pos.last_ids = vec![ev.id.clone()];
                        }
                    }
                }
            }
            // A loop keeps the cursor it was asked with (the next poll tries it again); a refused link
            // falls back to `from`.
            pos.cursor = if looped { requested } else { next.clone() };
            let position = serde_json::to_vec(&pos).ok().map(|v| (self.key.clone(), v));
            if !feeder.send(Batch {
                source: self.name.clone(),
                records: page.records,
                position,
                ack: None,
            }) {
                return Ok(());
            }
            shared.set_health(&self.name, problem.clone());
            if let Some(p) = &problem {
                tracing::warn!(source = %self.name, problem = %p, "events API paging stopped");
            }
            let more = problem.is_none() && page.had_data && next.is_some();
            if !more {
                // Caught up (or stopped by a hostile page): wait for the next poll.
                asked.clear();
                if shared.sleep(self.poll) {
                    return Ok(());
                }
            }
        }
    }

    /// The next request: the stored cursor, else `from` the newest stored time (or the configured start).
    fn page_url(&self, pos: &Position, first_from: i64) -> Url {
        let mut u = self.endpoint.clone();
        {
            let mut q = u.query_pairs_mut();
            match &pos.cursor {
                Some(c) => {
                    q.append_pair("cursor", c);
                }
                None => {
                    let from = pos.last_ms.unwrap_or(first_from);
                    q.append_pair("from", &from.to_string());
                    q.append_pair("sortOrder", "asc");
                }
            }
            q.append_pair("limit", &self.opts.page_limit.to_string());
        }
        u
    }

    /// One GET, its body read up to the cap; interrupted when sources stop.
    async fn fetch(
        &self,
        client: &reqwest::Client,
        url: Url,
        shared: &Shared,
    ) -> Result<Vec<u8>, PollError> {
        let had_cursor = url.query_pairs().any(|(k, _)| k == "cursor");
        let work = async {
            let resp = client
                .get(url)
                .bearer_auth(&self.token)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| PollError::Retry {
                    why: describe(&e),
                    after: None,
                    drop_cursor: false,
                })?;
            let status = resp.status();
            let code = status.as_u16();
            let reason = status
                .canonical_reason()
                .map(|r| format!(" {r}"))
                .unwrap_or_default();
            if code == 401 || code == 403 {
                return Err(PollError::Refused {
                    status: code,
                    reason,
                });
            }
            if !status.is_success() {
                let after = retry_after_header(resp.headers());
                let retryable = code == 408 || code == 429 || status.is_server_error();
                return Err(PollError::Retry {
                    why: format!("HTTP {code}{reason}"),
                    after,
                    // Another 4xx to a cursor request: the cursor may have expired.
                    drop_cursor: !retryable && had_cursor,
                });
            }
            self.read_body(resp).await
        };
        tokio::select! {
            r = work => r,
            () = stopped(shared) => Err(PollError::Stopped),
        }
    }

    async fn read_body(&self, mut resp: reqwest::Response) -> Result<Vec<u8>, PollError> {
        let max = self.opts.max_page_bytes;
        let too_big = || PollError::Retry {
            why: format!("page larger than {max} bytes; not read"),
            after: None,
            drop_cursor: false,
        };
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_big());
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() + c.len() > max {
                        return Err(too_big());
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    return Err(PollError::Retry {
                        why: describe(&e),
                        after: None,
                        drop_cursor: false,
                    });
                }
            }
        }
    }

    /// Parse a page: its events (oldest first, the ones already stored at the newest time left out) and its
    /// next cursor (`Err` with the reason when the link is refused).
    fn read_page(&self, body: &[u8], pos: &Position, warned: &mut bool) -> Result<Page, String> {
        let shape: PageShape<'_> =
            serde_json::from_slice(body).map_err(|e| format!("page is not valid JSON ({e})"))?;
        let had_data = !shape.data.is_empty();
        let next = self.next_cursor(&shape);
        let mut reader = Reader::new(body);
        let mut records = Vec::with_capacity(shape.data.len());
        while let Some(rec) = reader
            .next_record()
            .map_err(|e| format!("cannot read the page: {e}"))?
        {
            if let Record::Event(ev) = &rec
                && Some(ev.time.timestamp_millis()) == pos.last_ms
                && pos.last_ids.contains(&ev.id)
            {
                continue;
            }
            records.push(rec);
        }
        let times: Vec<i64> = records
            .iter()
            .filter_map(|r| match r {
                Record::Event(e) => Some(e.time.timestamp_millis()),
                Record::Rejected(_) => None,
            })
            .collect();
        if times.windows(2).any(|w| w[0] > w[1]) {
            // The server ignored sortOrder=asc: put the page in order; the stored newest time is the newest
            // seen, so a re-poll still misses nothing, and alerts do not depend on the order (DESIGN §3).
            if !*warned {
                tracing::warn!(source = %self.name, "the API did not sort oldest first; sorting each page");
                *warned = true;
            }
            records.sort_by_key(|r| match r {
                Record::Event(e) => e.time.timestamp_millis(),
                Record::Rejected(_) => i64::MIN,
            });
        }
        Ok(Page {
            records,
            next,
            had_data,
        })
    }

    /// The cursor of the next page: from `links.next` when it is on the configured origin (a link elsewhere is
    /// refused outright, `meta.next` included: the server is not to be trusted), else `meta.next`.
    fn next_cursor(&self, shape: &PageShape<'_>) -> Result<Option<String>, String> {
        let meta = shape
            .meta
            .as_ref()
            .and_then(|m| m.next.clone())
            .filter(|c| !c.is_empty());
        let Some(link) = shape.links.as_ref().and_then(|l| l.next.as_deref()) else {
            return Ok(meta);
        };
        if link.is_empty() {
            return Ok(meta);
        }
        let next = self
            .endpoint
            .join(link)
            .map_err(|e| format!("the next link is not a URL ({e}); not followed"))?;
        if next.origin() != self.endpoint.origin() {
            let host = next.host_str().unwrap_or("?");
            return Err(format!(
                "the next link points to another origin ({}://{host}); not followed",
                next.scheme()
            ));
        }
        let cursor = next
            .query_pairs()
            .find(|(k, _)| k == "cursor")
            .map(|(_, v)| v.into_owned())
            .filter(|c| !c.is_empty());
        Ok(cursor.or(meta))
    }

    /// Wait before the next try after `failures` in a row: exponential from `retry_base` with equal jitter,
    /// capped, and never less than the server's `Retry-After` (itself capped).
    fn backoff(&self, failures: u32, after: Option<Duration>, jitter: f64) -> Duration {
        let cap = self.opts.retry_cap;
        let exp = self
            .opts
            .retry_base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(cap);
        let jittered = exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        match after {
            Some(a) => jittered.max(a.min(cap)),
            None => jittered,
        }
    }
}

/// One page read.
struct Page {
    records: Vec<Record>,
    /// The next cursor, or why the link was refused.
    next: Result<Option<String>, String>,
    /// Whether the page had any element (an empty page with a cursor means caught up).
    had_data: bool,
}

/// Resolves once sources are asked to stop.
async fn stopped(shared: &Shared) {
    while !shared.stopping() {
        tokio::time::sleep(TICK).await;
    }
}

/// A transport error as a sentence, never with the URL: the delivery worker's words, naming the API.
fn describe(e: &reqwest::Error) -> String {
    format!("events API: {}", crate::deliver::worker::describe(e))
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        Api {
            name: "t".into(),
            key: "k".into(),
            endpoint: events_url("https://api.example.com/", "o/1")
                .unwrap_or_else(|e| panic!("{e}")),
            token: "x".into(),
            poll: Duration::from_secs(60),
            gap: Duration::from_secs(6),
            from: ApiFrom::default(),
            opts: PollerOptions::default(),
        }
    }

    #[test]
    fn the_endpoint_escapes_the_org_id() {
        assert_eq!(
            api().endpoint.as_str(),
            "https://api.example.com/admin/v1/orgs/o%2F1/events"
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_is_capped_and_honours_retry_after() {
        let a = api();
        assert_eq!(a.backoff(1, None, 1.0), Duration::from_secs(1));
        assert_eq!(a.backoff(3, None, 1.0), Duration::from_secs(4));
        assert_eq!(a.backoff(3, None, 0.0), Duration::from_secs(2));
        assert_eq!(a.backoff(40, None, 1.0), Duration::from_secs(300));
        assert_eq!(
            a.backoff(1, Some(Duration::from_secs(7)), 0.0),
            Duration::from_secs(7)
        );
        assert_eq!(
            a.backoff(1, Some(Duration::from_secs(86_400)), 0.0),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn next_links_are_followed_only_on_the_configured_origin() {
        let a = api();
        let page = |links: &str, meta: &str| -> Result<Option<String>, String> {
            let body =
                format!(r#"{{"data":[],"links":{{"next":{links}}},"meta":{{"next":{meta}}}}}"#);
            let shape: PageShape<'_> =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}"));
            a.next_cursor(&shape)
        };
        assert_eq!(
            page(
                r#""https://api.example.com/admin/v1/orgs/o/events?cursor=abc""#,
                "null"
            ),
            Ok(Some("abc".into()))
        );
        assert_eq!(page("null", r#""m1""#), Ok(Some("m1".into())));
        assert_eq!(
            page(r#""/admin/v1/orgs/o/events?cursor=r""#, "null"),
            Ok(Some("r".into()))
        );
        for bad in [
            r#""https://evil.example.com/admin/v1/orgs/o/events?cursor=abc""#,
            r#""http://api.example.com/admin/v1/orgs/o/events?cursor=abc""#,
            r#""https://api.example.com:8443/x?cursor=abc""#,
        ] {
            assert!(page(bad, r#""m1""#).is_err(), "{bad}");
        }
        assert_eq!(page("null", "null"), Ok(None));
    }
}
