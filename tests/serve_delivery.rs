//! `vigil serve` delivering a generated scenario to Slack-, Teams-, Jira-, webhook-, HEC- and
//! audit-forwarding-shaped receivers on 127.0.0.1, with planted secrets that no body may carry; and a
//! `kill -9` while it holds a backlog, after which the restarted service delivers every alert.
#![allow(clippy::unwrap_used)] // a test that cannot go on should stop loudly

mod receiver;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use receiver::{Receiver, Reply};

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const AWS_ID: &str = "AKIAZ7QK3M4N5P6R7S8T";
const GITHUB: &str = "ghp_R8t2LmVq9x7ZkP3wN5yB1cD4fG6hJ0kLmN2p";

fn generate(dir: &Path, events: u64, incidents: u32) -> (PathBuf, usize) {
    let file = dir.join("audit.jsonl");
    let manifest = dir.join("planted.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["generate", "--seed", "5"])
        .args(["--events", &events.to_string()])
        .args(["--incidents", &incidents.to_string()])
        .arg("--manifest")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&file, &out.stdout).unwrap();
    let planted = std::fs::read_to_string(&manifest).unwrap().lines().count();
    (file, planted)
}

/// A config following `events`, with `integrations` (TOML) appended; owner-only, as literal secrets need.
fn config(dir: &Path, events: &Path, integrations: &str) -> PathBuf {
    let path = dir.join("vigil.toml");
    std::fs::write(
        &path,
        format!(
            "[[sources]]\nkind = \"file\"\npath = \"{}\"\n\n{integrations}",
            events.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn serve(data: &Path, config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env_remove("VIGIL_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// Wait until the receiver has had no request for two seconds (the service has nothing left to send).
async fn quiet(rx: &Receiver) {
    let mut last = rx.requests().len();
    let mut still = 0;
    while still < 20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = rx.requests().len();
        if now == last {
            still += 1;
        } else {
            still = 0;
            last = now;
        }
    }
}

/// Distinct alert ids the signed webhook received.
fn hooked(rx: &Receiver) -> BTreeSet<String> {
    rx.requests_to("/hook")
        .iter()
        .filter_map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
            v["data"]["id"].as_str().map(str::to_string)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_delivers_a_scenario_to_every_kind_and_no_secret_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let (events, planted) = generate(dir.path(), 3000, 30);
    // Two more events carrying secrets in their content, message and actor name.
    let leak = |id: &str, actor: &str| {
        serde_json::json!({"id": id, "type": "events", "attributes": {
            "time": "2026-11-02T12:00:00Z", "action": "page_created",
            "actor": {"id": actor, "name": format!("bot {GITHUB}")},
            "content": {"objectType": "page", "objectId": format!("p-{id}"), "containerKey": "OPS",
                        "product": "confluence", "title": format!("keys {AWS_ID}"),
                        "body": format!("aws_access_key_id = {AWS_ID}\ntoken {GITHUB}")}},
          "message": {"content": format!("created with {AWS_ID}"), "format": "simple"}})
        .to_string()
    };
    let mut text = std::fs::read_to_string(&events).unwrap();
    text.push_str(&leak("leak-1", "leaker-1"));
    text.push('\n');
    text.push_str(&leak("leak-2", "leaker-2"));
    text.push('\n');
    std::fs::write(&events, text).unwrap();
    // At least one content alert per leaking event; the exact number is read from the store at the end.
    let at_least = planted + 2;

    let rx = Receiver::with_script(|r, before| {
        if r.path == "/jira/rest/api/3/issue" {
            let n = before
                .iter()
                .filter(|b| b.method == "POST" && b.path == r.path)
                .count();
            Reply::status(201).with_body(&format!(r#"{{"key":"SEC-{}"}}"#, n + 1))
        } else {
            Reply::ok()
        }
    })
    .await;
    let integrations = format!(
        r#"[[integrations]]
name = "slack"
kind = "slack"
url = "{slack}"

[[integrations]]
name = "teams"
kind = "teams"
url = "{teams}"

[[integrations]]
name = "jira"
kind = "jira"
url = "{jira}"
user = "bot@example.com"
token = "jira-token"
project = "SEC"

[[integrations]]
name = "hook"
kind = "webhook"
url = "{hook}"
secret = "{WHSEC}"

[[integrations]]
name = "hec"
kind = "splunk_hec"
url = "{hec}"
token = "hec-token"

[[integrations]]
name = "fwd"
kind = "audit_forward"
url = "{fwd}"
secret = "{WHSEC}"
"#,
        slack = rx.url("/slack"),
        teams = rx.url("/teams"),
        jira = rx.url("/jira"),
        hook = rx.url("/hook"),
        hec = rx.url("/hec"),
        fwd = rx.url("/fwd"),
    );
    let cfg = config(dir.path(), &events, &integrations);
    let data = dir.path().join("data");
    let child = serve(&data, &cfg);
    rx.wait_for(Duration::from_secs(60), |_| hooked(&rx).len() >= at_least)
        .await;
    quiet(&rx).await;
    stop(child);

    let status = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(&data)
        .args(["status", "--format", "json"])
        .env_remove("VIGIL_DATA_DIR")
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(s["outbox_pending"], 0, "{s}");
    assert_eq!(s["outbox_dead"], 0, "{s}");
    let alerts = s["alerts"]["total"].as_u64().unwrap() as usize;
    assert!(alerts >= at_least, "{s}");

    assert_eq!(hooked(&rx).len(), alerts, "each alert once after dedupe");
    let jira = rx.requests_to("/jira/rest/api/3/issue");
    assert_eq!(jira.len(), alerts, "one Jira issue per alert");
    assert_eq!(rx.requests_to("/hec").len(), alerts);
    let mut forwarded = BTreeSet::new();
    for r in rx.requests_to("/fwd") {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        for e in v["data"].as_array().unwrap() {
            forwarded.insert(e["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(forwarded.len(), 3002, "every stored event forwarded");
    // Slack and Teams are paced: the burst went as digests.
    let slack = rx.requests_to("/slack").len();
    assert!(
        slack >= 1 && slack < alerts,
        "digests, not one message each: {slack}"
    );
    assert!(!rx.requests_to("/teams").is_empty());
    for r in rx.requests() {
        let body = String::from_utf8_lossy(&r.body);
        for secret in [AWS_ID, GITHUB] {
            assert!(
                !body.contains(secret),
                "{secret} sent in full to {}",
                r.path
            );
        }
    }
    assert!(
        rx.requests_to("/hook")
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("AKIA…[aws-access-key-id")),
        "the redacted form is what is sent"
    );

    let list = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .args(["integrations", "list"])
        .env_remove("VIGIL_DATA_DIR")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(
        text.matches("\n    ok; 0 pending, 0 dead").count(),
        6,
        "{text}"
    );
    assert!(!text.contains("/hook"), "endpoints are masked: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_holding_a_backlog_loses_no_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let (events, planted) = generate(dir.path(), 10_000, 100);
    // A slow receiver: the service holds a backlog while it delivers.
    let rx = Receiver::with_script(|_, _| Reply::ok().delayed(Duration::from_millis(400))).await;
    let cfg = config(
        dir.path(),
        &events,
        &format!(
            "[[integrations]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{WHSEC}\"\n",
            rx.url("/hook")
        ),
    );
    let data = dir.path().join("data");
    let mut child = serve(&data, &cfg);
    rx.wait_for(Duration::from_secs(60), |reqs| reqs.len() >= 10)
        .await;
    child.kill().unwrap(); // SIGKILL: nothing is saved on the way out
    let _ = child.wait();
    let before = hooked(&rx).len();
    assert!(
        before < planted,
        "killed with a backlog ({before} of {planted} delivered)"
    );

    rx.script(|_, _| Reply::ok());
    let child = serve(&data, &cfg);
    rx.wait_for(Duration::from_secs(60), |_| hooked(&rx).len() >= planted)
        .await;
    stop(child);
    assert_eq!(
        hooked(&rx).len(),
        planted,
        "every alert delivered, none lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_test_sends_a_marked_test_alert_and_says_what_came_back() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let events = dir.path().join("none.jsonl");
    let cfg = config(
        dir.path(),
        &events,
        &format!(
            "[[integrations]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{WHSEC}\"\n",
            rx.url("/hook/secret-path")
        ),
    );
    let run = |args: &'static [&'static str]| {
        let cfg = cfg.clone();
        let data = dir.path().join("data");
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_vigil"))
                .arg("--data-dir")
                .arg(data)
                .arg("--config")
                .arg(cfg)
                .args(args)
                .env_remove("VIGIL_DATA_DIR")
                .output()
                .unwrap()
        })
    };
    let out = run(&["integrations", "test", "hook"]).await.unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.starts_with("hook (webhook, http://127.0.0.1:"),
        "{said}"
    );
    assert!(said.contains("HTTP 200 in"), "{said}");
    assert!(
        !said.contains("secret-path"),
        "the endpoint is masked: {said}"
    );
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].json()["type"], "alert.test");
    let ts: i64 = reqs[0]
        .header("webhook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!(vigil::deliver::format::verify_signature(
        WHSEC,
        reqs[0].header("webhook-id").unwrap(),
        ts,
        &reqs[0].body,
        reqs[0].header("webhook-signature").unwrap()
    ));

    rx.script(|_, _| Reply::status(500));
    let out = run(&["integrations", "test", "hook"]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("HTTP 500"));

    let out = run(&["integrations", "test", "nope"]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no integration named 'nope' (configured: hook)"),
        "{err}"
    );
}
