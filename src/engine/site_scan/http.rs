//! One GET (or the one POST) against the site, as a site scan needs it: HTTP Basic auth, the body read up to
//! a cap, and what an answer means kept apart from when to ask again (as the delivery worker does):
//! 401/403 stop the scan naming the status; 408, 429 and 5xx (and no answer) are asked again after the
//! server's `Retry-After` (capped) and at least a jittered exponential backoff, a bounded number of times;
//! any other answer, a redirect included (never followed: it could lead the credentials elsewhere), stops
//! the scan naming the status and the URL. Nothing here logs or returns the token.

use std::time::Duration;

use chrono::Utc;
use rand::{Rng, SeedableRng};
use reqwest::Url;

use super::{SiteScanError, SiteScanOptions, Token};
use crate::deliver::retry::retry_after_header;
use crate::deliver::worker::http_client;

/// The site's origin and base URL (`https://acme.atlassian.net`, no trailing slash).
#[derive(Debug, Clone)]
pub(super) struct Site {
    pub url: Url,
    /// `scheme://host[:port]`, as links and finding ids use it.
    pub base: String,
}

impl Site {
    /// A site is an origin: `https://` (plain `http://` only to this host itself, where no one can listen in on
    /// the credentials), no user, path, query or fragment.
    pub fn parse(given: &str) -> Result<Self, SiteScanError> {
        let bad = |why: &str| SiteScanError::Site(format!("'{given}' {why}"));
        let url = Url::parse(given.trim()).map_err(|e| bad(&format!("is not a URL ({e})")))?;
        let host = url
            .host_str()
            .ok_or_else(|| bad("has no host"))?
            .to_string();
        let loopback = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
            || host.eq_ignore_ascii_case("localhost");
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(bad(
                    "is plain http: the token would cross the network in clear text; use https://",
                ));
            }
            _ => return Err(bad("is not an https:// URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("holds credentials; give them with --user and --token"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "is not a site's address; give only https://ORG.atlassian.net",
            ));
        }
        let base = url.as_str().trim_end_matches('/').to_string();
        Ok(Self { url, base })
    }

    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or("")
    }

    /// `{site}{path}` with `query` pairs.
    pub fn endpoint(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut u = self.url.clone();
        u.set_path(path);
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query);
        }
        u
    }

    /// Resolve a `next` link the server gave: relative to the site, or absolute on the site's own origin.
    /// Anything else is refused before anything is sent to it.
    pub fn same_origin(&self, link: &str, from: &Url) -> Result<Url, SiteScanError> {
        let next = self.url.join(link).map_err(|e| SiteScanError::Malformed {
            url: from.to_string(),
            why: format!("the next link is not a URL ({e})"),
        })?;
        if next.origin() != self.url.origin() {
            return Err(SiteScanError::ForeignLink {
                url: from.to_string(),
                to: format!("{}://{}", next.scheme(), next.host_str().unwrap_or("?")),
            });
        }
        Ok(next)
    }
}

/// Why one attempt failed.
enum Attempt {
    /// Ask again (after `after` at least, when the server said so).
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Fatal(SiteScanError),
}

/// Talks to one site with one set of credentials.
pub(super) struct Client {
    http: reqwest::Client,
    user: String,
    token: Token,
    opts: SiteScanOptions,
    rng: rand::rngs::SmallRng,
    /// Retries made (for the summary).
    pub retries: u64,
}

/// A wait before asking again, for the progress line.
pub(super) struct Wait {
    pub why: String,
    pub wait: Duration,
}

impl Client {
    pub fn new(user: &str, token: Token, opts: SiteScanOptions) -> Result<Self, SiteScanError> {
        let http = http_client(opts.timeout).map_err(|e| SiteScanError::Client(e.to_string()))?;
        Ok(Self {
            http,
            user: user.to_string(),
            token,
            opts,
            rng: rand::rngs::SmallRng::seed_from_u64(
                Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64,
            ),
            retries: 0,
        })
    }

    /// GET `url`'s body, asking again as the module docs say; `on_wait` hears of each wait before it starts.
    pub async fn get(
        &mut self,
        url: &Url,
        on_wait: &mut dyn FnMut(&Wait),
    ) -> Result<Vec<u8>, SiteScanError> {
        self.request(url, None, on_wait).await
    }

    /// POST a JSON body to `url` and read the answer's body, with the same retries.
    pub async fn post_json(
        &mut self,
        url: &Url,
        body: &serde_json::Value,
        on_wait: &mut dyn FnMut(&Wait),
    ) -> Result<Vec<u8>, SiteScanError> {
        self.request(url, Some(body), on_wait).await
    }

    async fn request(
        &mut self,
        url: &Url,
        body: Option<&serde_json::Value>,
        on_wait: &mut dyn FnMut(&Wait),
    ) -> Result<Vec<u8>, SiteScanError> {
        let mut failures: u32 = 0;
        loop {
            match self.once(url, body).await {
                Ok(b) => return Ok(b),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry { why, after }) => {
                    failures += 1;
                    if failures > self.opts.max_retries {
                        return Err(SiteScanError::GaveUp {
                            url: url.to_string(),
                            why,
                            tries: failures,
                        });
                    }
                    let wait = backoff(&self.opts, failures, after, self.rng.random::<f64>());
                    tracing::warn!(url = %url, problem = %why, wait_ms = wait.as_millis() as u64, "site scan request failed; asking again");
                    on_wait(&Wait { why, wait });
                    self.retries += 1;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn once(&self, url: &Url, body: Option<&serde_json::Value>) -> Result<Vec<u8>, Attempt> {
        let req = match body {
            None => self.http.get(url.clone()),
            Some(b) => self.http.post(url.clone()).json(b),
        };
        let resp = req
            .basic_auth(&self.user, Some(self.token.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Attempt::Retry {
                why: crate::deliver::worker::describe(&e),
                after: None,
            })?;
        let status = resp.status();
        let code = status.as_u16();
        let reason = status
            .canonical_reason()
            .map(|r| format!(" {r}"))
            .unwrap_or_default();
        if code == 401 || code == 403 {
            return Err(Attempt::Fatal(SiteScanError::Refused {
                status: format!("{code}{reason}"),
                url: url.to_string(),
            }));
        }
        if code == 408 || code == 429 || status.is_server_error() {
            let after = retry_after_header(resp.headers());
            return Err(Attempt::Retry {
                why: format!("HTTP {code}{reason}"),
                after,
            });
        }
        if !status.is_success() {
            let detail = if status.is_redirection() {
                " (redirects are not followed)".to_string()
            } else {
                let body = self.read_body(resp, 4096).await.unwrap_or_default();
                self.excerpt(&body)
            };
            return Err(Attempt::Fatal(SiteScanError::Status {
                status: format!("{code}{reason}{detail}"),
                url: url.to_string(),
            }));
        }
        let max = self.opts.max_page_bytes;
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(Attempt::Fatal(SiteScanError::TooBig {
                url: url.to_string(),
                max,
            }));
        }
        match self.read_body(resp, max).await {
            Ok(b) => Ok(b),
            Err(BodyError::TooBig) => Err(Attempt::Fatal(SiteScanError::TooBig {
                url: url.to_string(),
                max,
            })),
            Err(BodyError::Read(why)) => Err(Attempt::Retry { why, after: None }),
        }
    }

    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        max: usize,
    ) -> Result<Vec<u8>, BodyError> {
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() + c.len() > max {
                        return Err(BodyError::TooBig);
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(BodyError::Read(crate::deliver::worker::describe(&e))),
            }
        }
    }

    /// The start of an error answer, for the message: one line, control characters replaced, and the
    /// credentials cut out should a server echo them back.
    fn excerpt(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let mut text = crate::model::text::sanitize(text.trim());
        for secret in self.token.forms(&self.user) {
            if !secret.is_empty() {
                text = text.replace(&secret, "[redacted]");
            }
        }
        if text.is_empty() {
            return String::new();
        }
        format!(": {}", crate::model::text::truncate(&text, 200))
    }
}

enum BodyError {
    TooBig,
    Read(String),
}

/// Wait before the next try after `failures` in a row: exponential from `retry_base` with equal jitter,
/// capped, and never less than the server's `Retry-After` (itself capped).
pub(super) fn backoff(
    opts: &SiteScanOptions,
    failures: u32,
    after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let cap = opts.retry_cap;
    let exp = opts
        .retry_base
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
        .min(cap);
    let jittered = exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
    match after {
        Some(a) => jittered.max(a.min(cap)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_https_origins() {
        let s = Site::parse("https://acme.atlassian.net/").expect("ok");
        assert_eq!(s.base, "https://acme.atlassian.net");
        assert!(Site::parse("http://127.0.0.1:8080").is_ok());
        assert!(Site::parse("http://localhost:8080").is_ok());
        for bad in [
            "http://acme.atlassian.net",
            "ftp://acme.atlassian.net",
            "https://u:p@acme.atlassian.net",
            "https://acme.atlassian.net/wiki",
            "https://acme.atlassian.net/?x=1",
            "acme.atlassian.net",
        ] {
            assert!(Site::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_links_stay_on_the_site() {
        let s = Site::parse("https://acme.atlassian.net").expect("ok");
        let from = s.endpoint("/wiki/api/v2/pages", &[]);
        assert!(s.same_origin("/wiki/api/v2/pages?cursor=a", &from).is_ok());
        assert!(
            s.same_origin(
                "https://acme.atlassian.net/wiki/api/v2/pages?cursor=a",
                &from
            )
            .is_ok()
        );
        for bad in [
            "https://evil.example/wiki/api/v2/pages?cursor=a",
            "//evil.example/x?cursor=a",
            "http://acme.atlassian.net/x?cursor=a",
            "https://acme.atlassian.net:444/x?cursor=a",
        ] {
            assert!(
                matches!(
                    s.same_origin(bad, &from),
                    Err(SiteScanError::ForeignLink { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_is_capped_and_honours_retry_after() {
        let o = SiteScanOptions {
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(60),
            ..SiteScanOptions::default()
        };
        assert_eq!(backoff(&o, 1, None, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(&o, 3, None, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(&o, 30, None, 1.0), Duration::from_secs(60));
        assert_eq!(
            backoff(&o, 1, Some(Duration::from_secs(5)), 0.0),
            Duration::from_secs(5)
        );
        assert_eq!(
            backoff(&o, 1, Some(Duration::from_secs(86_400)), 0.0),
            Duration::from_secs(60)
        );
    }
}
