//! Delivery bench, against real HTTP receivers on 127.0.0.1 (axum):
//! 1. throughput: 5,000 queued alerts to a signed webhook that answers at once, deliveries/s;
//! 2. latency: `vigil serve --stdin` fed one alert-raising event at a time (no backlog), event written →
//!    webhook received, p50/p99 over 200 events;
//! 3. burst: 1,000 alerts queued to a paced Slack endpoint, time until all are delivered and how many
//!    messages that took (digests).
//!
//! `cargo bench --bench deliver`.
#![allow(clippy::unwrap_used)] // a bench that cannot go on should stop loudly

#[path = "../tests/receiver/mod.rs"]
mod receiver;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use receiver::{Receiver, Reply};
use ulid::Ulid;
use vigil::deliver::format::Destination;
use vigil::deliver::worker::{Deliverer, Target, WorkerOptions};
use vigil::model::{
    Alert, AlertActor, AlertStatus, DetectionId, Integration, IntegrationKind, Severity, Triggers,
};
use vigil::store::Store;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn alert(n: u128) -> Alert {
    let t = Utc::now();
    Alert {
        id: Ulid::from_parts(t.timestamp_millis() as u64, n),
        detection: DetectionId("admin-granted".into()),
        title: format!("Admin rights granted #{n}"),
        severity: Severity::High,
        status: AlertStatus::Open,
        assignee: None,
        created: t,
        time_start: t,
        time_end: None,
        product: None,
        site: Some("acme.atlassian.net".into()),
        actor: AlertActor {
            id: format!("u{n}"),
            name: Some(format!("User {n}")),
            ..AlertActor::default()
        },
        subject: Some("org admin".into()),
        count: 1,
        description: "An organization admin role was granted.".into(),
        investigation_steps: vec!["Confirm with the grantor.".into()],
        remediation: vec!["Revoke if unexpected.".into()],
        evidence: vec![format!("e{n}")],
        matches: Vec::new(),
        notes: Vec::new(),
        history: Vec::new(),
        version: 0,
        external: Default::default(),
        window_secs: None,
        threshold: None,
        group_key: format!("g{n}"),
    }
}

fn target(name: &str, kind: IntegrationKind, url: &str) -> Target {
    let mut d = Destination::new(name, kind, url);
    d.secret = Some(WHSEC.into());
    Target {
        integration: Integration {
            name: name.into(),
            kind,
            min_severity: Severity::Low,
            detections: Vec::new(),
            enabled: true,
            on: Triggers::default(),
        },
        destination: Ok(d),
        digest_after: 10,
    }
}

async fn drain(store: &Store, targets: Vec<Target>) -> Duration {
    let start = Instant::now();
    let worker = Deliverer::new(store.clone(), targets, WorkerOptions::default()).unwrap();
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(wake, stop_rx));
    while store.outbox_counts(None).unwrap().pending > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = start.elapsed();
    let _ = stop_tx.send(true);
    running.await.unwrap().unwrap();
    took
}

async fn throughput() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let targets = vec![target("hook", IntegrationKind::Webhook, &rx.url("/hook"))];
    store.set_integrations(targets.iter().map(|t| t.integration.clone()).collect());
    let n = 5000u128;
    let alerts: Vec<Alert> = (1..=n).map(alert).collect();
    for chunk in alerts.chunks(500) {
        store.save_alerts(chunk).unwrap();
    }
    let took = drain(&store, targets).await;
    let got = rx.requests().len();
    println!(
        "throughput  {got} webhook deliveries in {:.2} s = {:.0} deliveries/s",
        took.as_secs_f64(),
        got as f64 / took.as_secs_f64()
    );
}

async fn burst() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let targets = vec![target("slack", IntegrationKind::Slack, &rx.url("/slack"))];
    store.set_integrations(targets.iter().map(|t| t.integration.clone()).collect());
    let alerts: Vec<Alert> = (1..=1000).map(alert).collect();
    store.save_alerts(&alerts).unwrap();
    let took = drain(&store, targets).await;
    println!(
        "burst       1000 alerts to a paced Slack webhook delivered in {:.2} s as {} messages (digests)",
        took.as_secs_f64(),
        rx.requests().len()
    );
}

async fn latency() {
    let rx = Receiver::with_script(|_, _| Reply::ok()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "[[integrations]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{WHSEC}\"\n",
            rx.url("/hook")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .args(["serve", "--stdin"])
        .env_remove("VIGIL_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut samples = Vec::new();
    let base = Utc::now() - chrono::Duration::hours(1);
    for i in 0..200 {
        let t = (base + chrono::Duration::seconds(i)).to_rfc3339();
        let line = serde_json::json!({"id": format!("lat-{i}"), "type": "events", "attributes": {
            "time": t, "action": "org_admin_role_granted",
            "actor": {"id": format!("granter-{i}"), "name": "Granter"},
            "context": [{"id": format!("grantee-{i}"), "type": "users"}]}});
        let before = rx.count();
        let sent = Instant::now();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let deadline = sent + Duration::from_secs(5);
        loop {
            if rx.count() > before {
                samples.push(rx.requests()[before].at.duration_since(sent));
                break;
            }
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    drop(stdin);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    samples.sort();
    let pct = |p: f64| {
        samples
            .get(((samples.len() as f64 * p) as usize).min(samples.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "latency     event written → webhook received, {} of 200 alerts: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        pct(0.50),
        pct(0.99),
        samples.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without --bench: skip the work.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        throughput().await;
        latency().await;
        burst().await;
    });
}
