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
        ..Default::default()
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

/// The screen as one string per row.
pub fn screen_rows(term: &Terminal<TestBackend>) -> Vec<String> {
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

pub fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| app.draw(f)).expect("draw");
    term
}

/// Five integrations for the outbound tests, in this order: a healthy Slack, a failing webhook, a Teams one
/// an operator disabled, a Jira one with dead letters, and an audit forwarder (which takes no alerts).
/// Literal URLs with secret parts, so the tests can check that none of it is shown.
pub const INTEGRATIONS: &str = r#"
[[integrations]]
name = "secops-slack"
kind = "slack"
url = "https://hooks.slack.com/services/T0/B0/slacksecret"
min_severity = "critical"

[[integrations]]
name = "siem"
kind = "webhook"
url = "https://siem.example.com/hooks/vigil?token=hooksecret"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

[[integrations]]
name = "teams-sec"
kind = "teams"
url = "https://acme.webhook.office.com/workflows/teamsecret"

[[integrations]]
name = "jira-sec"
kind = "jira"
url = "https://acme.atlassian.net"
user = "bot@example.com"
token = "jira-literal-token-5678"
project = "SEC"

[[integrations]]
name = "soc-forward"
kind = "audit_forward"
url = "https://splunk.example.com:8088"
token = "hec-literal-token-1234"
"#;

/// An attempt at `at`: a success when `error` is empty.
pub fn attempt(
    at: DateTime<Utc>,
    status: Option<u16>,
    ms: u64,
    error: &str,
) -> vigil::model::Attempt {
    vigil::model::Attempt {
        at,
        status,
        latency_ms: ms,
        error: error.into(),
    }
}

/// A delivery of alert `n` (or a test, with `None`) created at `created`, with its attempts recorded.
pub fn delivery(
    integration: &str,
    n: Option<u64>,
    event: vigil::model::DeliveryEvent,
    created: DateTime<Utc>,
    state: vigil::model::DeliveryState,
    attempts: Vec<vigil::model::Attempt>,
) -> vigil::model::Delivery {
    let mut d = vigil::model::Delivery::new(integration, n.map(id), event, created);
    for a in attempts {
        d.record(a);
    }
    d.state = state;
    d
}

/// The seeded store of [`engine`] with the [`INTEGRATIONS`] configured and a history: each integration's
/// health and recent attempts, alert #5 sent to four of them (Jira created SEC-42), two Jira dead letters
/// (#3, #4), and two deliveries waiting for the failing webhook (#5, #2). Returns the store too, so tests
/// can check what the keys wrote.
pub fn outbound_engine() -> (tempfile::TempDir, EngineHandle, Store) {
    use vigil::model::{DeliveryEvent as Ev, DeliveryState as St, IntegrationHealth};
    let config = vigil::config::parse(INTEGRATIONS, std::path::Path::new("vigil.toml"))
        .expect("integrations config");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    store.insert_events(&events()).expect("events");
    store.save_alerts(&alerts()).expect("alerts");
    store
        .modify_alerts(&[id(5)], |a| {
            a.external.insert("jira-sec".into(), "SEC-42".into());
            Ok(true)
        })
        .expect("external key");

    let health = |recent: Vec<vigil::model::Attempt>, delivered: u64| IntegrationHealth {
        failing_since: None,
        disabled: None,
        recent,
        delivered,
    };
    let ok = |h: u32, m: u32, code: u16, ms: u64| attempt(t(h, m), Some(code), ms, "");
    store
        .put_integration_health(
            "secops-slack",
            &health(
                vec![ok(9, 30, 200, 110), ok(9, 35, 200, 95), ok(10, 5, 200, 120)],
                42,
            ),
        )
        .expect("health");
    let siem_fail = vec![
        attempt(t(9, 40), Some(500), 230, "HTTP 500 Internal Server Error"),
        attempt(t(9, 45), None, 15_000, "timed out"),
    ];
    let mut siem = health(vec![ok(9, 30, 200, 80)], 7);
    siem.recent.extend(siem_fail.clone());
    siem.failing_since = Some(t(9, 40));
    store.put_integration_health("siem", &siem).expect("health");
    let mut teams = health(vec![ok(9, 20, 202, 300)], 3);
    teams.disabled = Some("disabled by ana at 2026-11-02 09:50:00Z".into());
    store
        .put_integration_health("teams-sec", &teams)
        .expect("health");
    let bad_request = attempt(t(9, 20), Some(400), 150, "HTTP 400 Bad Request");
    store
        .put_integration_health(
            "jira-sec",
            // The receiver refused two alerts (dead letters), then was fixed: healthy, with letters to replay.
            &health(
                vec![
                    ok(9, 10, 201, 340),
                    bad_request.clone(),
                    ok(9, 25, 201, 310),
                ],
                2,
            ),
        )
        .expect("health");

    let mut jira = delivery(
        "jira-sec",
        Some(5),
        Ev::Manual,
        t(9, 9),
        St::Delivered,
        vec![ok(9, 10, 201, 340)],
    );
    jira.external = Some("SEC-42".into());
    let mut siem_wait = delivery(
        "siem",
        Some(5),
        Ev::Created,
        t(9, 11),
        St::Pending,
        siem_fail,
    );
    siem_wait.due = t(10, 15);
    let mut teams_wait = delivery(
        "teams-sec",
        Some(5),
        Ev::Created,
        t(9, 12),
        St::Pending,
        vec![],
    );
    teams_wait.due = t(9, 51);
    let mut siem_wait_2 = delivery("siem", Some(2), Ev::Created, t(9, 13), St::Pending, vec![]);
    siem_wait_2.due = t(10, 15);
    store
        .enqueue(&[
            jira,
            delivery(
                "secops-slack",
                Some(5),
                Ev::Created,
                t(9, 10),
                St::Delivered,
                vec![ok(9, 35, 200, 95)],
            ),
            siem_wait,
            teams_wait,
            siem_wait_2,
            delivery(
                "jira-sec",
                Some(4),
                Ev::Created,
                t(9, 14),
                St::Dead,
                vec![bad_request.clone()],
            ),
            delivery(
                "jira-sec",
                Some(3),
                Ev::Created,
                t(9, 15),
                St::Dead,
                vec![bad_request],
            ),
        ])
        .expect("deliveries");
    store.flush().expect("flush");
    let handle = EngineHandle::new(store.clone(), Tuning::default(), config.integrations, None)
        .expect("handle");
    (dir, handle, store)
}
