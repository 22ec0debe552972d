//! Paging bench: `alerts_page` and `actor_timeline` with 2M events and 1M alerts in the store.
//!
//! `cargo bench --bench store`. The store is built once under `target/bench-store` (it takes a few minutes)
//! and reused; delete that directory to rebuild. Prints median and p99 per query kind.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use ulid::Ulid;
use vigil::model::{
    Actor, Alert, AlertActor, AlertStatus, AuditEvent, DetectionId, Location, Severity,
};
use vigil::store::{AlertFilter, Store};

const EVENTS: u64 = 2_000_000;
const ALERTS: u64 = 1_000_000;
const ACTORS: u64 = 500;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn event(i: u64) -> AuditEvent {
    let actor = format!("5b10ac8d82e05b22cc7d{:04}", i % ACTORS);
    AuditEvent {
        id: format!("ev-{i:012}-2508d209-3336-4763-89a0"),
        time: t0() + TimeDelta::milliseconds((i * 7_000) as i64),
        action: ["page_viewed", "issue_viewed", "user_login", "page_updated"][(i % 4) as usize]
            .to_string(),
        actor: Actor {
            id: actor.clone(),
            name: Some(format!("User {}", i % ACTORS)),
            email: Some(format!("{actor}@example.com")),
            ..Default::default()
        },
        context: vec![],
        container: vec![],
        location: Some(Location {
            ip: Some("203.0.113.7".into()),
            country_name: Some("Australia".into()),
            ..Default::default()
        }),
        content: None,
        message: None,
        extra: Default::default(),
        secrets: Vec::new(),
    }
}

fn alert(i: u64) -> Alert {
    let created = t0() + TimeDelta::milliseconds((i * 14_000) as i64);
    let actor = i % ACTORS;
    Alert {
        id: Ulid::from_parts(created.timestamp_millis() as u64, u128::from(i)),
        detection: DetectionId(
            [
                "page-crawling",
                "bulk-export",
                "login-new-country",
                "sensitive-content",
            ][(i % 4) as usize]
                .into(),
        ),
        title: "Bench alert".into(),
        severity: Severity::ALL[(i % 4) as usize],
        status: AlertStatus::ALL[((i / 4) % 4) as usize],
        assignee: None,
        created,
        time_start: created,
        time_end: None,
        product: Some("confluence".into()),
        site: Some("acme".into()),
        actor: AlertActor {
            id: format!("5b10ac8d82e05b22cc7d{actor:04}"),
            name: Some(format!("User {actor}")),
            ..Default::default()
        },
        subject: Some("Q3 roadmap".into()),
        count: 1,
        description: "A bench alert with a description of typical length for an analyst to read."
            .into(),
        investigation_steps: vec!["Check the actor's recent activity.".into()],
        remediation: vec!["Revoke the token.".into()],
        evidence: vec![format!("ev-{i}")],
        matches: vec![],
        notes: vec![],
        history: vec![],
        version: 1,
        external: Default::default(),
        window_secs: None,
        threshold: None,
        group_key: format!("g{i}"),
    }
}

fn build(dir: &std::path::Path) {
    let s = Store::open(dir).unwrap();
    let start = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..EVENTS {
        batch.push(event(i));
        if batch.len() == 1000 {
            s.insert_events(&batch).unwrap();
            batch.clear();
        }
    }
    eprintln!("built {EVENTS} events in {:.1?}", start.elapsed());
    let start = Instant::now();
    let mut alerts = Vec::with_capacity(1000);
    for i in 0..ALERTS {
        alerts.push(alert(i));
        if alerts.len() == 1000 {
            s.save_alerts(&alerts).unwrap();
            alerts.clear();
        }
    }
    s.flush().unwrap();
    eprintln!("built {ALERTS} alerts in {:.1?}", start.elapsed());
    // Built this way (a thousand batches of alerts, each rewriting its blocks and lists) sled's file is ~3 GB,
    // nearly all garbage, and opening it replays that log (1.7 s, 200 MB). `vigil ingest` and `serve` compact
    // such a store; so does the bench, so that the figures are those of the store a user has.
    let start = std::time::Instant::now();
    let (_, before, after) = s.compact(vigil::store::StoreOptions::default()).unwrap();
    eprintln!(
        "compacted {:.0} MB → {:.0} MB in {:.1?}",
        before as f64 / 1e6,
        after as f64 / 1e6,
        start.elapsed()
    );
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let med = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    println!(
        "{name:<48} median {:>8.3} ms   p99 {:>8.3} ms",
        med.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs bench binaries without it: skip the work.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-store");
    let ready = dir.join("READY");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        build(&dir);
        std::fs::write(&ready, "").unwrap();
    }
    let open_start = Instant::now();
    let s = Store::open(&dir).unwrap();
    println!(
        "open: {:.1?}; events={} alerts={}; RSS after open {:.1} MB",
        open_start.elapsed(),
        s.event_count(),
        s.status_counts().total(),
        rss_mb()
    );
    if std::env::args().any(|a| a == "--entries") {
        // Walks both trees (reads the whole store): only on request.
        println!(
            "entries: {} event runs, {} in the alert book",
            s.event_run_entries(),
            s.alert_book_entries()
        );
    }

    let filters: Vec<(&str, AlertFilter)> = vec![
        ("alerts_page newest 50 (no filter)", AlertFilter::default()),
        (
            "alerts_page status:open sev:>=high 50",
            AlertFilter {
                statuses: vec![AlertStatus::Open],
                min_severity: Some(Severity::High),
                ..Default::default()
            },
        ),
        (
            "alerts_page actor:<id> 50",
            AlertFilter {
                actor: Some("5b10ac8d82e05b22cc7d0042".into()),
                ..Default::default()
            },
        ),
        (
            "alerts_page det:bulk-export 50",
            AlertFilter {
                detection: Some("bulk-export".into()),
                ..Default::default()
            },
        ),
    ];
    for (name, f) in &filters {
        let mut times = Vec::new();
        let mut cursor = None;
        for _ in 0..200 {
            let t = Instant::now();
            let page = s.alerts_page(f, cursor, 50).unwrap();
            times.push(t.elapsed());
            assert!(
                cursor.is_some() || page.alerts.len() == 50,
                "{name}: a first page must be full"
            );
            // At the end of the list start again from the newest.
            cursor = page.next;
        }
        report(name, times);
    }
    let mut times = Vec::new();
    for i in 0..200u64 {
        let actor = format!("5b10ac8d82e05b22cc7d{:04}", (i * 37) % ACTORS);
        let around = t0() + TimeDelta::milliseconds(((i * 9_973 % EVENTS) * 7_000) as i64);
        let t = Instant::now();
        let tl = s.actor_timeline(&actor, around, 50, 50).unwrap();
        times.push(t.elapsed());
        assert!(!tl.is_empty());
    }
    report("actor_timeline 50 before + 50 after", times);
}
