//! Fixed alerts and events for the UI tests: a temp store, fixed times and ULIDs, so snapshots are stable.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ulid::Ulid;
use vigil::detect::tuning::Tuning;
use vigil::engine::EngineHandle;
use vigil::model::{
    Actor, Alert, AlertActor, AlertStatus, AuditEvent, Content, ContentMatch, DetectionId,
    Location, Severity,
};
use vigil::store::Store;
use vigil::tui::{App, UiOptions};

pub fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, h, m, 0)
        .single()
        .expect("fixed time")
}

pub fn id(n: u64) -> Ulid {
    Ulid::from_parts(
        t(8, 0).timestamp_millis() as u64 + n * 60_000,
        u128::from(n),
    )
}

fn alert(
    n: u64,
    det: &str,
    title: &str,
    sev: Severity,
    actor: &str,
    subject: Option<&str>,
) -> Alert {
    let created = t(8, 0) + chrono::Duration::minutes(n as i64);
    Alert {
        id: id(n),
        detection: DetectionId(det.into()),
        title: title.into(),
        severity: sev,
        status: AlertStatus::Open,
        assignee: None,
        created,
        time_start: created,
        time_end: None,
        product: Some("confluence".into()),
        site: Some("acme".into()),
        actor: AlertActor {
            id: format!("acc-{actor}"),
            name: Some(format!("{actor} Admin")),
            email: Some(format!("{}@example.com", actor.to_lowercase())),
            ip: Some("203.0.113.7".into()),
            country: Some("Australia".into()),
        },
        subject: subject.map(Into::into),
        count: 1,
        description: "Fired because the rule matched.".into(),
        investigation_steps: vec!["Ask the actor.".into()],
        remediation: vec!["Revoke the token.".into()],
        evidence: vec![format!("ev-{n}")],
        matches: Vec::new(),
        notes: Vec::new(),
        history: Vec::new(),
        version: 1,
        external: Default::default(),
        window_secs: None,
        threshold: None,
        group_key: format!("{det}|acc-{actor}"),
    }
}

/// Five alerts (newest is #5) and a few events for Ana, one of them with a hostile title.
pub fn alerts() -> Vec<Alert> {
    let mut crawl = alert(
        1,
        "page-crawling",
        "Page crawling",
        Severity::Medium,
        "Ana",
        None,
    );
    crawl.count = 240;
    crawl.window_secs = Some(600);
    crawl.threshold = Some(200);
    crawl.time_end = Some(t(8, 9));
    let mut secret = alert(
        4,
        "sensitive-content",
        "Credentials in content",
        Severity::High,
        "Ana",
        Some("Deploy\x1b]0;pwned\x07 notes"),
    );
    secret.matches = vec![ContentMatch {
        kind: "aws-access-key-id".into(),
        redacted: "AKIA…[aws-access-key-id, 20 chars]".into(),
        fingerprint: "3f9a0c1d2e".into(),
        field: "body".into(),
    }];
    secret.group_key = "sensitive-content|acc-Ana|98231|3f9a0c1d2e".into();
    secret.evidence = vec!["ev-4".into()];
    vec![
        crawl,
        alert(
            2,
            "failed-login-burst",
            "Failed login burst",
            Severity::Medium,
            "Bob",
            None,
        ),
        alert(
            3,
            "admin-impersonation",
            "Admin impersonation",
            Severity::High,
            "Cy",
            Some("user bob@example.com"),
        ),
        secret,
        alert(
            5,
            "audit-stream-changed",
            "Audit stream changed",
            Severity::Critical,
            "Dee",
            Some("audit webhook"),
        ),
    ]
}

pub fn events() -> Vec<AuditEvent> {
    (0..6)
        .map(|i| AuditEvent {
            id: format!("ev-{i}"),
            time: t(8, 0) + chrono::Duration::minutes(i),
            action: if i == 4 {
                "page_updated".into()
            } else {
                "page_viewed".into()
            },
            actor: Actor {
                id: "acc-Ana".into(),
                name: Some("Ana Admin".into()),
                email: Some("ana@example.com".into()),
                ..Default::default()
            },
            context: Vec::new(),
            container: Vec::new(),
            location: Some(Location {
                ip: Some("203.0.113.7".into()),
                ..Default::default()
            }),
            content: Some(Content {
                object_type: Some("page".into()),
                object_id: Some(format!("9823{i}")),
                title: Some(if i == 4 {
                    "Deploy\x1b]0;pwned\x07 notes".into()
                } else {
                    format!("Page {i}")
                }),
                ..Default::default()
            }),
            message: None,
            extra: Default::default(),
            secrets: Vec::new(),
        })
        .collect()
}

/// A seeded store and a handle over it (the tempdir must outlive the handle).
pub fn engine() -> (tempfile::TempDir, EngineHandle) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    store.insert_events(&events()).expect("events");
    store.save_alerts(&alerts()).expect("alerts");
    store.flush().expect("flush");
    let handle = EngineHandle::new(store, Tuning::default(), vec![], None).expect("handle");
    (dir, handle)
}

/// An app at `w`x`h`, first screen loaded.
pub async fn app(handle: EngineHandle, w: u16, h: u16) -> App {
    let opts = UiOptions {
        user: "tester".into(),
        keymap_path: None,
        no_color: false,
        title: "vigil test".into(),
    };
    let (mut app, effects) = App::new(handle, &opts, t(12, 0));
    app.settle(effects).await;
    let e = app.update(vigil::tui::state::Msg::Resize(w, h));
    app.settle(e).await;
    app
}

pub fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

pub fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

pub async fn keys(app: &mut App, s: &str) {
    for c in s.chars() {
        app.press(key(c)).await;
    }
}

pub fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| app.draw(f)).expect("draw");
    term
}
