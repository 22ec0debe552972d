//! Properties every format keeps, whatever the alert holds: a well-formed body within the receiver's limits,
//! valid against the official schemas, and no credential or secret in it.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::Value;

use super::jira::tests::{assert_valid_issue, dest as jira_dest};
use super::slack::tests::{assert_within_slack_limits, dest as slack_dest};
use super::teams::tests::assert_valid_teams;
use super::*;
use crate::model::{Alert, ContentMatch};

fn dests() -> Vec<Destination> {
    let mut teams = Destination::new(
        "teams",
        IntegrationKind::Teams,
        "https://prod-00.westus.logic.azure.com/workflows/w1/triggers/manual/paths/invoke?sig=TEAMSURLSECRET",
    );
    teams.secret = None;
    let mut hook = Destination::new(
        "hook",
        IntegrationKind::Webhook,
        "https://siem.example.com/in",
    );
    hook.secret = Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
    let mut hec = Destination::new(
        "hec",
        IntegrationKind::SplunkHec,
        "https://splunk.example.com:8088",
    );
    hec.token = Some("HECTOKEN-0a1b2c3d4e5f".into());
    let mut slack = slack_dest();
    slack.url = "https://hooks.slack.com/services/T0/B0/SLACKURLSECRET".into();
    vec![slack, teams, jira_dest(), hook, hec]
}

/// Every request the alert formats make for `alert`, each body checked as its receiver would.
fn all_requests(alert: &Alert, event: DeliveryEvent) -> Vec<HttpRequest> {
    let mut out = Vec::new();
    for d in dests() {
        let r = request(alert, event, &d, "01JDELIVERYID", 1_793_612_115).unwrap();
        match d.kind {
            IntegrationKind::Slack => {
                assert_within_slack_limits(&serde_json::from_slice(&r.body).unwrap())
            }
            IntegrationKind::Teams => {
                assert_valid_teams(&r.body);
            }
            IntegrationKind::Jira => {
                assert_valid_issue(&r.body);
            }
            _ => {
                serde_json::from_slice::<Value>(&r.body).unwrap();
            }
        }
        out.push(r);
    }
    let jira = jira_dest();
    out.push(jira_search(alert, &jira).unwrap());
    out
}

#[test]
fn request_dispatches_on_the_kind() {
    let alert = fixtures::alert();
    let reqs = all_requests(&alert, DeliveryEvent::Created);
    assert!(reqs[0].url.starts_with("https://hooks.slack.com/"));
    assert!(reqs[1].url.contains("logic.azure.com"));
    assert!(reqs[2].url.ends_with("/rest/api/3/issue"));
    assert!(reqs[3].header_value("webhook-signature").is_some());
    assert!(reqs[4].url.ends_with("/services/collector/event"));
}

#[test]
fn no_secret_or_credential_reaches_a_body() {
    // The detector stores the redacted form only; the secret is named here to prove it never appears, and
    // so are the destinations' credentials and the keyed fingerprint (of no use to a person).
    const SECRET: &str = "AKIAIOSFODNN7EXAMPLE";
    let mut alert = fixtures::alert();
    alert.matches.push(ContentMatch {
        kind: "github-token".into(),
        redacted: "ghp_…[github-token, 40 chars]".into(),
        fingerprint: "fp:9a8b7c6d5e4f".into(),
        field: "title".into(),
    });
    for event in [DeliveryEvent::Created, DeliveryEvent::Test] {
        let reqs = all_requests(&alert, event);
        let credentials = [
            "SLACKURLSECRET",
            "TEAMSURLSECRET",
            "ATATT3xFfGF0-token",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "HECTOKEN-0a1b2c3d4e5f",
        ];
        for (i, r) in reqs.iter().enumerate() {
            let body = String::from_utf8(r.body.clone()).unwrap();
            assert!(!body.contains(SECRET), "request {i}");
            for c in credentials {
                assert!(!body.contains(c), "request {i} carries {c}");
            }
            // People are shown the redacted form, never the fingerprint.
            if i < 3 {
                assert!(!body.contains("fp:"), "request {i}");
                assert!(body.contains("ghp_…"), "request {i}");
            }
            let shown = format!("{r:?}");
            for c in credentials {
                assert!(!shown.contains(c), "{shown}");
            }
        }
    }
    // Audit forwarding, both ways.
    let events = fixtures::events(2);
    let mut d = Destination::new(
        "fwd",
        IntegrationKind::AuditForward,
        "https://siem.example.com/in",
    );
    d.secret = Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
    let signed = audit_forward(&events, &d, "dlv", 1).unwrap();
    d.token = Some("HECTOKEN-0a1b2c3d4e5f".into());
    let hec = audit_forward(&events, &d, "dlv", 1).unwrap();
    for r in [signed, hec] {
        let body = String::from_utf8(r.body).unwrap();
        assert!(!body.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") && !body.contains("HECTOKEN"));
        assert!(!body.contains(SECRET));
    }
}

/// Text the way hostile audit events write it: controls, escape sequences, bidi overrides, markup of every
/// receiver, CJK, emoji, combining marks, and sometimes a lot of it.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        Just("\x1b[31m".to_string()),
        Just("\x1b]0;pwned\x07".to_string()),
        Just("\u{202e}".to_string()),
        Just("\u{9b}".to_string()),
        Just("\r\n".to_string()),
        Just("\n\n".to_string()),
        Just("<!channel>".to_string()),
        Just("<https://evil|click>".to_string()),
        Just("&amp;".to_string()),
        Just("[x](https://evil)".to_string()),
        Just("\\".to_string()),
        Just("\"".to_string()),
        Just("`".to_string()),
        Just("東京".to_string()),
        Just("🙂".to_string()),
        Just("e\u{301}\u{302}\u{303}".to_string()),
        Just("\u{0}".to_string()),
        Just(" ".to_string()),
    ];
    prop_oneof![
        8 => prop::collection::vec(piece, 0..60).prop_map(|v| v.concat()),
        1 => (prop::sample::select(vec!["\\", "🙂", "<", "\"", "x", "\x1b"]), 1_000usize..40_000)
            .prop_map(|(s, n)| s.repeat(n)),
    ]
}

fn hostile_alert() -> impl Strategy<Value = Alert> {
    (
        (hostile(), hostile(), hostile(), hostile()),
        (hostile(), hostile(), hostile(), hostile()),
        prop::collection::vec((hostile(), hostile(), hostile()), 0..30),
        prop::collection::vec(hostile(), 0..5),
        0usize..3000,
    )
        .prop_map(
            |((title, name, email, id), (desc, subject, site, step), ms, remediation, extra)| {
                let mut a = fixtures::alert();
                a.title = title;
                a.actor.name = Some(name);
                a.actor.email = Some(email);
                a.actor.id = id;
                a.description = desc;
                a.subject = Some(subject);
                a.site = Some(site);
                a.assignee = Some(step.clone());
                a.investigation_steps = vec![step];
                a.remediation = remediation;
                a.matches = ms
                    .into_iter()
                    .map(|(kind, field, redacted)| ContentMatch {
                        kind,
                        redacted,
                        fingerprint: "fp".into(),
                        field,
                    })
                    .collect();
                a.matches.extend(fixtures::matches(extra));
                a
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_format_gives_a_valid_body_for_any_alert(alert in hostile_alert(), test in any::<bool>()) {
        let event = if test { DeliveryEvent::Test } else { DeliveryEvent::Created };
        all_requests(&alert, event);
        let alerts = vec![alert.clone(), alert];
        let d = slack_dest();
        assert_within_slack_limits(&serde_json::from_slice(&slack_digest(&alerts, 3, &d).body).unwrap());
        assert_valid_teams(&teams_digest(&alerts, 3, &d).body);
    }
}
