//! Microsoft Teams through a Workflows webhook: a `message` whose one attachment is an Adaptive Card 1.4.
//! Teams refuses a message over 28 KB, so the card is built to a budget and rebuilt smaller (the
//! description first, then the matches, then each value) until it fits, and then says it was shortened.
//!
//! Outside text is escaped for the cards' Markdown subset: `[`, `]` and `\` get a backslash, so text cannot
//! become a link with a misleading label (see [`Escape::Markdown`]).

use std::cell::Cell;

use serde_json::{Value, json};

use super::text::{Clip, Escape, Unit};
use super::view::{TEST_NOTICE, View, actor_short};
use super::{Destination, HttpRequest};
use crate::model::{Alert, DeliveryEvent, Severity};

/// The largest request body sent to Teams, in bytes: under its 28 KB message limit (read as 28,000 bytes,
/// the stricter reading, with the envelope included).
pub const TEAMS_MAX_BYTES: usize = 28_000;

/// What a shortened card says.
const TRUNCATED: &str =
    "Truncated: the alert is larger than a Teams card allows; see vigil for the rest.";

/// Sizes one build may use (bytes of text after escaping, and a count of matches).
#[derive(Debug, Clone, Copy)]
struct Budget {
    title: usize,
    summary: usize,
    value: usize,
    matches: usize,
}

impl Budget {
    const START: Self = Self {
        title: 600,
        summary: 24_000,
        value: 1_000,
        matches: 100,
    };

    /// A smaller budget, the largest part shrinking first; `false` once at the floor, which always fits.
    fn shrink(&mut self) -> bool {
        if self.summary > 1_000 {
            self.summary /= 2;
        } else if self.matches > 10 {
            self.matches /= 2;
        } else if self.value > 200 {
            self.value /= 2;
        } else if self.summary > 200 {
            self.summary /= 2;
        } else if self.matches > 0 {
            self.matches /= 2;
        } else if self.value > 60 {
            self.value /= 2;
        } else if self.title > 200 {
            self.title /= 2;
        } else {
            return false;
        }
        true
    }
}

fn text_block(text: String) -> Value {
    json!({ "type": "TextBlock", "text": text, "wrap": true })
}

fn fact(title: String, value: String) -> Value {
    json!({ "type": "Fact", "title": title, "value": value })
}

fn md(clip: &Clip, max: usize) -> (String, bool) {
    clip.fit(max, Unit::Bytes, Escape::Markdown)
}

fn severity_color(s: &str) -> &'static str {
    match s.parse::<Severity>() {
        Ok(Severity::Critical | Severity::High) => "Attention",
        Ok(Severity::Medium) => "Warning",
        _ => "Default",
    }
}

/// The card for `v` within budget `b`, ending with a line that says so when anything was left out.
fn card(v: &View, b: Budget) -> Value {
    let cut = Cell::new(false);
    let keep = |(s, c): (String, bool)| {
        if c {
            cut.set(true);
        }
        s
    };
    let prefix = if v.is_test() { "[TEST] " } else { "" };
    let title = keep(md(&v.title, b.title));
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": format!("{prefix}{title}"),
        "size": "Medium",
        "weight": "Bolder",
        "color": severity_color(v.severity),
        "wrap": true,
    })];
    if v.is_test() {
        body.push(json!({
            "type": "TextBlock", "text": TEST_NOTICE, "weight": "Bolder", "color": "Warning", "wrap": true,
        }));
    }
    let facts: Vec<Value> = v
        .facts
        .iter()
        .map(|(label, value)| fact((*label).to_string(), keep(md(value, b.value))))
        .collect();
    body.push(json!({ "type": "FactSet", "facts": facts }));
    if !v.summary.is_empty() {
        body.push(text_block(keep(md(&v.summary, b.summary))));
    }
    if v.matches_total > 0 {
        body.push(
            json!({ "type": "TextBlock", "text": "Matches", "weight": "Bolder", "wrap": true }),
        );
        let shown: Vec<Value> = v
            .matches
            .iter()
            .take(b.matches)
            .map(|m| {
                let mut title = keep(md(&m.kind, 100));
                if !m.field.is_empty() {
                    title = format!("{title} ({})", keep(md(&m.field, 50)));
                }
                fact(title, keep(md(&m.redacted, b.value.min(300))))
            })
            .collect();
        let rest = v.matches_total - shown.len();
        if !shown.is_empty() {
            body.push(json!({ "type": "FactSet", "facts": shown }));
        }
        if rest > 0 {
            cut.set(true);
            body.push(json!({
                "type": "TextBlock", "text": format!("…and {rest} more (see vigil)"), "isSubtle": true, "wrap": true,
            }));
        }
    }
    body.push(json!({
        "type": "TextBlock",
        "text": format!("{} · vigil alert {}", v.what(), v.id),
        "isSubtle": true,
        "size": "Small",
        "wrap": true,
    }));
    if cut.get() {
        body.push(json!({
            "type": "TextBlock", "text": TRUNCATED, "color": "Warning", "size": "Small", "wrap": true,
        }));
    }
    adaptive_card(body)
}

fn adaptive_card(body: Vec<Value>) -> Value {
    json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    })
}

/// The Workflows webhook message around `card`.
fn message(card: Value) -> Vec<u8> {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
    .to_string()
    .into_bytes()
}

/// Builds with ever smaller budgets until the body is under [`TEAMS_MAX_BYTES`].
fn fitted<S: Copy>(
    mut budget: S,
    build: impl Fn(S) -> Vec<u8>,
    shrink: impl Fn(&mut S) -> bool,
) -> Vec<u8> {
    loop {
        let body = build(budget);
        if body.len() < TEAMS_MAX_BYTES || !shrink(&mut budget) {
            return body;
        }
    }
}

/// One alert as a Teams message: an Adaptive Card 1.4 with the title (`[TEST]` first, and a "TEST — not a
/// real alert" line, for a test), the facts (severity, actor, detection, status, count and time…), the
/// description, the matches in their redacted form, and the alert id. Always under [`TEAMS_MAX_BYTES`]:
/// a larger alert is shortened, longest texts first, and the card ends with a line saying so.
pub fn teams(alert: &Alert, event: DeliveryEvent, dest: &Destination) -> HttpRequest {
    let v = View::new(alert, event);
    let body = fitted(Budget::START, |b| message(card(&v, b)), Budget::shrink);
    HttpRequest::post_json(dest.url.clone(), body)
}

/// One message listing a backlog of alerts (sent instead of one each when more than `digest_after` wait,
/// since Teams takes at most four requests a second): a fact per alert (severity, title, actor, id), then
/// how many more there are, counting `more` and any left out to stay under [`TEAMS_MAX_BYTES`].
pub fn teams_digest(alerts: &[Alert], more: usize, dest: &Destination) -> HttpRequest {
    let total = alerts.len() + more;
    let noun = if total == 1 { "alert" } else { "alerts" };
    // (alerts listed, bytes per line)
    let start = (alerts.len().min(200), 300usize);
    let build = |(count, value): (usize, usize)| {
        let facts: Vec<Value> = alerts
            .iter()
            .take(count)
            .map(|a| {
                let title = Clip::line(&a.title, 400).get(value, Unit::Bytes, Escape::Markdown);
                let actor = actor_short(&a.actor).get(100, Unit::Bytes, Escape::Markdown);
                fact(
                    a.severity.as_str().to_uppercase(),
                    format!("{title} — {actor} · {}", a.id),
                )
            })
            .collect();
        let shown = facts.len();
        let mut body = vec![json!({
            "type": "TextBlock",
            "text": format!("vigil: {total} {noun} waiting"),
            "size": "Medium",
            "weight": "Bolder",
            "wrap": true,
        })];
        if !facts.is_empty() {
            body.push(json!({ "type": "FactSet", "facts": facts }));
        }
        let rest = total - shown;
        let tail = if rest > 0 {
            format!("…and {rest} more — open vigil to see them all")
        } else {
            "Open vigil to triage them.".to_string()
        };
        body.push(json!({ "type": "TextBlock", "text": tail, "isSubtle": true, "wrap": true }));
        message(adaptive_card(body))
    };
    let shrink = |(count, value): &mut (usize, usize)| {
        if *value > 120 {
            *value /= 2;
        } else if *count > 0 {
            *count = *count * 2 / 3;
        } else {
            return false;
        }
        true
    };
    HttpRequest::post_json(dest.url.clone(), fitted(start, build, shrink))
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::deliver::format::fixtures;
    use crate::model::IntegrationKind;

    static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
        let text = include_str!("../../../tests/schemas/adaptive-card-1.4.json");
        let schema: Value = serde_json::from_str(text).unwrap();
        jsonschema::validator_for(&schema).unwrap()
    });

    fn dest() -> Destination {
        Destination::new(
            "secops-teams",
            IntegrationKind::Teams,
            "https://prod-00.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SECRET",
        )
    }

    /// The message's shape per the Workflows webhook, its card valid against the official Adaptive Card
    /// 1.4 schema, its size under the limit; returns the card.
    pub(in crate::deliver::format) fn assert_valid_teams(body: &[u8]) -> Value {
        assert!(body.len() < TEAMS_MAX_BYTES, "{} bytes", body.len());
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["type"], "message");
        let att = v["attachments"].as_array().unwrap();
        assert_eq!(att.len(), 1);
        assert_eq!(
            att[0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert!(att[0]["contentUrl"].is_null());
        let card = att[0]["content"].clone();
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(
            card["$schema"],
            "http://adaptivecards.io/schemas/adaptive-card.json"
        );
        let errors: Vec<String> = SCHEMA.iter_errors(&card).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        card
    }

    fn texts(card: &Value) -> Vec<String> {
        card["body"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["text"].as_str().map(str::to_string))
            .collect()
    }

    fn facts(block: &Value) -> Vec<(String, String)> {
        block["facts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["title"].as_str().unwrap().into(),
                    f["value"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    #[test]
    fn an_alert_is_a_valid_adaptive_card_in_a_workflows_message() {
        let alert = fixtures::alert();
        let r = teams(&alert, DeliveryEvent::Created, &dest());
        assert!(r.url.ends_with("sig=SECRET"));
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        let card = assert_valid_teams(&r.body);
        let body = card["body"].as_array().unwrap();
        assert_eq!(body[0]["text"], "Possible AWS key in page");
        assert_eq!(body[0]["color"], "Attention");
        let f = facts(&body[1]);
        assert_eq!(f[0], ("Severity".into(), "high".into()));
        assert_eq!(f[1], ("Status".into(), "open".into()));
        assert_eq!(
            f[2].1,
            "Ana Admin · ana@example.com · 5b10ac8d82e05b22cc7d4ef5"
        );
        assert_eq!(f[3], ("Detection".into(), "content-secret".into()));
        assert_eq!(
            f[4].1,
            "3 activities, 2026-11-02 09:35:15Z → 2026-11-02 09:41:02Z"
        );
        assert!(
            body[2]["text"]
                .as_str()
                .unwrap()
                .starts_with("A secret was written")
        );
        assert_eq!(body[2]["wrap"], true);
        assert_eq!(body[3]["text"], "Matches");
        assert_eq!(
            facts(&body[4]),
            vec![(
                "aws-access-key-id (body)".to_string(),
                "AKIA…\\[aws-access-key-id, 20 chars\\]".to_string()
            )]
        );
        assert_eq!(
            body[5]["text"],
            format!("New alert · vigil alert {}", alert.id)
        );
        assert!(!texts(&card).iter().any(|t| t.starts_with("Truncated")));
    }

    #[test]
    fn a_test_send_says_so() {
        let card =
            assert_valid_teams(&teams(&fixtures::alert(), DeliveryEvent::Test, &dest()).body);
        let t = texts(&card);
        assert!(t[0].starts_with("[TEST] "));
        assert_eq!(t[1], "TEST — not a real alert");
    }

    #[test]
    fn a_huge_alert_is_shortened_under_28_kb_and_says_so() {
        let mut alert = fixtures::alert();
        alert.description = "x".repeat(10 * 1024 * 1024);
        alert.matches = fixtures::matches(5000);
        let r = teams(&alert, DeliveryEvent::Created, &dest());
        let card = assert_valid_teams(&r.body);
        let t = texts(&card);
        assert_eq!(t.last().unwrap(), TRUNCATED);
        assert!(
            t.iter()
                .any(|s| s.starts_with("…and ") && s.ends_with(" more (see vigil)"))
        );
        // Still a useful card: the summary keeps a good part of the room.
        assert!(t[1].len() > 5_000, "{}", t[1].len());
        assert!(r.body.len() > 20_000, "{}", r.body.len());
    }

    #[test]
    fn worst_case_text_still_fits() {
        // Every character escapes to more: backslashes double for Markdown, then again for JSON.
        let mut alert = fixtures::alert();
        alert.title = "\\".repeat(100_000);
        alert.description = "\\\"[]".repeat(1_000_000);
        alert.actor.name = Some("🙂".repeat(100_000));
        alert.subject = Some("\\".repeat(100_000));
        alert.product = Some("\"".repeat(100_000));
        alert.site = Some("\n".repeat(100_000) + "x");
        alert.assignee = Some("𝕏".repeat(100_000));
        alert.matches = fixtures::matches(5000);
        for m in &mut alert.matches {
            m.kind = "\\".repeat(1000);
            m.field = "]".repeat(1000);
            m.redacted = "\"".repeat(10_000);
        }
        let card = assert_valid_teams(&teams(&alert, DeliveryEvent::Test, &dest()).body);
        assert_eq!(texts(&card).last().unwrap(), TRUNCATED);
    }

    #[test]
    fn links_in_outside_text_stay_text() {
        let mut alert = fixtures::alert();
        alert.title = "[Reset your password](https://evil.example) \\[x\\](y)".into();
        let card = assert_valid_teams(&teams(&alert, DeliveryEvent::Created, &dest()).body);
        assert_eq!(
            texts(&card)[0],
            "\\[Reset your password\\](https://evil.example) \\\\\\[x\\\\\\](y)"
        );
    }

    #[test]
    fn a_digest_lists_alerts_under_the_limit() {
        let alerts: Vec<Alert> = (0..3).map(fixtures::alert_n).collect();
        let card = assert_valid_teams(&teams_digest(&alerts, 2, &dest()).body);
        let body = card["body"].as_array().unwrap();
        assert_eq!(body[0]["text"], "vigil: 5 alerts waiting");
        let f = facts(&body[1]);
        assert_eq!(f.len(), 3);
        assert_eq!(
            f[0],
            (
                "HIGH".to_string(),
                format!("Possible AWS key in page — Ana Admin · {}", alerts[0].id)
            )
        );
        assert_eq!(body[2]["text"], "…and 2 more — open vigil to see them all");

        let mut many: Vec<Alert> = (0..2000).map(fixtures::alert_n).collect();
        for a in &mut many {
            a.title = "🙂".repeat(10_000);
        }
        let card = assert_valid_teams(&teams_digest(&many, 0, &dest()).body);
        let body = card["body"].as_array().unwrap();
        let listed = facts(&body[1]).len();
        assert!(listed >= 20, "{listed}");
        assert_eq!(
            body[2]["text"],
            format!("…and {} more — open vigil to see them all", 2000 - listed)
        );
        let card = assert_valid_teams(&teams_digest(&[], 0, &dest()).body);
        assert_eq!(card["body"][0]["text"], "vigil: 0 alerts waiting");
    }
}
