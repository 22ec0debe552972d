//! The payload formats of DESIGN §6: pure functions from an alert (or a batch of audit events) to an
//! [`HttpRequest`] ready to send. No I/O and no clock: the delivery id and the signing time are parameters,
//! so a retry can rebuild the same request and tests need no server.
//!
//! Every text that came from outside (titles, names, descriptions, match fields) is cleaned of control
//! characters, cut on character boundaries to the receiver's limits and escaped for the receiver's markup
//! before it is placed, so a hostile audit event cannot mention `@channel`, forge a link, break a card or
//! make a receiver refuse the payload. Matches are shown in their redacted form only. The machine formats
//! (signed webhook, Splunk HEC) carry the alert as stored, which holds redacted matches only.

mod jira;
mod signing;
mod slack;
mod splunk;
mod teams;
mod text;
mod view;
mod webhook;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::model::{Alert, DeliveryEvent, IntegrationKind};

pub use jira::{jira_create, jira_created_key, jira_found_key, jira_search, valid_jira_key};
pub use signing::{sign, verify_signature};
pub use slack::{slack, slack_digest};
pub use splunk::{audit_forward, splunk_hec};
pub use teams::{TEAMS_MAX_BYTES, teams, teams_digest};
pub use webhook::webhook;

/// The HTTP methods the formats use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Jira's search before a retried issue creation.
    Get,
    /// Every delivery.
    Post,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HTTP request ready to send: the delivery worker only adds the timeout and sends it. Its `Debug` masks
/// the URL (a Slack or Teams webhook URL is itself the credential), the credential headers and the body, so
/// it may be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `POST` for every delivery; `GET` for Jira's search.
    pub method: Method,
    /// The full URL, path and query included; may itself be a credential (mask it with [`mask_url`]).
    pub url: String,
    /// Lower-case names, in the order they are to be sent; `authorization` and `webhook-signature` are
    /// credentials.
    pub headers: Vec<(String, String)>,
    /// The payload, UTF-8 JSON (newline-joined JSON objects for a HEC batch); empty for a `GET`.
    pub body: Vec<u8>,
}

impl HttpRequest {
    fn post_json(url: String, body: Vec<u8>) -> Self {
        Self {
            method: Method::Post,
            url,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Headers whose value is a credential and never printed.
fn is_secret_header(name: &str) -> bool {
    ["authorization", "webhook-signature"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let shown = if is_secret_header(n) {
                    "***"
                } else {
                    v.as_str()
                };
                (n.as_str(), shown)
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &mask_url(&self.url))
            .field("headers", &headers)
            .field("body", &format_args!("{} bytes", self.body.len()))
            .finish()
    }
}

/// Where to send and with which credentials, already resolved from the config by the engine (this module
/// may not read the config). Its `Debug` masks the URL, the secret and the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    /// The integration's name (shown in errors; never a secret).
    pub name: String,
    /// Which format [`request`] builds.
    pub kind: IntegrationKind,
    /// The endpoint: the webhook URL (Slack, Teams, webhook, audit forwarding), the site
    /// (`https://acme.atlassian.net` for Jira) or the collector (Splunk HEC).
    pub url: String,
    /// Standard Webhooks signing key (`whsec_` + base64; see [`sign`]).
    pub secret: Option<String>,
    /// API token: Jira (with `user`, Basic auth) or Splunk HEC.
    pub token: Option<String>,
    /// Jira account e-mail.
    pub user: Option<String>,
    /// Jira project key.
    pub project: Option<String>,
    /// Jira issue type (`Task` when unset).
    pub issue_type: Option<String>,
}

impl Destination {
    /// A destination with only a name, kind and URL; credentials are set field by field.
    pub fn new(name: &str, kind: IntegrationKind, url: &str) -> Self {
        Self {
            name: name.to_string(),
            kind,
            url: url.to_string(),
            secret: None,
            token: None,
            user: None,
            project: None,
            issue_type: None,
        }
    }

    fn need<'a>(
        &self,
        value: &'a Option<String>,
        field: &'static str,
    ) -> Result<&'a str, FormatError> {
        value
            .as_deref()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| FormatError::Missing {
                integration: self.name.clone(),
                kind: self.kind,
                field,
            })
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("Destination")
            .field("name", &self.name)
            .field("kind", &self.kind.as_str())
            .field("url", &mask_url(&self.url))
            .field("secret", &masked(&self.secret))
            .field("token", &masked(&self.token))
            .field("user", &self.user)
            .field("project", &self.project)
            .field("issue_type", &self.issue_type)
            .finish()
    }
}

/// Why a request could not be built. Names the integration and the missing piece, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A credential or setting the format needs is not configured.
    #[error("integration '{integration}' ({kind}) has no {field}")]
    Missing {
        /// The integration's name.
        integration: String,
        /// Its kind, which says why the field is needed.
        kind: IntegrationKind,
        /// The config key that is missing (`secret`, `token`, `user`, `project`, `token or secret`).
        field: &'static str,
    },
    /// The Standard Webhooks secret starts with `whsec_` but what follows is not base64.
    #[error("integration '{integration}': the secret after 'whsec_' is not base64")]
    BadSecret {
        /// The integration's name.
        integration: String,
    },
    /// Audit forwarding carries audit events, not alerts.
    #[error("integration '{integration}' ({kind}) does not take alerts")]
    NotForAlerts {
        /// The integration's name.
        integration: String,
        /// Its kind (`audit_forward`).
        kind: IntegrationKind,
    },
    /// The alert or events could not be written as JSON (not expected: every field serialises).
    #[error("cannot write the payload as JSON: {0}")]
    Json(String),
}

/// The request delivering `alert` to `dest`, in the format of `dest.kind` (Jira: the issue creation; the
/// worker asks [`jira_search`] first on a retry). `delivery_id` and `timestamp` (Unix seconds) are used by
/// the signed webhook: the same delivery keeps its id across retries, so the receiver can dedupe.
pub fn request(
    alert: &Alert,
    event: DeliveryEvent,
    dest: &Destination,
    delivery_id: &str,
    timestamp: i64,
) -> Result<HttpRequest, FormatError> {
    match dest.kind {
        IntegrationKind::Slack => Ok(slack(alert, event, dest)),
        IntegrationKind::Teams => Ok(teams(alert, event, dest)),
        IntegrationKind::Jira => jira_create(alert, event, dest),
        IntegrationKind::Webhook => webhook(alert, event, dest, delivery_id, timestamp),
        IntegrationKind::SplunkHec => splunk_hec(alert, event, dest),
        IntegrationKind::AuditForward => Err(FormatError::NotForAlerts {
            integration: dest.name.clone(),
            kind: dest.kind,
        }),
    }
}

/// A URL as it may be shown or logged: scheme and host (with its port) only, then `/…`. The path and query
/// of a Slack or Teams webhook URL are its credential, and a user name or password before the host is one
/// too, so all of it goes. Text that is not a URL shows as `…`.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "…".to_string();
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return "…".to_string();
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
        .collect();
    format!("{}://{host}/…", scheme.to_ascii_lowercase())
}

/// The alert as JSON, as the machine formats carry it.
fn alert_json(alert: &Alert) -> Result<serde_json::Value, FormatError> {
    serde_json::to_value(alert).map_err(|e| FormatError::Json(e.to_string()))
}

/// `url` with `path` put in place of its path when it has none (`https://host:8088` or `https://host/`),
/// keeping any query; a URL with a path of its own is used as given (a proxy's route).
fn with_default_path(url: &str, path: &str) -> String {
    let (base, query) = match url.find(['?', '#']) {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base[after_scheme..].find('/') {
        Some(i) if base.len() > after_scheme + i + 1 => url.to_string(),
        Some(i) => format!("{}{path}{query}", &base[..after_scheme + i]),
        None => format!("{base}{path}{query}"),
    }
}

#[cfg(test)]
mod mod_tests {
    use super::*;

    #[test]
    fn urls_are_masked_to_scheme_and_host() {
        assert_eq!(
            mask_url("https://hooks.slack.com/services/T000/B000/XXXXSECRET"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            mask_url("https://user:pa55@splunk.example.com:8088/services?token=x"),
            "https://splunk.example.com:8088/…"
        );
        assert_eq!(mask_url("http://[::1]:9000"), "http://[::1]:9000/…");
        assert_eq!(mask_url("not a url"), "…");
        assert_eq!(mask_url("https://ho\x1bst\u{202e}/x"), "https://host/…");
    }

    #[test]
    fn a_destination_and_a_request_print_no_credential() {
        let mut d = Destination::new(
            "siem",
            IntegrationKind::Webhook,
            "https://hooks.slack.com/services/T0/B0/s3cr3tpath",
        );
        d.secret = Some("whsec_c2VjcmV0LWtleQ==".into());
        d.token = Some("tok-123456".into());
        let shown = format!("{d:?}");
        assert!(shown.contains("https://hooks.slack.com/…"), "{shown}");
        for secret in ["s3cr3tpath", "c2VjcmV0", "tok-123456"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let r = HttpRequest::post_json(d.url.clone(), b"{}".to_vec())
            .header("authorization", "Splunk tok-123456");
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("tok-123456") && !shown.contains("s3cr3tpath"),
            "{shown}"
        );
        assert!(
            shown.contains("***") && shown.contains("2 bytes"),
            "{shown}"
        );
    }

    #[test]
    fn a_default_path_is_added_only_where_there_is_none() {
        let p = "/services/collector/event";
        assert_eq!(
            with_default_path("https://splunk:8088", p),
            "https://splunk:8088/services/collector/event"
        );
        assert_eq!(
            with_default_path("https://splunk:8088/", p),
            "https://splunk:8088/services/collector/event"
        );
        assert_eq!(
            with_default_path("https://splunk:8088?channel=1", p),
            "https://splunk:8088/services/collector/event?channel=1"
        );
        assert_eq!(
            with_default_path("https://proxy/hec/raw", p),
            "https://proxy/hec/raw"
        );
    }

    #[test]
    fn audit_forwarding_takes_no_alert() {
        let d = Destination::new("fwd", IntegrationKind::AuditForward, "https://x");
        let a = fixtures::alert();
        assert!(matches!(
            request(&a, DeliveryEvent::Created, &d, "id", 0),
            Err(FormatError::NotForAlerts { .. })
        ));
    }
}
