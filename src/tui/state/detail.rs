//! The detail pane's state: which alert (when not the queue's selection), how far it is scrolled, what was
//! loaded for it (deliveries, evidence), the links it offers, and the event view the timeline opens.

use serde_json::Value;
use ulid::Ulid;

use crate::model::{Alert, AuditEvent, Delivery, Evidence, text};

/// The detail pane: which alert (when not the queue's selection), how far it is scrolled, and what was
/// loaded for the shown alert.
#[derive(Debug, Default)]
pub struct DetailState {
    /// An alert opened from the timeline, shown instead of the queue's selection until the user goes back.
    pub pinned: Option<Alert>,
    /// First line shown, at most [`DetailState::max_scroll`].
    pub scroll: usize,
    /// The deliveries of one alert (oldest first), as last loaded; shown only while that alert is.
    pub deliveries: Option<(Ulid, Vec<Delivery>)>,
    /// The evidence of one alert, as last loaded (or why it could not be).
    pub evidence: Option<(Ulid, Result<Evidence, String>)>,
    /// Lines of the detail at the last draw, and how many of them fit: the scroll stops at the end of the
    /// content instead of running into blank space. Set by the app after each frame.
    pub rows: usize,
    pub view: usize,
    /// The alert whose deliveries were last asked for: each alert shown is asked for once, then again only
    /// on the clock tick or a change (see `AppState::apply`).
    pub(super) asked: Option<Ulid>,
    /// The alert whose evidence was last asked for, and whether with its baseline (again only when the
    /// alert changes, or when the detail takes the focus and the baseline is wanted).
    pub(super) evidence_asked: Option<(Ulid, bool)>,
}

impl DetailState {
    /// The loaded deliveries of alert `id`, or `None` while they are not (yet) known.
    pub fn deliveries_of(&self, id: Ulid) -> Option<&[Delivery]> {
        self.deliveries
            .as_ref()
            .filter(|(a, _)| *a == id)
            .map(|(_, d)| d.as_slice())
    }

    /// The loaded evidence of alert `id`, or `None` while it loads.
    pub fn evidence_of(&self, id: Ulid) -> Option<&Result<Evidence, String>> {
        self.evidence
            .as_ref()
            .filter(|(a, _)| *a == id)
            .map(|(_, e)| e)
    }

    /// The furthest the detail scrolls: its last line on the pane's last row.
    pub fn max_scroll(&self) -> usize {
        self.rows.saturating_sub(self.view)
    }

    /// Scroll by `delta` lines within the content. Before a frame measured it (`rows == 0`) the scroll is
    /// only kept from overflowing; the draw clamps what it shows.
    pub fn scroll_by(&mut self, delta: isize) {
        let max = if self.rows == 0 {
            usize::MAX / 4
        } else {
            self.max_scroll()
        };
        self.scroll = self.scroll.saturating_add_signed(delta).min(max);
    }

    /// What the last frame measured: `rows` lines of content, `view` of them on screen. Returns whether the
    /// scroll had to move back inside the content (the alert shown got shorter).
    pub fn set_layout(&mut self, rows: usize, view: usize) -> bool {
        self.rows = rows;
        self.view = view;
        let max = self.max_scroll();
        if self.scroll > max {
            self.scroll = max;
            return true;
        }
        false
    }
}

/// A link the detail offers: what it leads to and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// `content`, `site`, `admin page`.
    pub label: &'static str,
    pub url: String,
}

/// The links of an alert: the content it is about (the triggering event's URL), the site, and the actor's
/// page in Atlassian administration when the organization's id is known (from the `atlassian_api` source).
/// Each URL comes from outside: only plain `http(s)` URLs of visible ASCII are offered, so none can carry an
/// escape sequence into a terminal hyperlink or the clipboard.
pub fn alert_links(a: &Alert, evidence: Option<&Evidence>, org_id: Option<&str>) -> Vec<Link> {
    let mut out = Vec::new();
    let trigger = evidence.and_then(|e| e.trigger(a.created));
    if let Some(url) = trigger.and_then(AuditEvent::url).and_then(safe_url) {
        out.push(Link {
            label: "content",
            url,
        });
    }
    let site = trigger.and_then(AuditEvent::site_url).or_else(|| {
        a.site
            .as_deref()
            .filter(|s| s.contains('.') && !s.contains("://"))
            .map(|s| format!("https://{s}"))
    });
    if let Some(url) = site.as_deref().and_then(safe_url) {
        out.push(Link { label: "site", url });
    }
    if let Some(org) = org_id.filter(|o| !o.is_empty()) {
        out.push(Link {
            label: "admin page",
            url: format!(
                "https://admin.atlassian.com/o/{}/users/{}",
                path_segment(org),
                path_segment(&a.actor.id)
            ),
        });
    }
    out
}

/// `url` when it is a plain `http`/`https` URL of visible ASCII no longer than 2,000 characters.
pub fn safe_url(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() <= 2000
        && url.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| url.to_string())
}

/// Percent-encode everything but RFC 3986's unreserved characters: an id from outside becomes one path
/// segment and nothing more.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One event's fields, opened from the timeline (Enter on an event): every field by its path, values
/// sanitised for the screen and cut, with the alert it is evidence of when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    pub event: AuditEvent,
    /// The alert the event is evidence of, when the timeline holds one: Enter opens it.
    pub alert: Option<Alert>,
    pub scroll: usize,
}

/// Most characters of one field shown in the event view; the rest is counted.
pub const FIELD_MAX: usize = 2000;

/// The event's fields as `(path, value)` pairs in document order: `actor.name`, `location.ip`,
/// `context[0].attributes.name`… Values are sanitised (no control sequence reaches the screen) and cut at
/// [`FIELD_MAX`] characters with the rest counted. Found secrets are already redacted in the store.
pub fn event_fields(e: &AuditEvent) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match serde_json::to_value(e) {
        Ok(v) => flatten("", &v, &mut out),
        Err(err) => out.push(("error".into(), err.to_string())),
    }
    out
}

fn flatten(path: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                flatten(&join(&text::sanitize(k)), x, out);
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), x, out);
            }
        }
        Value::Null => {}
        Value::String(s) => out.push((path.to_string(), cut(s))),
        other => out.push((path.to_string(), other.to_string())),
    }
}

fn cut(s: &str) -> String {
    let clean = text::sanitize(s);
    let n = clean.chars().count();
    if n <= FIELD_MAX {
        return clean;
    }
    let kept: String = clean.chars().take(FIELD_MAX).collect();
    format!("{kept}… ({} more characters)", n - FIELD_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_web_urls_become_links() {
        assert_eq!(
            safe_url(" https://acme.atlassian.net/wiki/x "),
            Some("https://acme.atlassian.net/wiki/x".into())
        );
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(safe_url("https://a\x1b]8;;evil\x07"), None);
        assert_eq!(safe_url("https://a b"), None);
        assert_eq!(safe_url("https://例え.jp"), None);
        assert_eq!(path_segment("5b10/../x y"), "5b10%2F..%2Fx%20y");
    }

    #[test]
    fn event_fields_are_flat_clean_and_cut() {
        let e: AuditEvent = serde_json::from_value(serde_json::json!({
            "id": "e1", "time": "2026-11-02T09:35:15Z", "action": "page_viewed",
            "actor": {"id": "a1", "name": "Ana\u{1b}[2J"},
            "context": [{"type": "users", "attributes": {"name": "李小龍"}}],
            "content": {"title": "x".repeat(5000)}
        }))
        .expect("event");
        let f = event_fields(&e);
        let get = |k: &str| f.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone());
        assert_eq!(get("action").as_deref(), Some("page_viewed"));
        assert!(get("actor.name").is_some_and(|v| !v.contains('\u{1b}')));
        assert_eq!(get("context[0].attributes.name").as_deref(), Some("李小龍"));
        let title = get("content.title").expect("title");
        assert!(
            title.ends_with("(3000 more characters)"),
            "{}",
            &title[title.len() - 40..]
        );
    }
}
