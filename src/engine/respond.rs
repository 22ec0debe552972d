//! Responding from an alert, as Guard Detect's alert view offers: suspend the actor's access to the
//! organization's apps, or restore it, through the organizations REST API
//! (`POST {url}/admin/v1/orgs/{orgId}/directory/users/{accountId}/suspend-access`, and `restore-access`),
//! with the org admin API key the `atlassian_api` source already holds.
//!
//! Decisions, so an on-call engineer knows what happened:
//! - **Which org**: the one `atlassian_api` source, or the one named (`:suspend ORG`) when several are
//!   configured; vigil cannot tell from an alert which org's directory holds the account.
//! - **Which account**: the alert's actor id, checked to look like an Atlassian account id (letters, digits,
//!   `:`, `-`, `_`, at most 128) before it goes into a URL, so a hostile id cannot aim the call elsewhere.
//! - **One call, a person waiting**: no retry loop. A `429` whose `Retry-After` is a few seconds is waited
//!   out once; a longer one is reported ("try again in 40 s"), as is every other failure, with what the API
//!   answered (its `message`, `detail` or `errorMessages`, control characters stripped, cut to 300).
//! - **Never the key**: errors are built without the URL's query and never hold the token.
//!
//! The call blocks its caller (the engine answers commands on blocking threads) on a small runtime of its
//! own, so it can be made from any thread, inside tokio or not.

use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::config::{SecretRef, SourceConfig};
use crate::deliver::retry::retry_after_header;
use crate::deliver::worker::http_client;
use crate::model::{Alert, text};

/// Suspend or restore: the two responses the directory API offers for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Remove the account's access to the org's apps (roles and groups are kept for a restore).
    Suspend,
    /// Give a suspended account its access back.
    Restore,
}

impl Access {
    /// The verb, for questions and history ("suspend", "restore").
    pub fn verb(self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::Restore => "restore",
        }
    }

    /// The past participle, for outcomes ("suspended", "restored").
    pub fn done(self) -> &'static str {
        match self {
            Self::Suspend => "suspended",
            Self::Restore => "restored",
        }
    }

    /// The last path segment of the API call.
    fn endpoint(self) -> &'static str {
        match self {
            Self::Suspend => "suspend-access",
            Self::Restore => "restore-access",
        }
    }
}

/// One organization vigil may act in: an `atlassian_api` source's org and its admin key.
#[derive(Debug, Clone)]
pub struct OrgAdmin {
    /// The organization id (the API path names it).
    pub org_id: String,
    /// The name people know it by, when the config gives one (`org_name`).
    pub org_name: Option<String>,
    /// API base, e.g. `https://api.atlassian.com`.
    pub url: String,
    /// The org admin API key.
    pub token: SecretRef,
}

impl OrgAdmin {
    /// The orgs of every `atlassian_api` source, in config order.
    pub fn from_sources(sources: &[SourceConfig]) -> Vec<Self> {
        sources
            .iter()
            .filter_map(|s| match s {
                SourceConfig::AtlassianApi {
                    org_id,
                    org_name,
                    token,
                    url,
                    ..
                } => Some(Self {
                    org_id: org_id.clone(),
                    org_name: org_name.clone(),
                    url: url.clone(),
                    token: token.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// "Acme (org 1234…)" or "org 1234…", control characters stripped: what a confirmation names.
    pub fn label(&self) -> String {
        let id = text::truncate(&text::sanitize(&self.org_id), 40);
        match &self.org_name {
            Some(n) => format!("{} (org {id})", text::truncate(&text::sanitize(n), 60)),
            None => format!("org {id}"),
        }
    }
}

/// What a suspend or restore would do, for the confirmation to name before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPlan {
    /// The alert whose actor it is (the result goes into its history).
    pub alert: Ulid,
    /// Suspend or restore.
    pub access: Access,
    /// The Atlassian account id the call names.
    pub account_id: String,
    /// The person as the alert knows them: "Ana Lima <ana@acme.com>", sanitized.
    pub person: String,
    /// The organization id.
    pub org_id: String,
    /// The organization as the history names it ([`OrgAdmin::label`]): name and id.
    pub org: String,
    /// The organization as the question names it: its name, else `org <id>`.
    pub org_short: String,
}

impl AccessPlan {
    /// The question a UI asks before carrying the plan out: at most 80 columns (the person cut to 36
    /// characters, the org to 24), so the verb and `(y/N)` are never cut off on a small terminal; the ids
    /// go in the hint beside it.
    pub fn question(&self) -> String {
        format!(
            "{} {} in {}? (y/N) ",
            self.access.verb(),
            text::truncate(&self.person, 36),
            text::truncate(&self.org_short, 24)
        )
    }
}

/// Why `s` cannot be an Atlassian account id (`5b10ac8d82e05b22cc7d4ef5`, `557058:f58131cb-…`), if so.
pub fn account_id_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("the alert has no actor account id".into());
    }
    let ok = s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_'));
    (!ok).then(|| {
        format!(
            "the actor id '{}' is not an Atlassian account id (an API key, an app or a forged id?): nothing was sent",
            text::truncate(&text::sanitize(s), 60)
        )
    })
}

/// The person an alert's actor is, for a question or a history line.
fn person_of(alert: &Alert) -> String {
    let a = &alert.actor;
    let name = a.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let email = a.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let shown = match (name, email) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (Some(n), None) => format!("{n} ({})", a.id),
        (None, Some(e)) => e.to_string(),
        (None, None) => format!("account {}", a.id),
    };
    text::truncate(&text::sanitize(&shown), 100)
}

/// The org to act in: the one named, else the only one; otherwise why not.
pub fn choose_org<'a>(admins: &'a [OrgAdmin], named: Option<&str>) -> Result<&'a OrgAdmin, String> {
    let named = named.map(str::trim).filter(|n| !n.is_empty());
    let known = || {
        admins
            .iter()
            .map(OrgAdmin::label)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (named, admins) {
        (_, []) => Err(
            "no atlassian_api source is configured: suspending and restoring use its org admin API key"
                .into(),
        ),
        (None, [one]) => Ok(one),
        (None, _) => Err(format!(
            "several organizations are configured ({}): name one, e.g. `:suspend {}`",
            known(),
            text::sanitize(&admins[0].org_id)
        )),
        (Some(n), _) => admins
            .iter()
            .find(|a| a.org_id == n || a.org_name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n)))
            .ok_or_else(|| format!("no organization '{}' (configured: {})", text::sanitize(n), known())),
    }
}

/// What suspending or restoring `alert`'s actor in `org` (or the only org) would do, or why it cannot.
pub fn plan(
    admins: &[OrgAdmin],
    alert: &Alert,
    access: Access,
    org: Option<&str>,
) -> Result<AccessPlan, String> {
    let admin = choose_org(admins, org)?;
    if let Some(why) = account_id_problem(&alert.actor.id) {
        return Err(why);
    }
    Ok(AccessPlan {
        alert: alert.id,
        access,
        account_id: alert.actor.id.clone(),
        person: person_of(alert),
        org_id: admin.org_id.clone(),
        org: admin.label(),
        org_short: match &admin.org_name {
            Some(n) => text::sanitize(n),
            None => format!("org {}", text::sanitize(&admin.org_id)),
        },
    })
}

/// How the call is made. The defaults suit the real service; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct AccessOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// A `429` asking for at most this long is waited out once; longer is reported to the person.
    pub wait_at_most: Duration,
    /// Most bytes of an answer read (its message is all that is used).
    pub max_body: usize,
}

impl Default for AccessOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            wait_at_most: Duration::from_secs(5),
            max_body: 64 * 1024,
        }
    }
}

/// The API did not do it: the status (none when no answer came) and what it said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{said}")]
pub struct AccessFailure {
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// One line for the footer and the history: "HTTP 403 Forbidden: the API key cannot manage this user".
    pub said: String,
}

/// Suspend or restore `account_id` in `admin`'s org. `Ok` holds what the API answered ("HTTP 204").
pub fn set_access(
    admin: &OrgAdmin,
    account_id: &str,
    access: Access,
    opts: &AccessOptions,
) -> Result<String, AccessFailure> {
    let fail = |said: String| AccessFailure { status: None, said };
    if let Some(why) = account_id_problem(account_id) {
        return Err(fail(why));
    }
    let url = access_url(&admin.url, &admin.org_id, account_id, access).map_err(fail)?;
    let token = admin
        .token
        .resolve()
        .map_err(|e| fail(format!("cannot read the org admin API key: {e}")))?;
    let opts = opts.clone();
    // A runtime of its own on a thread of its own: callable from a tokio worker as from a plain thread.
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| fail(format!("cannot start the HTTP runtime: {e}")))?;
            rt.block_on(call(url, &token, &opts))
        })
        .join()
        .unwrap_or_else(|_| Err(fail("the API call failed unexpectedly".into())))
    })
}

/// `{url}/admin/v1/orgs/{orgId}/directory/users/{accountId}/{suspend,restore}-access`, each id escaped as
/// one path segment.
fn access_url(base: &str, org_id: &str, account_id: &str, access: Access) -> Result<Url, String> {
    let mut u = Url::parse(base).map_err(|e| format!("url '{base}' is not a URL: {e}"))?;
    u.path_segments_mut()
        .map_err(|()| format!("url '{base}' cannot have a path"))?
        .pop_if_empty()
        .extend([
            "admin",
            "v1",
            "orgs",
            org_id,
            "directory",
            "users",
            account_id,
            access.endpoint(),
        ]);
    Ok(u)
}

async fn call(url: Url, token: &str, opts: &AccessOptions) -> Result<String, AccessFailure> {
    let client = http_client(opts.timeout).map_err(|e| AccessFailure {
        status: None,
        said: e.to_string(),
    })?;
    let mut waited = false;
    loop {
        let sent = client
            .post(url.clone())
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    format!("no answer within {} s", opts.timeout.as_secs())
                } else {
                    format!("could not reach the API: {}", e.without_url())
                };
                return Err(AccessFailure {
                    status: None,
                    said: why,
                });
            }
        };
        let status = resp.status();
        let retry_after = retry_after_header(resp.headers());
        let mut body = Vec::new();
        while body.len() < opts.max_body {
            match resp.chunk().await {
                Ok(Some(c)) => body.extend_from_slice(&c),
                _ => break,
            }
        }
        body.truncate(opts.max_body);
        let head = match status.canonical_reason() {
            Some(r) => format!("HTTP {} {r}", status.as_u16()),
            None => format!("HTTP {}", status.as_u16()),
        };
        let said = message_of(&body);
        if status.is_success() {
            return Ok(match said {
                Some(m) => format!("{head}: {m}"),
                None => head,
            });
        }
        if status.as_u16() == 429
            && !waited
            && let Some(after) = retry_after.filter(|a| *a <= opts.wait_at_most)
        {
            waited = true;
            tokio::time::sleep(after).await;
            continue;
        }
        let hint = match status.as_u16() {
            401 => Some("the org admin API key was refused".to_string()),
            403 => Some("the API key may not manage this account (is it an org admin key, and is the account managed by the org?)".to_string()),
            404 => Some("no such account in the org's directory".to_string()),
            429 => Some(match retry_after {
                Some(a) => format!("rate limited; try again in {} s", a.as_secs().max(1)),
                None => "rate limited; try again later".to_string(),
            }),
            _ => None,
        };
        let said = match (said, hint) {
            (Some(m), Some(h)) => format!("{head}: {m} ({h})"),
            (Some(m), None) => format!("{head}: {m}"),
            (None, Some(h)) => format!("{head}: {h}"),
            (None, None) => head,
        };
        return Err(AccessFailure {
            status: Some(status.as_u16()),
            said,
        });
    }
}

/// The human part of an API answer: `message`, `detail`, `title`, `errorMessages[0]`, or `errors[0]`'s
/// `detail`/`title`/`message`; else the body itself when it is short text. Sanitized and cut to 300.
fn message_of(body: &[u8]) -> Option<String> {
    let clean = |s: &str| {
        let s = text::sanitize(s.trim());
        (!s.is_empty()).then(|| text::truncate(&s, 300))
    };
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let field = |v: &serde_json::Value| {
            ["message", "detail", "title", "error_description", "error"]
                .iter()
                .find_map(|k| v.get(*k).and_then(|m| m.as_str()).and_then(clean))
        };
        return field(&v)
            .or_else(|| {
                v.get("errorMessages")
                    .and_then(|m| m.get(0))
                    .and_then(|m| m.as_str())
                    .and_then(clean)
            })
            .or_else(|| v.get("errors").and_then(|e| e.get(0)).and_then(field));
    }
    let s = std::str::from_utf8(body).ok()?;
    // An HTML error page says nothing a person needs in a footer.
    if s.trim_start().starts_with('<') {
        return None;
    }
    clean(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_that_could_aim_the_call_elsewhere_are_refused() {
        assert_eq!(account_id_problem("5b10ac8d82e05b22cc7d4ef5"), None);
        assert_eq!(
            account_id_problem("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"),
            None
        );
        for bad in ["", "../../orgs/x", "a/b", "a?b", "a b", "x\u{202e}y", "é"] {
            assert!(account_id_problem(bad).is_some(), "{bad:?}");
        }
        assert!(account_id_problem(&"a".repeat(129)).is_some());
    }

    #[test]
    fn the_url_escapes_each_id_as_one_segment() {
        let u = access_url("https://api.example.com/", "org/1", "acc", Access::Suspend).unwrap();
        assert_eq!(
            u.as_str(),
            "https://api.example.com/admin/v1/orgs/org%2F1/directory/users/acc/suspend-access"
        );
        let u = access_url("http://127.0.0.1:9/base", "o", "acc", Access::Restore).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/base/admin/v1/orgs/o/directory/users/acc/restore-access"
        );
    }

    #[test]
    fn the_message_is_found_in_each_error_shape_and_cleaned() {
        assert_eq!(
            message_of(br#"{"code":403,"message":"Not \u001b[31mallowed"}"#).as_deref(),
            Some("Not �[31mallowed")
        );
        assert_eq!(
            message_of(
                br#"{"errors":[{"status":"404","title":"Not Found","detail":"User not found"}]}"#
            )
            .as_deref(),
            Some("User not found")
        );
        assert_eq!(
            message_of(br#"{"errorMessages":["nope"],"errors":{}}"#).as_deref(),
            Some("nope")
        );
        assert_eq!(message_of(b"<html><body>502</body></html>"), None);
        assert_eq!(message_of(b"plain words").as_deref(), Some("plain words"));
        assert_eq!(message_of(b""), None);
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(10_000));
        assert!(message_of(long.as_bytes()).unwrap().chars().count() <= 300);
    }

    #[test]
    fn the_question_fits_80_columns_whatever_the_names() {
        let admin = OrgAdmin {
            org_id: "d5a1c8f2-0000-4000-8000-000000000000".into(),
            org_name: None,
            url: "http://x".into(),
            token: SecretRef::Literal("t".into()),
        };
        let mut alert: Alert = serde_json::from_value(serde_json::json!({
            "id": Ulid::nil(), "detection": "x", "title": "t", "severity": "high", "status": "open",
            "created": "2026-11-02T09:00:00Z", "time_start": "2026-11-02T09:00:00Z",
            "actor": {"id": "acc-1"}, "count": 1, "description": "", "version": 1, "group_key": "g"
        }))
        .unwrap();
        alert.actor.name = Some("Ana Maria da Conceição Lima e Silva 安娜 \u{202e}evil".into());
        alert.actor.email = Some("ana.maria.da.conceicao.lima.e.silva@example.com".into());
        let q = plan(std::slice::from_ref(&admin), &alert, Access::Suspend, None)
            .unwrap()
            .question();
        assert!(q.starts_with("suspend Ana Maria"), "{q}");
        assert!(q.ends_with("in org d5a1c8f2-0000-4000-…? (y/N) "), "{q}");
        assert!(q.chars().count() <= 80, "{q}");
        assert!(!q.contains('\u{202e}'), "{q}");
    }

    #[test]
    fn the_org_is_the_only_one_or_the_one_named() {
        let org = |id: &str, name: Option<&str>| OrgAdmin {
            org_id: id.into(),
            org_name: name.map(String::from),
            url: "http://x".into(),
            token: SecretRef::Literal("t".into()),
        };
        assert!(
            choose_org(&[], None)
                .unwrap_err()
                .contains("no atlassian_api source")
        );
        let one = [org("o1", Some("Acme"))];
        assert_eq!(choose_org(&one, None).unwrap().org_id, "o1");
        let two = [org("o1", Some("Acme")), org("o2", None)];
        let e = choose_org(&two, None).unwrap_err();
        assert!(e.contains("Acme (org o1), org o2"), "{e}");
        assert_eq!(choose_org(&two, Some("o2")).unwrap().org_id, "o2");
        assert_eq!(choose_org(&two, Some("acme")).unwrap().org_id, "o1");
        assert!(
            choose_org(&two, Some("o3"))
                .unwrap_err()
                .contains("no organization 'o3'")
        );
    }
}
