//! Jira Cloud: an issue per alert over REST v3, its description in Atlassian Document Format (ADF). Issue
//! creation is not idempotent, so every issue is labelled `vigil-<alert id>` and, before a retry creates
//! another, [`jira_search`] asks whether the last attempt's issue exists after all.

use std::cell::Cell;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::text::{Clip, Escape, Unit, fit, query_value};
use super::view::View;
use super::{Destination, FormatError, HttpRequest, Method};
use crate::model::{Alert, DeliveryEvent};

/// Jira's limit on a summary, in characters (UTF-16 units, as Java counts).
pub(super) const SUMMARY_MAX: usize = 255;
/// The largest ADF description sent, in bytes of JSON: under Jira's 32,767-character limit on a rich-text
/// field (bytes are never fewer than UTF-16 units).
pub(super) const DESCRIPTION_MAX_BYTES: usize = 32_000;
/// Longest issue key accepted back from Jira; anything longer is not a key.
const KEY_MAX: usize = 64;

/// What a shortened description says.
const TRUNCATED: &str =
    "Truncated: the alert is larger than a Jira description allows; see vigil for the rest.";

/// `Authorization: Basic base64(user:token)`.
fn basic_auth(dest: &Destination) -> Result<String, FormatError> {
    let user = dest.need(&dest.user, "user")?;
    let token = dest.need(&dest.token, "token")?;
    Ok(format!(
        "Basic {}",
        STANDARD.encode(format!("{user}:{token}"))
    ))
}

fn base(dest: &Destination) -> &str {
    dest.url.trim_end_matches('/')
}

/// The label that finds an alert's issue again.
fn label(alert: &Alert) -> String {
    format!("vigil-{}", alert.id)
}

/// `POST {url}/rest/api/3/issue` creating a `Task` (or `dest.issue_type`) in `dest.project` with Basic auth
/// (`dest.user`, `dest.token`): summary `[vigil] <title>` (`[vigil TEST]` for a test) on one line within
/// 255 characters, the labels `vigil` and `vigil-<alert id>` (what [`jira_search`] looks for), and an ADF
/// description: the title, the summary, the facts, the redacted matches, the investigation steps and the
/// remediation, shortened to fit Jira's field limit.
pub fn jira_create(
    alert: &Alert,
    event: DeliveryEvent,
    dest: &Destination,
) -> Result<HttpRequest, FormatError> {
    let auth = basic_auth(dest)?;
    let project = dest.need(&dest.project, "project")?;
    let issue_type = dest
        .issue_type
        .as_deref()
        .map(|t| Clip::line(t, 255).text)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "Task".to_string());
    let v = View::new(alert, event);
    let prefix = if v.is_test() {
        "[vigil TEST] "
    } else {
        "[vigil] "
    };
    let (summary, _) = fit(
        &format!("{prefix}{}", v.title.text),
        SUMMARY_MAX,
        Unit::Utf16,
        Escape::None,
    );
    let body = json!({
        "fields": {
            "project": { "key": project },
            "issuetype": { "name": issue_type },
            "summary": summary,
            "description": description(&v),
            "labels": ["vigil", label(alert)],
        }
    });
    Ok(HttpRequest::post_json(
        format!("{}/rest/api/3/issue", base(dest)),
        body.to_string().into_bytes(),
    )
    .header("accept", "application/json")
    .header("authorization", auth))
}

/// `GET {url}/rest/api/3/search/jql` for the issue labelled `vigil-<alert id>` (its key only, at most one):
/// asked before retrying a creation whose answer was lost, so a timeout does not leave two issues.
pub fn jira_search(alert: &Alert, dest: &Destination) -> Result<HttpRequest, FormatError> {
    let auth = basic_auth(dest)?;
    let jql = format!("labels=\"{}\"", label(alert));
    Ok(HttpRequest {
        method: Method::Get,
        url: format!(
            "{}/rest/api/3/search/jql?jql={}&fields=key&maxResults=1",
            base(dest),
            query_value(&jql)
        ),
        headers: vec![
            ("accept".into(), "application/json".into()),
            ("authorization".into(), auth),
        ],
        body: Vec::new(),
    })
}

/// The key of the issue Jira created, from its answer (`{"id": "10000", "key": "SEC-12", "self": …}`);
/// `None` unless it is a well-formed key (see [`valid_jira_key`]), since it is stored and shown.
pub fn jira_created_key(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("key")?
        .as_str()
        .filter(|k| valid_jira_key(k))
        .map(str::to_string)
}

/// The key of the first issue a search found (`{"issues": [{"key": "SEC-12"}], …}`); `None` when it found
/// none, or the key is not well-formed.
pub fn jira_found_key(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("issues")?
        .as_array()?
        .first()?
        .get("key")?
        .as_str()
        .filter(|k| valid_jira_key(k))
        .map(str::to_string)
}

/// Whether `key` is a Jira issue key, `[A-Z][A-Z0-9_]+-[0-9]+`, at most 64 characters: what may be
/// stored on an alert and shown, whatever a server (or something posing as one) answers.
pub fn valid_jira_key(key: &str) -> bool {
    let Some((project, number)) = key.rsplit_once('-') else {
        return false;
    };
    let mut p = project.bytes();
    key.len() <= KEY_MAX
        && project.len() >= 2
        && p.next().is_some_and(|b| b.is_ascii_uppercase())
        && p.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Sizes one build of the description may use (characters of text, and counts of list items).
#[derive(Debug, Clone, Copy)]
struct Budget {
    summary: usize,
    item: usize,
    items: usize,
}

impl Budget {
    const START: Self = Self {
        summary: 20_000,
        item: 1_000,
        items: 50,
    };

    fn shrink(&mut self) -> bool {
        if self.summary > 1_000 {
            self.summary /= 2;
        } else if self.items > 10 {
            self.items /= 2;
        } else if self.item > 200 {
            self.item /= 2;
        } else if self.summary > 100 {
            self.summary /= 2;
        } else if self.items > 0 {
            self.items /= 2;
        } else if self.item > 50 {
            self.item /= 2;
        } else {
            return false;
        }
        true
    }
}

/// An ADF text node; `None` for empty text, which ADF refuses.
fn text(s: String) -> Option<Value> {
    (!s.is_empty()).then(|| json!({ "type": "text", "text": s }))
}

fn marked(s: String, mark: &str) -> Option<Value> {
    (!s.is_empty()).then(|| json!({ "type": "text", "text": s, "marks": [{ "type": mark }] }))
}

fn paragraph(content: Vec<Value>) -> Value {
    json!({ "type": "paragraph", "content": content })
}

fn heading(level: u8, s: &str) -> Value {
    json!({ "type": "heading", "attrs": { "level": level }, "content": [{ "type": "text", "text": s }] })
}

fn list(kind: &str, items: Vec<Vec<Value>>) -> Option<Value> {
    let items: Vec<Value> = items
        .into_iter()
        .filter(|i| !i.is_empty())
        .map(|i| json!({ "type": "listItem", "content": [paragraph(i)] }))
        .collect();
    (!items.is_empty()).then(|| json!({ "type": kind, "content": items }))
}

/// The description, rebuilt with smaller budgets until its JSON is within [`DESCRIPTION_MAX_BYTES`].
fn description(v: &View) -> Value {
    let mut budget = Budget::START;
    loop {
        let doc = adf(v, budget);
        if doc.to_string().len() <= DESCRIPTION_MAX_BYTES || !budget.shrink() {
            return doc;
        }
    }
}

/// The ADF document for `v` within budget `b`.
fn adf(v: &View, b: Budget) -> Value {
    let cut = Cell::new(false);
    let keep = |clip: &Clip, max: usize| {
        let (s, c) = clip.fit(max, Unit::Utf16, Escape::None);
        if c {
            cut.set(true);
        }
        s
    };
    let prefix = if v.is_test() { "[TEST] " } else { "" };
    let title = keep(&v.title, 500);
    let mut content = vec![heading(2, &format!("{prefix}{title}"))];
    if v.is_test() {
        content.extend(
            marked(super::view::TEST_NOTICE.to_string(), "strong").map(|t| paragraph(vec![t])),
        );
    }
    // The summary's lines, joined by hard breaks (text nodes may not be empty, so blank lines go).
    let summary = keep(&v.summary, b.summary);
    let mut lines: Vec<Value> = Vec::new();
    for line in summary.split('\n').filter(|l| !l.trim().is_empty()) {
        if !lines.is_empty() {
            lines.push(json!({ "type": "hardBreak" }));
        }
        lines.extend(text(line.to_string()));
    }
    if !lines.is_empty() {
        content.push(paragraph(lines));
    }
    content.push(heading(3, "Facts"));
    let facts = v
        .facts
        .iter()
        .map(|(label, value)| {
            [
                marked(format!("{label}: "), "strong"),
                text(keep(value, b.item)),
            ]
            .into_iter()
            .flatten()
            .collect()
        })
        .collect();
    content.extend(list("bulletList", facts));
    if v.matches_total > 0 {
        content.push(heading(3, "Matches"));
        let mut items: Vec<Vec<Value>> = v
            .matches
            .iter()
            .take(b.items)
            .map(|m| {
                let mut lead = keep(&m.kind, 100);
                if !m.field.is_empty() {
                    lead = format!("{lead} in {}", keep(&m.field, 50));
                }
                [
                    text(format!("{lead}: ")),
                    marked(keep(&m.redacted, b.item.min(300)), "code"),
                ]
                .into_iter()
                .flatten()
                .collect()
            })
            .collect();
        let rest = v.matches_total - items.len().min(v.matches_total);
        if rest > 0 {
            cut.set(true);
            items.extend(text(format!("…and {rest} more (see vigil)")).map(|t| vec![t]));
        }
        content.extend(list("bulletList", items));
    }
    for (name, kind, steps, total) in [
        (
            "Investigation steps",
            "orderedList",
            &v.steps,
            v.steps_total,
        ),
        (
            "Remediation",
            "bulletList",
            &v.remediation,
            v.remediation_total,
        ),
    ] {
        if steps.is_empty() {
            continue;
        }
        content.push(heading(3, name));
        let mut items: Vec<Vec<Value>> = steps
            .iter()
            .take(b.items)
            .map(|s| text(keep(s, b.item)).into_iter().collect())
            .collect();
        if total > items.len() {
            cut.set(true);
            items.extend(
                text(format!("…and {} more (see vigil)", total - items.len())).map(|t| vec![t]),
            );
        }
        content.extend(list(kind, items));
    }
    content.push(json!({ "type": "rule" }));
    let footer: Vec<Value> = [
        text(format!("{} · vigil alert ", v.what())),
        marked(v.id.clone(), "code"),
    ]
    .into_iter()
    .flatten()
    .collect();
    content.push(paragraph(footer));
    if cut.get() {
        content.extend(marked(TRUNCATED.to_string(), "em").map(|t| paragraph(vec![t])));
    }
    json!({ "type": "doc", "version": 1, "content": content })
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::deliver::format::fixtures;
    use crate::model::IntegrationKind;

    static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
        let text = include_str!("../../../tests/schemas/adf-full.json");
        let schema: Value = serde_json::from_str(text).unwrap();
        // The file's root already is `{"$ref": "#/definitions/doc_node", …}`.
        assert_eq!(schema["$ref"], "#/definitions/doc_node");
        jsonschema::validator_for(&schema).unwrap()
    });

    pub(in crate::deliver::format) fn dest() -> Destination {
        let mut d = Destination::new("jira", IntegrationKind::Jira, "https://acme.atlassian.net/");
        d.user = Some("bot@acme.example".into());
        d.token = Some("ATATT3xFfGF0-token".into());
        d.project = Some("SEC".into());
        d
    }

    /// The issue body per Jira's create-issue API, its description valid against the official ADF schema
    /// and within the field limit; returns the body.
    pub(in crate::deliver::format) fn assert_valid_issue(body: &[u8]) -> Value {
        let v: Value = serde_json::from_slice(body).unwrap();
        let f = &v["fields"];
        let summary = f["summary"].as_str().unwrap();
        assert!(summary.starts_with("[vigil"));
        assert!(summary.chars().map(char::len_utf16).sum::<usize>() <= SUMMARY_MAX);
        assert!(
            !summary.contains('\n') && !summary.chars().any(char::is_control),
            "{summary:?}"
        );
        assert!(f["project"]["key"].is_string());
        assert!(f["issuetype"]["name"].is_string());
        let labels = f["labels"].as_array().unwrap();
        assert_eq!(labels[0], "vigil");
        assert!(labels[1].as_str().unwrap().starts_with("vigil-"));
        assert!(labels.iter().all(|l| !l.as_str().unwrap().contains(' ')));
        let doc = &f["description"];
        assert!(doc.to_string().len() <= DESCRIPTION_MAX_BYTES);
        let errors: Vec<String> = SCHEMA.iter_errors(doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        v
    }

    /// Every text node's text, in order.
    fn doc_texts(v: &Value, out: &mut Vec<String>) {
        if v["type"] == "text" {
            out.push(v["text"].as_str().unwrap().to_string());
        }
        if let Some(c) = v["content"].as_array() {
            c.iter().for_each(|x| doc_texts(x, out));
        }
    }

    #[test]
    fn an_issue_carries_summary_labels_and_an_adf_description() {
        let alert = fixtures::alert();
        let r = jira_create(&alert, DeliveryEvent::Created, &dest()).unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "https://acme.atlassian.net/rest/api/3/issue");
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        assert_eq!(
            r.header_value("authorization"),
            Some(
                format!(
                    "Basic {}",
                    STANDARD.encode("bot@acme.example:ATATT3xFfGF0-token")
                )
                .as_str()
            )
        );
        let v = assert_valid_issue(&r.body);
        let f = &v["fields"];
        assert_eq!(f["project"]["key"], "SEC");
        assert_eq!(f["issuetype"]["name"], "Task");
        assert_eq!(f["summary"], "[vigil] Possible AWS key in page");
        assert_eq!(f["labels"], json!(["vigil", format!("vigil-{}", alert.id)]));
        let doc = &f["description"];
        assert_eq!(doc["type"], "doc");
        assert_eq!(doc["version"], 1);
        let content = doc["content"].as_array().unwrap();
        assert_eq!(content[0]["type"], "heading");
        let mut t = Vec::new();
        doc_texts(doc, &mut t);
        assert_eq!(t[0], "Possible AWS key in page");
        assert!(t.contains(&"Severity: ".to_string()) && t.contains(&"high".to_string()));
        assert!(t.contains(&"AKIA…[aws-access-key-id, 20 chars]".to_string()));
        assert!(t.contains(&"Open the page and check who can see it.".to_string()));
        assert!(t.contains(&"Rotate the key.".to_string()));
        assert!(t.contains(&alert.id.to_string()));
        assert!(!t.iter().any(|s| s.starts_with("Truncated")));
        let kinds: Vec<&str> = content
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"bulletList") && kinds.contains(&"orderedList"),
            "{kinds:?}"
        );
    }

    #[test]
    fn a_test_issue_and_a_chosen_issue_type() {
        let mut d = dest();
        d.issue_type = Some("Bug".into());
        let r = jira_create(&fixtures::alert(), DeliveryEvent::Test, &d).unwrap();
        let v = assert_valid_issue(&r.body);
        assert_eq!(v["fields"]["issuetype"]["name"], "Bug");
        assert!(
            v["fields"]["summary"]
                .as_str()
                .unwrap()
                .starts_with("[vigil TEST] ")
        );
        let mut t = Vec::new();
        doc_texts(&v["fields"]["description"], &mut t);
        assert!(t.contains(&"TEST — not a real alert".to_string()));
    }

    #[test]
    fn missing_credentials_are_named() {
        let mut d = dest();
        d.token = None;
        let e = jira_create(&fixtures::alert(), DeliveryEvent::Created, &d).unwrap_err();
        assert_eq!(e.to_string(), "integration 'jira' (jira) has no token");
        let mut d = dest();
        d.project = None;
        assert!(matches!(
            jira_create(&fixtures::alert(), DeliveryEvent::Created, &d),
            Err(FormatError::Missing {
                field: "project",
                ..
            })
        ));
        let mut d = dest();
        d.user = None;
        assert!(jira_search(&fixtures::alert(), &d).is_err());
    }

    #[test]
    fn hostile_and_huge_text_gives_a_valid_description() {
        let mut alert = fixtures::alert();
        alert.title = format!("\n\x1b[2J\u{202e}{}\r\n", "T".repeat(400));
        alert.description = format!("\n\n{}\n\u{0}\n\r\n", "é\x07\n".repeat(4_000_000));
        alert.matches = fixtures::matches(5000);
        alert.matches[0].redacted = "\x1b".into();
        alert.matches[1].kind = String::new();
        alert.investigation_steps = vec![String::new(), "\u{85}".into(), "x".repeat(100_000)];
        alert.remediation = vec!["\t".into()];
        alert.actor.name = Some("\u{0}".into());
        let r = jira_create(&alert, DeliveryEvent::Created, &dest()).unwrap();
        let v = assert_valid_issue(&r.body);
        let summary = v["fields"]["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("[vigil] [2JTTT") && summary.ends_with('…'),
            "{summary:?}"
        );
        assert_eq!(summary.chars().count(), SUMMARY_MAX);
        let mut t = Vec::new();
        doc_texts(&v["fields"]["description"], &mut t);
        assert!(t.iter().all(|s| !s.is_empty()));
        assert!(t.iter().any(|s| s.starts_with("Truncated")));
    }

    #[test]
    fn the_search_finds_the_label_with_a_properly_encoded_query() {
        let alert = fixtures::alert();
        let r = jira_search(&alert, &dest()).unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(
            r.url,
            format!(
                "https://acme.atlassian.net/rest/api/3/search/jql?jql=labels%3D%22vigil-{}%22&fields=key&maxResults=1",
                alert.id
            )
        );
        assert!(r.body.is_empty());
        assert!(
            r.header_value("authorization")
                .is_some_and(|a| a.starts_with("Basic "))
        );
    }

    #[test]
    fn keys_are_read_from_answers_and_checked() {
        assert_eq!(
            jira_created_key(br#"{"id":"10000","key":"SEC-12","self":"https://acme.atlassian.net/rest/api/3/issue/10000"}"#),
            Some("SEC-12".into())
        );
        assert_eq!(
            jira_found_key(br#"{"issues":[{"id":"1","key":"SEC_OPS2-7"}],"isLast":true}"#),
            Some("SEC_OPS2-7".into())
        );
        assert_eq!(jira_found_key(br#"{"issues":[]}"#), None);
        assert_eq!(jira_found_key(b"not json"), None);
        assert_eq!(jira_created_key(br#"{"key":"sec-12"}"#), None);
        assert_eq!(jira_created_key(br#"{"key":"S-12"}"#), None);
        assert_eq!(jira_created_key(br#"{"key":"SEC-"}"#), None);
        assert_eq!(jira_created_key(br#"{"key":"SEC-12\u001b[2J"}"#), None);
        assert_eq!(jira_created_key(br#"{"key":12}"#), None);
        assert!(!valid_jira_key(&format!("A{}-1", "B".repeat(100))));
        assert!(valid_jira_key("AB-1") && valid_jira_key("A1_B-0042"));
        assert!(!valid_jira_key("1A-1") && !valid_jira_key("AB-1-2") && !valid_jira_key("AB 1"));
    }
}
