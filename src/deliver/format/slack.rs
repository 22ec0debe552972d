//! Slack incoming webhooks: a `text` fallback (what notifications show) and Block Kit `blocks`, within
//! Slack's limits (a header's text at most 150 characters, a section's 3000, a field's 2000, at most 10
//! fields and 50 blocks), since Slack refuses the whole message when one is exceeded.
//!
//! Every outside text in `mrkdwn` is escaped (`&`, `<`, `>` as entities), so a user called `<!channel>`
//! pings no one and `<https://evil|click>` is no link. The header is `plain_text`, which Slack never parses
//! for mentions or links, so it is left unescaped (an entity would show as typed).

use serde_json::{Value, json};

use super::text::{Clip, Escape, Unit, fit};
use super::view::{TEST_NOTICE, View, actor_short};
use super::{Destination, HttpRequest};
use crate::model::{Alert, DeliveryEvent};

/// Slack's limit on a header block's text.
pub(super) const HEADER_MAX: usize = 150;
/// Slack's limit on a section's text.
pub(super) const SECTION_MAX: usize = 3000;
/// Slack's limit on blocks in a message.
pub(super) const BLOCKS_MAX: usize = 50;
/// Slack's limit on a section's fields.
const FIELDS_MAX: usize = 10;
/// A field's value as shown (Slack allows 2000; a fact is a line).
const FIELD_VALUE: usize = 300;
/// The fallback `text`: a line for a notification.
const FALLBACK_MAX: usize = 500;

fn header(text: &str) -> Value {
    let (text, _) = fit(text, HEADER_MAX, Unit::Utf16, Escape::None);
    json!({ "type": "header", "text": { "type": "plain_text", "text": text, "emoji": false } })
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

fn mrkdwn(clip: &Clip, max: usize) -> String {
    clip.get(max, Unit::Utf16, Escape::Slack)
}

fn code(clip: &Clip, max: usize) -> String {
    format!("`{}`", clip.get(max, Unit::Utf16, Escape::SlackCode))
}

fn units(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// One alert as a Slack message: the title as header (`[TEST]` first for a test); the facts (severity,
/// status, actor, detection, activity count and time span, subject…) as fields; the description; the
/// matches in their redacted form; a context line with why it was sent and the alert id, and for a test
/// "TEST — not a real alert".
pub fn slack(alert: &Alert, event: DeliveryEvent, dest: &Destination) -> HttpRequest {
    let v = View::new(alert, event);
    let prefix = if v.is_test() { "[TEST] " } else { "" };
    let mut blocks = vec![header(&format!("{prefix}{}", v.title.text))];
    let fields: Vec<Value> = v
        .facts
        .iter()
        .take(FIELDS_MAX)
        .map(|(label, value)| {
            json!({ "type": "mrkdwn", "text": format!("*{label}*\n{}", mrkdwn(value, FIELD_VALUE)) })
        })
        .collect();
    blocks.push(json!({ "type": "section", "fields": fields }));
    if !v.summary.is_empty() {
        blocks.push(section(mrkdwn(&v.summary, SECTION_MAX)));
    }
    if !v.matches.is_empty() {
        blocks.push(section(matches(&v)));
    }
    let mut context = vec![json!({
        "type": "mrkdwn",
        "text": format!("{} · vigil alert `{}`", v.what(), v.id),
    })];
    if v.is_test() {
        context.push(json!({ "type": "mrkdwn", "text": format!(":warning: *{TEST_NOTICE}*") }));
    }
    blocks.push(json!({ "type": "context", "elements": context }));
    let test = if v.is_test() {
        format!(" ({TEST_NOTICE})")
    } else {
        String::new()
    };
    let actor = v.facts.iter().find(|(l, _)| *l == "Actor").map(|(_, c)| c);
    let fallback = format!(
        "[{}] {} — {}{test}",
        v.severity.to_uppercase(),
        v.title.text,
        actor.map_or("", |c| c.text.as_str())
    );
    let body = json!({
        "text": fit(&fallback, FALLBACK_MAX, Unit::Utf16, Escape::Slack).0,
        "blocks": blocks,
    });
    HttpRequest::post_json(dest.url.clone(), body.to_string().into_bytes())
}

/// The matches section: one line per match (`` • `kind` in body: `AKIA…[aws-access-key-id, 20 chars]` ``)
/// while they fit in a section, then how many more there are.
fn matches(v: &View) -> String {
    // Room kept for the closing "…and N more" line.
    const TAIL: usize = 60;
    let mut out = String::from("*Matches*");
    let mut shown = 0;
    for m in &v.matches {
        let mut line = format!("\n• {}", code(&m.kind, 100));
        if !m.field.is_empty() {
            line.push_str(&format!(" in {}", mrkdwn(&m.field, 50)));
        }
        line.push_str(&format!(": {}", code(&m.redacted, 200)));
        if units(&out) + units(&line) > SECTION_MAX - TAIL {
            break;
        }
        out.push_str(&line);
        shown += 1;
    }
    let rest = v.matches_total - shown;
    if rest > 0 {
        out.push_str(&format!("\n…and {rest} more (see vigil)"));
    }
    out
}

/// One message listing a backlog of alerts (sent instead of one message each when more than the
/// integration's `digest_after` wait, so a flood does not run into Slack's one-message-a-second pacing):
/// a line per alert (severity, title, actor, id) in as many sections as Slack allows, then how many more
/// there are, counting `more` (alerts not passed in) and any that did not fit.
pub fn slack_digest(alerts: &[Alert], more: usize, dest: &Destination) -> HttpRequest {
    let total = alerts.len() + more;
    let noun = if total == 1 { "alert" } else { "alerts" };
    let mut blocks = vec![header(&format!("vigil: {total} {noun} waiting"))];
    // Header and context take two of the blocks.
    let max_sections = BLOCKS_MAX - 2;
    let mut sections: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut shown = 0;
    for a in alerts {
        let line = format!(
            "• *{}* {} — {} · `{}`",
            a.severity.as_str().to_uppercase(),
            mrkdwn(&Clip::line(&a.title, 400), 200),
            mrkdwn(&actor_short(&a.actor), 100),
            a.id
        );
        let sep = usize::from(!current.is_empty());
        if units(&current) + sep + units(&line) > SECTION_MAX {
            if sections.len() + 1 == max_sections {
                break;
            }
            sections.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
        shown += 1;
    }
    if !current.is_empty() {
        sections.push(current);
    }
    blocks.extend(sections.into_iter().map(section));
    let rest = total - shown;
    let tail = if rest > 0 {
        format!("…and {rest} more — open vigil to see them all")
    } else {
        "Open vigil to triage them.".to_string()
    };
    blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": tail }] }));
    let body = json!({
        "text": format!("vigil: {total} {noun} waiting ({shown} listed)"),
        "blocks": blocks,
    });
    HttpRequest::post_json(dest.url.clone(), body.to_string().into_bytes())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::deliver::format::fixtures;
    use crate::model::IntegrationKind;

    pub(in crate::deliver::format) fn dest() -> Destination {
        Destination::new(
            "secops-slack",
            IntegrationKind::Slack,
            "https://hooks.slack.com/services/T000/B000/XXXX",
        )
    }

    fn body(r: &HttpRequest) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    /// Every text of a message, to search it whole.
    fn texts(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
            Value::Object(m) => m.values().for_each(|x| texts(x, out)),
            _ => {}
        }
    }

    /// Checks the limits Slack enforces on a message.
    pub(in crate::deliver::format) fn assert_within_slack_limits(v: &Value) {
        let blocks = v["blocks"].as_array().unwrap();
        assert!(
            !blocks.is_empty() && blocks.len() <= BLOCKS_MAX,
            "{} blocks",
            blocks.len()
        );
        assert!(v["text"].as_str().is_some_and(|t| !t.is_empty()));
        for b in blocks {
            match b["type"].as_str().unwrap() {
                "header" => {
                    assert_eq!(b["text"]["type"], "plain_text");
                    let t = b["text"]["text"].as_str().unwrap();
                    assert!(!t.is_empty() && units(t) <= HEADER_MAX, "{t:?}");
                }
                "section" => {
                    if let Some(t) = b["text"]["text"].as_str() {
                        assert!(!t.is_empty() && units(t) <= SECTION_MAX, "{}", units(t));
                    }
                    if let Some(f) = b["fields"].as_array() {
                        assert!(!f.is_empty() && f.len() <= FIELDS_MAX);
                        for x in f {
                            let t = x["text"].as_str().unwrap();
                            assert!(!t.is_empty() && units(t) <= 2000);
                        }
                    }
                    assert!(b["text"].is_object() || b["fields"].is_array());
                }
                "context" => {
                    let e = b["elements"].as_array().unwrap();
                    assert!(!e.is_empty() && e.len() <= 10);
                }
                other => panic!("unexpected block {other}"),
            }
        }
    }

    #[test]
    fn an_alert_is_a_header_facts_summary_matches_and_context() {
        let alert = fixtures::alert();
        let r = slack(&alert, DeliveryEvent::Created, &dest());
        assert_eq!(r.url, "https://hooks.slack.com/services/T000/B000/XXXX");
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        let v = body(&r);
        assert_within_slack_limits(&v);
        let b = v["blocks"].as_array().unwrap();
        assert_eq!(b[0]["text"]["text"], "Possible AWS key in page");
        let fields: Vec<&str> = b[1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap())
            .collect();
        assert_eq!(fields[0], "*Severity*\nhigh");
        assert_eq!(fields[1], "*Status*\nopen");
        assert_eq!(
            fields[2],
            "*Actor*\nAna Admin · ana@example.com · 5b10ac8d82e05b22cc7d4ef5"
        );
        assert_eq!(fields[3], "*Detection*\ncontent-secret");
        assert_eq!(
            fields[4],
            "*Activity*\n3 activities, 2026-11-02 09:35:15Z → 2026-11-02 09:41:02Z"
        );
        assert_eq!(fields[5], "*Subject*\nDeploy notes");
        assert!(
            b[2]["text"]["text"]
                .as_str()
                .unwrap()
                .starts_with("A secret was written")
        );
        assert_eq!(
            b[3]["text"]["text"],
            "*Matches*\n• `aws-access-key-id` in body: `AKIA…[aws-access-key-id, 20 chars]`"
        );
        assert_eq!(b[4]["type"], "context");
        let ctx = b[4]["elements"][0]["text"].as_str().unwrap();
        assert_eq!(ctx, format!("New alert · vigil alert `{}`", alert.id));
        assert_eq!(
            v["text"],
            "[HIGH] Possible AWS key in page — Ana Admin · ana@example.com · 5b10ac8d82e05b22cc7d4ef5"
        );
    }

    #[test]
    fn a_test_send_says_so() {
        let v = body(&slack(&fixtures::alert(), DeliveryEvent::Test, &dest()));
        assert_within_slack_limits(&v);
        let b = v["blocks"].as_array().unwrap();
        assert!(
            b[0]["text"]["text"]
                .as_str()
                .unwrap()
                .starts_with("[TEST] ")
        );
        let ctx = b.last().unwrap();
        let mut all = Vec::new();
        texts(ctx, &mut all);
        assert!(
            all.iter().any(|t| t.contains("TEST — not a real alert")),
            "{all:?}"
        );
        assert!(
            v["text"]
                .as_str()
                .unwrap()
                .contains("TEST — not a real alert")
        );
    }

    #[test]
    fn hostile_names_and_titles_mention_and_link_no_one() {
        let mut alert = fixtures::alert();
        alert.title = "<!channel> urgent <https://evil.example|click here> & co".into();
        alert.actor.name = Some("<!here> <@U123> Eve".into());
        alert.description = "see <https://evil.example|your bank>\x1b[31m & <!subteam^S1>".into();
        alert.matches[0].redacted = "`<!everyone>`".into();
        alert.matches[0].kind = "<https://x|y>".into();
        let v = body(&slack(&alert, DeliveryEvent::Created, &dest()));
        assert_within_slack_limits(&v);
        let mut all = Vec::new();
        texts(&v["blocks"], &mut all);
        all.push(v["text"].as_str().unwrap().to_string());
        let header = v["blocks"][0]["text"]["text"].as_str().unwrap().to_string();
        for t in all.iter().filter(|t| **t != header) {
            assert!(!t.contains('<') && !t.contains('>'), "{t}");
            assert!(!t.contains('\x1b'), "{t}");
            // Every `&` starts an entity we wrote.
            for (i, _) in t.match_indices('&') {
                let rest = &t[i..];
                assert!(
                    rest.starts_with("&amp;")
                        || rest.starts_with("&lt;")
                        || rest.starts_with("&gt;"),
                    "{t}"
                );
            }
        }
        let fields = v["blocks"][1]["fields"].as_array().unwrap();
        assert!(
            fields[2]["text"]
                .as_str()
                .unwrap()
                .contains("&lt;!here&gt; &lt;@U123&gt; Eve")
        );
        assert!(
            v["blocks"][3]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("`'&lt;!everyone&gt;'`")
        );
    }

    #[test]
    fn long_texts_and_many_matches_stay_within_slack_limits() {
        let mut alert = fixtures::alert();
        alert.title = "T&<".repeat(1000);
        alert.description = "d&".repeat(5_000_000);
        alert.subject = Some("🙂".repeat(10_000));
        alert.matches = fixtures::matches(5000);
        let v = body(&slack(&alert, DeliveryEvent::Created, &dest()));
        assert_within_slack_limits(&v);
        let b = v["blocks"].as_array().unwrap();
        assert!(b[0]["text"]["text"].as_str().unwrap().ends_with('…'));
        let summary = b[2]["text"]["text"].as_str().unwrap();
        assert!(summary.ends_with('…') && !summary.ends_with("&…") && !summary.contains("&a…"));
        let m = b[3]["text"]["text"].as_str().unwrap();
        assert!(m.contains("more (see vigil)"), "{m}");
    }

    #[test]
    fn a_digest_lists_alerts_and_counts_the_rest() {
        let alerts: Vec<Alert> = (0..3).map(fixtures::alert_n).collect();
        let v = body(&slack_digest(&alerts, 4, &dest()));
        assert_within_slack_limits(&v);
        let b = v["blocks"].as_array().unwrap();
        assert_eq!(b[0]["text"]["text"], "vigil: 7 alerts waiting");
        let lines = b[1]["text"]["text"].as_str().unwrap();
        assert_eq!(lines.lines().count(), 3);
        assert_eq!(
            lines.lines().next().unwrap(),
            format!(
                "• *HIGH* Possible AWS key in page — Ana Admin · `{}`",
                alerts[0].id
            )
        );
        assert_eq!(
            b[2]["elements"][0]["text"],
            "…and 4 more — open vigil to see them all"
        );
        let v = body(&slack_digest(&alerts, 0, &dest()));
        assert_eq!(
            v["blocks"][2]["elements"][0]["text"],
            "Open vigil to triage them."
        );
    }

    #[test]
    fn a_huge_digest_keeps_to_fifty_blocks() {
        let mut alerts: Vec<Alert> = (0..3000).map(fixtures::alert_n).collect();
        for a in &mut alerts {
            a.title = "<!channel>".repeat(100);
        }
        let v = body(&slack_digest(&alerts, 10, &dest()));
        assert_within_slack_limits(&v);
        let b = v["blocks"].as_array().unwrap();
        assert_eq!(b.len(), BLOCKS_MAX);
        let listed: usize = b[1..b.len() - 1]
            .iter()
            .map(|s| s["text"]["text"].as_str().unwrap().lines().count())
            .sum();
        let tail = b.last().unwrap()["elements"][0]["text"].as_str().unwrap();
        assert_eq!(
            tail,
            format!("…and {} more — open vigil to see them all", 3010 - listed)
        );
        assert!(
            v["text"]
                .as_str()
                .unwrap()
                .starts_with("vigil: 3010 alerts waiting")
        );
    }
}
