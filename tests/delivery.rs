//! Alerts leave the terminal: every integration kind against a real HTTP receiver on 127.0.0.1 started by the
//! test, which checks each payload's shape and recomputes the signature; retries, Retry-After, timeouts, 410,
//! an outage, Jira's non-idempotent creation, digests, and no secret in any body.
#![allow(clippy::unwrap_used)] // a test that cannot go on should stop loudly

mod receiver;

use std::time::Duration;

use chrono::Utc;
use receiver::{Receiver, Reply, Req};
use ulid::Ulid;
use vigil::deliver::format::{Destination, verify_signature};
use vigil::deliver::worker::{Deliverer, Target, WorkerOptions};
use vigil::model::{
    Alert, AlertActor, AlertStatus, ContentMatch, DeliveryState, DetectionId, Integration,
    IntegrationKind, Severity, Triggers,
};
use vigil::store::Store;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const AWS_ID: &str = "AKIAZ7QK3M4N5P6R7S8T";

fn alert(n: u128, severity: Severity) -> Alert {
    let t = Utc::now();
    Alert {
        id: Ulid::from_parts(t.timestamp_millis() as u64, n),
        detection: DetectionId("sensitive-content".into()),
        title: format!("AWS key on a page <!channel> #{n}"),
        severity,
        status: AlertStatus::Open,
        assignee: None,
        created: t,
        time_start: t,
        time_end: None,
        product: Some("confluence".into()),
        site: Some("acme.atlassian.net".into()),
        actor: AlertActor {
            id: format!("u{n}"),
            name: Some("Ana \u{202e}nimdA".into()),
            email: Some("ana@example.com".into()),
            ip: None,
            country: None,
        },
        subject: Some("Runbook 東京 🚀".into()),
        count: 1,
        description: "An AWS access key id was written into a page.".into(),
        investigation_steps: vec!["Find who else read the page.".into()],
        remediation: vec!["Rotate the key.".into()],
        evidence: vec!["e1".into()],
        matches: vec![ContentMatch {
            kind: "aws-access-key-id".into(),
            redacted: "AKIA…[aws-access-key-id, 20 chars]".into(),
            fingerprint: "4ee9c02ab78ae54e0cbad1da0895a1dd".into(),
            field: "body".into(),
        }],
        notes: Vec::new(),
        history: Vec::new(),
        version: 0,
        external: Default::default(),
        window_secs: None,
        threshold: None,
        group_key: format!("g{n}"),
    }
}

fn integration(name: &str, kind: IntegrationKind) -> Integration {
    Integration {
        name: name.into(),
        kind,
        min_severity: Severity::Low,
        detections: Vec::new(),
        enabled: true,
        on: Triggers::default(),
    }
}

fn target(name: &str, kind: IntegrationKind, url: &str) -> Target {
    let mut d = Destination::new(name, kind, url);
    match kind {
        IntegrationKind::Webhook | IntegrationKind::AuditForward => d.secret = Some(WHSEC.into()),
        IntegrationKind::SplunkHec => d.token = Some("hec-token-1".into()),
        IntegrationKind::Jira => {
            d.token = Some("jira-token".into());
            d.user = Some("bot@example.com".into());
            d.project = Some("SEC".into());
        }
        _ => {}
    }
    Target {
        integration: integration(name, kind),
        destination: Ok(d),
        digest_after: 10,
    }
}

/// A fast schedule (tests cannot wait five minutes) with the same shape: ten attempts, then dead.
fn fast() -> WorkerOptions {
    WorkerOptions {
        timeout: Duration::from_millis(800),
        poll: Duration::from_millis(20),
        schedule: vec![
            Duration::ZERO,
            Duration::from_millis(50),
            Duration::from_millis(100),
            Duration::from_millis(150),
            Duration::from_millis(200),
            Duration::from_millis(200),
            Duration::from_millis(200),
            Duration::from_millis(200),
            Duration::from_millis(200),
            Duration::from_millis(200),
        ],
        ..WorkerOptions::default()
    }
}

struct Bench {
    _dir: tempfile::TempDir,
    store: Store,
}

fn bench(targets: &[Target]) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.set_integrations(targets.iter().map(|t| t.integration.clone()).collect());
    Bench { _dir: dir, store }
}

/// Run the worker until every delivery is settled one way or the other, or `limit`.
async fn deliver_all(store: &Store, targets: Vec<Target>, opts: WorkerOptions, limit: Duration) {
    let mut worker = Deliverer::new(store.clone(), targets, opts).unwrap();
    let start = std::time::Instant::now();
    loop {
        worker.drain_once().await.unwrap();
        if store.outbox_counts(None).unwrap().pending == 0 {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "still pending after {limit:?}: {:?}",
            store.outbox_counts(None).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn adaptive_card_schema() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("schemas/adaptive-card-1.4.json")).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn adf_schema() -> jsonschema::Validator {
    let mut schema: serde_json::Value =
        serde_json::from_str(include_str!("schemas/adf-full.json")).unwrap();
    if schema.get("$ref").is_none() {
        schema["$ref"] = serde_json::json!("#/definitions/doc_node");
    }
    jsonschema::validator_for(&schema).unwrap()
}

fn check_signature(r: &Req) {
    let id = r.header("webhook-id").unwrap();
    let ts: i64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
    let sig = r.header("webhook-signature").unwrap();
    assert!(sig.starts_with("v1,"), "{sig}");
    assert!(
        verify_signature(WHSEC, id, ts, &r.body, sig),
        "the signature verifies over id.timestamp.body"
    );
    assert!((Utc::now().timestamp() - ts).abs() < 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_is_delivered_in_its_receivers_shape() {
    let rx = Receiver::with_script(|r, _| {
        if r.path == "/jira/rest/api/3/issue" {
            Reply::status(201).with_body(r#"{"id":"10001","key":"SEC-42","self":"x"}"#)
        } else {
            Reply::ok()
        }
    })
    .await;
    let targets = vec![
        target("slack", IntegrationKind::Slack, &rx.url("/slack")),
        target("teams", IntegrationKind::Teams, &rx.url("/teams")),
        target("jira", IntegrationKind::Jira, &rx.url("/jira")),
        target("hook", IntegrationKind::Webhook, &rx.url("/hook")),
        target("hec", IntegrationKind::SplunkHec, &rx.url("/hec")),
        target("fwd", IntegrationKind::AuditForward, &rx.url("/fwd")),
    ];
    let b = bench(&targets);
    let a = alert(1, Severity::High);
    b.store.save_alerts(std::slice::from_ref(&a)).unwrap();
    let ev: vigil::model::AuditEvent = serde_json::from_value(serde_json::json!({
        "id": "ev-1", "time": "2026-11-02T09:00:00Z", "action": "user_login", "actor": {"id": "u1"}
    }))
    .unwrap();
    b.store.enqueue_forward(&[ev]).unwrap();
    assert_eq!(b.store.outbox_counts(None).unwrap().pending, 6);
    deliver_all(&b.store, targets, fast(), Duration::from_secs(10)).await;

    let slack = rx.requests_to("/slack");
    assert_eq!(slack.len(), 1);
    let body = slack[0].json();
    assert!(body["text"].is_string());
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks.iter().any(|b| b["type"] == "context"));
    let text = String::from_utf8_lossy(&slack[0].body);
    assert!(
        text.contains(&a.id.to_string()),
        "the alert id is in the context line"
    );
    // Outside text cannot mention or link: escaped wherever Slack reads markup (mrkdwn and the fallback
    // text); the header is plain_text, which Slack never parses.
    fn mrkdwn(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("type").and_then(|t| t.as_str()) == Some("mrkdwn")
                    && let Some(t) = m.get("text").and_then(|t| t.as_str())
                {
                    out.push(t.to_string());
                }
                m.values().for_each(|v| mrkdwn(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| mrkdwn(v, out)),
            _ => {}
        }
    }
    let mut marked = vec![body["text"].as_str().unwrap().to_string()];
    mrkdwn(&body, &mut marked);
    assert!(marked.len() > 3);
    for t in &marked {
        assert!(!t.contains("<!channel>"), "{t}");
    }
    assert!(marked[0].contains("&lt;!channel&gt;"), "{}", marked[0]);

    let teams = rx.requests_to("/teams");
    let body = teams[0].json();
    assert_eq!(body["type"], "message");
    let att = &body["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(att["content"]["version"], "1.4");
    let card_schema = adaptive_card_schema();
    assert!(
        card_schema.is_valid(&att["content"]),
        "{:?}",
        card_schema.validate(&att["content"]).err()
    );
    assert!(teams[0].body.len() < 28 * 1024);

    let jira = rx.requests_to("/jira");
    assert_eq!(
        jira.len(),
        1,
        "one creation, no search before a first attempt"
    );
    assert_eq!(jira[0].method, "POST");
    assert_eq!(jira[0].path, "/jira/rest/api/3/issue");
    assert!(
        jira[0]
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    let fields = &jira[0].json()["fields"];
    assert_eq!(fields["project"]["key"], "SEC");
    let labels: Vec<&str> = fields["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(labels.contains(&"vigil"));
    assert!(labels.contains(&format!("vigil-{}", a.id).as_str()));
    let adf = adf_schema();
    assert!(
        adf.is_valid(&fields["description"]),
        "{:?}",
        adf.validate(&fields["description"]).err()
    );
    // The key is kept on the alert and on the delivery.
    let stored = b.store.alert(a.id).unwrap().unwrap();
    assert_eq!(
        stored.external.get("jira").map(String::as_str),
        Some("SEC-42")
    );
    let jd = b
        .store
        .deliveries_of(a.id)
        .unwrap()
        .into_iter()
        .find(|d| d.integration == "jira")
        .unwrap();
    assert_eq!(jd.external.as_deref(), Some("SEC-42"));

    let hook = rx.requests_to("/hook");
    check_signature(&hook[0]);
    let body = hook[0].json();
    assert_eq!(body["type"], "alert.created");
    assert_eq!(body["data"]["id"], a.id.to_string());

    let hec = rx.requests_to("/hec");
    assert_eq!(hec[0].path, "/hec");
    assert_eq!(hec[0].header("authorization"), Some("Splunk hec-token-1"));
    assert_eq!(hec[0].json()["sourcetype"], "vigil:alert");

    let fwd = rx.requests_to("/fwd");
    assert_eq!(fwd.len(), 1);
    check_signature(&fwd[0]);
    assert!(String::from_utf8_lossy(&fwd[0].body).contains("ev-1"));

    // Nothing sent holds the secret the alert was raised for.
    for r in rx.requests() {
        assert!(!String::from_utf8_lossy(&r.body).contains(AWS_ID));
    }
    let h = b.store.integration_health("hook").unwrap();
    assert_eq!(h.summary(), "ok");
    assert_eq!(h.delivered, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_a_server_error_is_retried() {
    let rx = Receiver::with_script(|r, before| {
        let n = before.iter().filter(|b| b.path == r.path).count();
        match (r.path.as_str(), n) {
            ("/busy", 0) => Reply::status(429).with_header("retry-after", "1"),
            ("/flaky", 0) => Reply::status(500),
            _ => Reply::ok(),
        }
    })
    .await;
    let targets = vec![
        target("busy", IntegrationKind::Webhook, &rx.url("/busy")),
        target("flaky", IntegrationKind::Webhook, &rx.url("/flaky")),
    ];
    let b = bench(&targets);
    b.store.save_alerts(&[alert(1, Severity::High)]).unwrap();
    deliver_all(&b.store, targets, fast(), Duration::from_secs(10)).await;
    let busy = rx.requests_to("/busy");
    assert_eq!(busy.len(), 2);
    let waited = busy[1].at - busy[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 honoured, waited {waited:?}"
    );
    let flaky = rx.requests_to("/flaky");
    assert_eq!(flaky.len(), 2);
    // One delivery id across the retries: the receiver dedupes on it.
    assert_eq!(flaky[0].header("webhook-id"), flaky[1].header("webhook-id"));
    let d = &b.store.deliveries_of(alert(1, Severity::High).id).unwrap();
    assert!(d.iter().all(|d| d.state == DeliveryState::Delivered));
    assert!(d.iter().all(|d| d.tries == 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_retried_and_a_4xx_goes_to_the_dead_letters() {
    let rx = Receiver::with_script(|r, before| {
        let n = before.iter().filter(|b| b.path == r.path).count();
        match (r.path.as_str(), n) {
            ("/slow", 0) => Reply::ok().delayed(Duration::from_secs(3)),
            ("/bad", _) => Reply::status(400).with_body("no"),
            _ => Reply::ok(),
        }
    })
    .await;
    let targets = vec![
        target("slow", IntegrationKind::Webhook, &rx.url("/slow")),
        target("bad", IntegrationKind::Webhook, &rx.url("/bad")),
    ];
    let b = bench(&targets);
    let a = alert(1, Severity::High);
    b.store.save_alerts(std::slice::from_ref(&a)).unwrap();
    deliver_all(&b.store, targets, fast(), Duration::from_secs(10)).await;
    let ds = b.store.deliveries_of(a.id).unwrap();
    let slow = ds.iter().find(|d| d.integration == "slow").unwrap();
    assert_eq!(slow.state, DeliveryState::Delivered);
    assert_eq!(slow.attempts[0].error, "timed out");
    let bad = ds.iter().find(|d| d.integration == "bad").unwrap();
    assert_eq!(bad.state, DeliveryState::Dead);
    assert_eq!(bad.tries, 1, "a 400 is not retried");
    assert_eq!(bad.attempts[0].status, Some(400));
    assert_eq!(b.store.outbox_counts(Some("bad")).unwrap().dead, 1);
    assert!(
        b.store
            .integration_health("bad")
            .unwrap()
            .summary()
            .starts_with("failing since")
    );
    // Replayed, the dead letter goes again.
    rx.script(|_, _| Reply::ok());
    assert_eq!(b.store.replay_dead("bad", Utc::now()).unwrap(), 1);
    let targets = vec![target("bad", IntegrationKind::Webhook, &rx.url("/bad"))];
    deliver_all(&b.store, targets, fast(), Duration::from_secs(10)).await;
    assert_eq!(b.store.outbox_counts(None).unwrap().dead, 0);
    assert_eq!(b.store.integration_health("bad").unwrap().summary(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_integration_and_keeps_its_deliveries() {
    let rx = Receiver::with_script(|_, _| Reply::status(410)).await;
    let targets = vec![target("old", IntegrationKind::Webhook, &rx.url("/old"))];
    let b = bench(&targets);
    b.store
        .save_alerts(&[alert(1, Severity::High), alert(2, Severity::High)])
        .unwrap();
    let mut worker = Deliverer::new(b.store.clone(), targets, fast()).unwrap();
    worker.drain_once().await.unwrap();
    worker.drain_once().await.unwrap();
    let health = b.store.integration_health("old").unwrap();
    assert!(
        health
            .summary()
            .starts_with("disabled: the receiver answered 410 Gone")
    );
    let sent = rx.requests().len();
    assert!(sent <= 2, "nothing more is sent once disabled ({sent})");
    worker.drain_once().await.unwrap();
    assert_eq!(rx.requests().len(), sent);
    assert_eq!(
        b.store.outbox_counts(None).unwrap().pending,
        2,
        "kept for when it is enabled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_loses_nothing_and_each_delivery_id_arrives() {
    let mut rx = Receiver::start().await;
    let url = rx.url("/hook");
    rx.down().await;
    let targets = vec![target("hook", IntegrationKind::Webhook, &url)];
    let b = bench(&targets);
    let alerts: Vec<Alert> = (1..=40).map(|n| alert(n, Severity::High)).collect();
    b.store.save_alerts(&alerts).unwrap();
    let worker = Deliverer::new(b.store.clone(), targets, fast()).unwrap();
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(wake, stop_rx));
    // Down for a while: every attempt fails, nothing is lost.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.store.outbox_counts(None).unwrap().pending, 40);
    let h = b.store.integration_health("hook").unwrap();
    assert!(h.failing_since.is_some());
    assert!(
        h.recent.iter().all(|a| a.error == "could not connect"),
        "{:?}",
        h.recent
    );
    rx.up().await;
    rx.wait_for(Duration::from_secs(15), |reqs| {
        let mut ids: Vec<&str> = reqs.iter().filter_map(|r| r.header("webhook-id")).collect();
        ids.sort();
        ids.dedup();
        ids.len() == 40
    })
    .await;
    let _ = stop_tx.send(true);
    running.await.unwrap().unwrap();
    for r in rx.requests() {
        check_signature(&r);
    }
    let mut by_alert: Vec<String> = rx
        .requests()
        .iter()
        .map(|r| r.json()["data"]["id"].as_str().unwrap().to_string())
        .collect();
    by_alert.sort();
    by_alert.dedup();
    assert_eq!(
        by_alert.len(),
        40,
        "after dedupe on the id, each alert exactly once"
    );
    assert_eq!(b.store.integration_health("hook").unwrap().summary(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jira_retry_adopts_the_issue_already_made() {
    // The first creation succeeds on Jira's side but the answer is lost (a 502); the retry must search for
    // the alert's label and adopt that issue, not create a second.
    let rx = Receiver::with_script(|r, before| {
        let created = before.iter().filter(|b| b.method == "POST").count();
        if r.method == "POST" {
            if created == 0 {
                Reply::status(502)
            } else {
                Reply::status(201).with_body(r#"{"key":"SEC-99"}"#)
            }
        } else if created > 0 {
            Reply::ok().with_body(r#"{"issues":[{"id":"1","key":"SEC-7"}]}"#)
        } else {
            Reply::ok().with_body(r#"{"issues":[]}"#)
        }
    })
    .await;
    let targets = vec![target("jira", IntegrationKind::Jira, &rx.url(""))];
    let b = bench(&targets);
    let a = alert(1, Severity::High);
    b.store.save_alerts(std::slice::from_ref(&a)).unwrap();
    deliver_all(&b.store, targets, fast(), Duration::from_secs(10)).await;
    let posts = rx.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1, "one issue created");
    let search = rx
        .requests()
        .into_iter()
        .find(|r| r.method == "GET")
        .unwrap();
    assert!(search.path.ends_with("/rest/api/3/search/jql"));
    assert!(
        search.query.contains(&format!("vigil-{}", a.id)),
        "{}",
        search.query
    );
    let stored = b.store.alert(a.id).unwrap().unwrap();
    assert_eq!(
        stored.external.get("jira").map(String::as_str),
        Some("SEC-7")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_to_slack_goes_as_a_digest() {
    let rx = Receiver::start().await;
    let targets = vec![target("slack", IntegrationKind::Slack, &rx.url("/slack"))];
    let b = bench(&targets);
    let alerts: Vec<Alert> = (1..=60).map(|n| alert(n, Severity::High)).collect();
    b.store.save_alerts(&alerts).unwrap();
    deliver_all(&b.store, targets, fast(), Duration::from_secs(10)).await;
    let sent = rx.requests();
    assert!(
        sent.len() <= 3,
        "a digest, not sixty messages: {}",
        sent.len()
    );
    let text: String = sent
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .collect();
    assert!(
        text.contains("more"),
        "the digest says how many it does not list"
    );
    let delivered = alerts
        .iter()
        .flat_map(|a| b.store.deliveries_of(a.id).unwrap())
        .filter(|d| d.state == DeliveryState::Delivered)
        .count();
    assert_eq!(delivered, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_to_jira_searches_and_makes_no_issue() {
    let rx = Receiver::with_script(|_, _| Reply::ok().with_body(r#"{"issues":[]}"#)).await;
    let targets = vec![target("jira", IntegrationKind::Jira, &rx.url(""))];
    let b = bench(&targets);
    let test =
        vigil::model::Delivery::new("jira", None, vigil::model::DeliveryEvent::Test, Utc::now());
    b.store.enqueue(&[test]).unwrap();
    deliver_all(&b.store, targets, fast(), Duration::from_secs(10)).await;
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET", "a search, never a creation");
    assert_eq!(b.store.integration_health("jira").unwrap().summary(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabling_again_sends_what_waited_at_once_and_keeps_the_switch() {
    let rx = Receiver::start().await;
    let targets = vec![target("hook", IntegrationKind::Webhook, &rx.url("/hook"))];
    let b = bench(&targets);
    b.store
        .update_integration_health("hook", |h| h.disabled = Some("disabled by ana".into()))
        .unwrap();
    b.store.save_alerts(&[alert(1, Severity::High)]).unwrap();
    let mut worker = Deliverer::new(b.store.clone(), targets, fast()).unwrap();
    worker.drain_once().await.unwrap();
    assert!(rx.requests().is_empty(), "nothing goes while disabled");
    let parked = b.store.next_due().unwrap().unwrap();
    assert!(
        parked > Utc::now() + chrono::Duration::seconds(30),
        "held back"
    );
    // Enabled again: the held delivery is due at once, not at its next look.
    b.store
        .update_integration_health("hook", |h| h.disabled = None)
        .unwrap();
    assert_eq!(b.store.retry_now("hook", Utc::now()).unwrap(), 1);
    worker.drain_once().await.unwrap();
    assert_eq!(rx.requests().len(), 1);
    // The worker's record of that attempt did not undo the switch.
    let h = b.store.integration_health("hook").unwrap();
    assert!(h.disabled.is_none());
    assert_eq!(h.delivered, 1);
}
