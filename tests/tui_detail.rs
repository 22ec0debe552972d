//! The alert detail an analyst decides from: the activity in words, the evidence listed (threshold events
//! marked), a crawl's spaces, a login's baseline, an impossible journey's distance and speed, the links (and
//! `y` copying them), the scroll stopping at the end, and the event view the timeline opens. Snapshots at
//! 80x24 and 120x40 over a store built here.
#![allow(clippy::unwrap_used)] // a test that cannot go on should stop loudly

mod tui_support;

use chrono::Duration;
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tui_support::{code, key, screen_rows, t};
use vigil::detect::tuning::Tuning;
use vigil::engine::EngineHandle;
use vigil::model::{
    Actor, Alert, AlertActor, AlertStatus, AuditEvent, Content, ContentMatch, DetectionId, Entity,
    Location, Severity,
};
use vigil::store::Store;
use vigil::tui::action::Action;
use vigil::tui::state::{Msg, Pane};
use vigil::tui::{App, UiOptions};

const ORG: &str = "org-7f3c";

fn person(id: &str, name: &str) -> Actor {
    Actor {
        id: id.into(),
        name: Some(name.into()),
        email: Some(format!(
            "{}@example.com",
            name.split(' ').next().unwrap().to_lowercase()
        )),
        ..Actor::default()
    }
}

fn site() -> Entity {
    Entity {
        id: Some("site-1".into()),
        kind: Some("sites".into()),
        attributes: serde_json::from_value(serde_json::json!({
            "siteHostName": "https://acme.atlassian.net", "siteName": "acme"
        }))
        .unwrap(),
    }
}

fn event(id: String, at: chrono::DateTime<chrono::Utc>, action: &str, actor: &Actor) -> AuditEvent {
    AuditEvent {
        id,
        time: at,
        action: action.into(),
        actor: actor.clone(),
        context: Vec::new(),
        container: vec![site()],
        location: Some(Location {
            ip: Some("203.0.113.7".into()),
            country_name: Some("Australia".into()),
            ..Location::default()
        }),
        content: None,
        message: None,
        extra: Default::default(),
        secrets: Vec::new(),
    }
}

fn alert(
    n: u64,
    det: &str,
    title: &str,
    actor: &Actor,
    at: chrono::DateTime<chrono::Utc>,
) -> Alert {
    Alert {
        id: ulid::Ulid::from_parts(at.timestamp_millis() as u64, u128::from(n)),
        detection: DetectionId(det.into()),
        title: title.into(),
        severity: Severity::High,
        status: AlertStatus::Open,
        assignee: None,
        created: at,
        time_start: at,
        time_end: None,
        product: Some("confluence".into()),
        site: Some("acme".into()),
        actor: AlertActor {
            id: actor.id.clone(),
            name: actor.name.clone(),
            email: actor.email.clone(),
            ip: Some("203.0.113.7".into()),
            country: Some("Australia".into()),
        },
        subject: None,
        count: 1,
        description: "Why this detection matters.".into(),
        investigation_steps: vec!["Ask the actor.".into()],
        remediation: vec!["Revoke the session.".into()],
        evidence: Vec::new(),
        matches: Vec::new(),
        notes: Vec::new(),
        history: Vec::new(),
        version: 1,
        external: Default::default(),
        window_secs: None,
        threshold: None,
        group_key: format!("{det}|{}", actor.id),
    }
}

/// Four alerts with their evidence in the store: a crawl of 30 pages over three spaces (threshold 25,
/// five later views grew it), a login from a new country with two earlier countries, impossible travel
/// between Sydney and London, and a leaked key in a page with its URL. Names are CJK and emoji.
fn fixture() -> (Vec<AuditEvent>, Vec<Alert>) {
    let ana = person("acc-ana", "Ana 李小龍");
    let bo = person("acc-bo", "Bo 🦊 Berg");
    let mut events = Vec::new();
    let mut alerts = Vec::new();

    // Crawl: 08:00 … 08:29, one page a minute, spaces OPS ×15, HR ×10, ENG ×5.
    let start = t(8, 0);
    let mut crawl = alert(
        1,
        "page-crawling",
        "Page crawling",
        &ana,
        start + Duration::minutes(24),
    );
    for i in 0..30i64 {
        let space = match i % 6 {
            0..=2 => "OPS",
            3 | 4 => "HR",
            _ => "ENG",
        };
        let mut e = event(
            format!("crawl-{i:02}"),
            start + Duration::minutes(i),
            "page_viewed",
            &ana,
        );
        e.content = Some(Content {
            object_type: Some("page".into()),
            object_id: Some(format!("{}", 1000 + i)),
            title: Some(if i % 10 == 0 {
                "Salaries 2026".into()
            } else {
                format!("Page {i}")
            }),
            container_key: Some(space.into()),
            product: Some("confluence".into()),
            url: Some(format!(
                "https://acme.atlassian.net/wiki/spaces/{space}/pages/{}",
                1000 + i
            )),
            ..Content::default()
        });
        crawl.evidence.push(e.id.clone());
        events.push(e);
    }
    crawl.time_start = start;
    crawl.time_end = Some(start + Duration::minutes(29));
    crawl.count = 30;
    crawl.window_secs = Some(1800);
    crawl.threshold = Some(25);
    crawl.severity = Severity::Medium;
    alerts.push(crawl);

    // Login baseline: France ×3 (last 09-20), Germany ×2 (last 10-30); then Brazil.
    let login_at = t(10, 0);
    for (i, (country, days)) in [
        ("France", 60),
        ("Germany", 40),
        ("France", 50),
        ("Germany", 3),
        ("France", 43),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = event(
            format!("login-{i}"),
            login_at - Duration::days(days),
            "user_login",
            &bo,
        );
        e.location.as_mut().unwrap().country_name = Some(country.into());
        events.push(e);
    }
    let mut new = event("login-new".into(), login_at, "user_login", &bo);
    new.location = Some(Location {
        ip: Some("198.51.100.9".into()),
        country_name: Some("Brazil".into()),
        city: Some("São Paulo".into()),
        ..Location::default()
    });
    events.push(new);
    // Half an hour later Bo reads a page: in the timeline, evidence of nothing.
    let mut read = event(
        "bo-read".into(),
        login_at + Duration::minutes(30),
        "page_viewed",
        &bo,
    );
    read.content = Some(Content {
        title: Some("Team handbook".into()),
        ..Content::default()
    });
    events.push(read);
    let mut login = alert(
        2,
        "login-new-country",
        "Login from a new country",
        &bo,
        login_at,
    );
    login.actor.country = Some("Brazil".into());
    login.actor.ip = Some("198.51.100.9".into());
    login.subject = Some("Brazil (São Paulo)".into());
    login.evidence = vec!["login-new".into()];
    login.severity = Severity::Medium;
    alerts.push(login);

    // Impossible travel: Sydney 11:00, London 12:00.
    let mut a = event("trip-a".into(), t(11, 0), "user_login", &ana);
    a.location = Some(Location {
        ip: Some("203.0.113.7".into()),
        geo: Some("-33.87,151.21".into()),
        country_name: Some("Australia".into()),
        city: Some("Sydney".into()),
        ..Location::default()
    });
    let mut b = event("trip-b".into(), t(12, 0), "user_login", &ana);
    b.location = Some(Location {
        ip: Some("192.0.2.44".into()),
        geo: Some("51.51,-0.13".into()),
        country_name: Some("United Kingdom".into()),
        city: Some("London".into()),
        ..Location::default()
    });
    events.extend([a, b]);
    let mut travel = alert(3, "impossible-travel", "Impossible travel", &ana, t(12, 0));
    travel.time_start = t(11, 0);
    travel.time_end = Some(t(12, 0));
    travel.evidence = vec!["trip-a".into(), "trip-b".into()];
    travel.subject = Some("Sydney, Australia → London, United Kingdom: 16994 km in 1 h".into());
    alerts.push(travel);

    // A leaked key in a page.
    let mut leak = event("leak-1".into(), t(13, 0), "page_updated", &bo);
    leak.content = Some(Content {
        object_type: Some("page".into()),
        object_id: Some("98231".into()),
        title: Some("Deploy notes".into()),
        container_key: Some("OPS".into()),
        product: Some("confluence".into()),
        url: Some("https://acme.atlassian.net/wiki/spaces/OPS/pages/98231".into()),
        body: Some("key AKIA…[aws-access-key-id, 20 chars]".into()),
    });
    events.push(leak);
    let mut content = alert(
        4,
        "sensitive-content",
        "Credentials in content",
        &bo,
        t(13, 0),
    );
    content.subject = Some("Deploy notes".into());
    content.evidence = vec!["leak-1".into()];
    content.matches = vec![ContentMatch {
        kind: "aws-access-key-id".into(),
        redacted: "AKIA…[aws-access-key-id, 20 chars]".into(),
        fingerprint: "3f9a0c1d2e".into(),
        field: "body".into(),
    }];
    alerts.push(content);
    (events, alerts)
}

fn engine() -> (tempfile::TempDir, EngineHandle) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (events, alerts) = fixture();
    store.insert_events(&events).unwrap();
    store.save_alerts(&alerts).unwrap();
    store.flush().unwrap();
    let handle = EngineHandle::new(store, Tuning::default(), vec![], None).unwrap();
    (dir, handle)
}

/// An app at `w`x`h` with the detail of the alert with `detection` open (alone on screen).
async fn detail_of(detection: &str, w: u16, h: u16) -> (tempfile::TempDir, App) {
    let (dir, handle) = engine();
    let opts = UiOptions {
        user: "tester".into(),
        title: "vigil test".into(),
        org_id: Some(ORG.into()),
        ..Default::default()
    };
    let (mut app, e) = App::new(handle, &opts, t(14, 0));
    app.settle(e).await;
    let e = app.update(Msg::Resize(w, h));
    app.settle(e).await;
    for _ in 0..10 {
        if app
            .state
            .current_alert()
            .is_some_and(|a| a.detection.as_str() == detection)
        {
            break;
        }
        app.press(key('j')).await;
    }
    assert_eq!(
        app.state.current_alert().map(|a| a.detection.as_str()),
        Some(detection)
    );
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.pane, Pane::Detail);
    draw(&mut app, w, h);
    (dir, app)
}

/// Draw as the app loop does (the detail's measured height goes back to the state).
fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut info = None;
    term.draw(|f| info = Some(app.draw_measured(f))).unwrap();
    if let Some((rows, view)) = info.and_then(|i| i.detail) {
        app.state.set_detail_layout(rows, view);
    }
    term
}

/// The detail's text as it reads: the right-most pane's part of each row, trimmed, joined by spaces (so a
/// sentence wrapped at 52 or 78 columns reads the same).
fn flow(term: &Terminal<TestBackend>) -> String {
    let mut out = String::new();
    for row in screen_rows(term) {
        let chars: Vec<char> = row.chars().collect();
        // The detail is the last bordered pane on the row: from its left border to its right one.
        let right = chars.iter().rposition(|c| matches!(c, '┃' | '│'));
        let left = right.and_then(|r| chars[..r].iter().rposition(|c| matches!(c, '┃' | '│')));
        if let (Some(l), Some(r)) = (left, right) {
            let inner: String = chars[l + 1..r].iter().collect();
            out.push_str(inner.trim());
            out.push(' ');
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Scroll the detail until the line holding `text` is at the top, or as far as it goes with `text` on
/// screen; the screen then.
async fn scroll_to(app: &mut App, w: u16, h: u16, text: &str) -> Terminal<TestBackend> {
    for _ in 0..200 {
        let term = draw(app, w, h);
        let screen = screen_rows(&term);
        // Row 3 is the detail's first line (header, tabs, top border).
        let at_end = app.state.detail.scroll >= app.state.detail.max_scroll();
        if screen[3].contains(text) || (at_end && screen.iter().any(|r| r.contains(text))) {
            return term;
        }
        app.press(key('j')).await;
    }
    panic!("{text} never reached the top of the detail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawl_detail_lists_the_evidence_marks_the_threshold_and_counts_spaces() {
    for (w, h) in [(80, 24), (120, 40)] {
        let (_dir, mut app) = detail_of("page-crawling", w, h).await;
        let top = draw(&mut app, w, h);
        let text = flow(&top);
        assert!(
            text.contains("page_viewed on 'Page 24' in space OPS"),
            "{text}"
        );
        assert!(
            text.contains("30 activities counted; it fires at 25 within 30 min"),
            "{text}"
        );
        insta::assert_snapshot!(format!("crawl_top_{w}x{h}"), top.backend());
        let ev = scroll_to(&mut app, w, h, "Evidence (30 events)").await;
        let text = flow(&ev);
        assert!(
            text.contains("where: space OPS (15) · space HR (10) · space ENG (5)"),
            "{text}"
        );
        assert!(text.contains("'Salaries 2026' (3)"), "{text}");
        assert!(
            text.contains("● 08:00:00 page_viewed 'Salaries 2026' OPS"),
            "{text}"
        );
        insta::assert_snapshot!(format!("crawl_evidence_{w}x{h}"), ev.backend());
        // Views after the alert fired (08:24) grew it but did not make the threshold.
        let all = screen_rows(&scroll_to(&mut app, w, h, "08:25:00").await);
        let line = |t: &str| {
            all.iter()
                .find(|r| r.contains(t))
                .cloned()
                .unwrap_or_default()
        };
        assert!(line("08:24:00").contains("● 08:24:00"), "{all:?}");
        assert!(line("08:25:00").contains("  08:25:00"), "{all:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_detail_compares_with_the_countries_seen_before() {
    for (w, h) in [(80, 24), (120, 40)] {
        let (_dir, mut app) = detail_of("login-new-country", w, h).await;
        let ev = scroll_to(&mut app, w, h, "Evidence (1 event)").await;
        let text = flow(&ev);
        assert!(
            text.contains("seen before (90 days): Germany (2 logins, last 2026-10-30)"),
            "{text}"
        );
        assert!(
            text.contains("France (3 logins, last 2026-09-20)"),
            "{text}"
        );
        assert!(text.contains("this login: Brazil — new"), "{text}");
        insta::assert_snapshot!(format!("login_evidence_{w}x{h}"), ev.backend());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn travel_detail_shows_both_logins_the_distance_and_the_speed() {
    let (_dir, mut app) = detail_of("impossible-travel", 120, 40).await;
    let ev = scroll_to(&mut app, 120, 40, "Evidence (2 events)").await;
    let text = flow(&ev);
    assert!(
        text.contains("11-02 11:00 Sydney, Australia (203.0.113.7) → 11-02 12:00 London, United Kingdom (192.0.2.44): 16994 km in 1 h = 16994 km/h"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_detail_links_the_page_the_site_and_the_admin_page_and_y_copies_them() {
    for (w, h) in [(80, 24), (120, 40)] {
        let (_dir, mut app) = detail_of("sensitive-content", w, h).await;
        let term = draw(&mut app, w, h);
        let text = flow(&term);
        assert!(
            text.contains("page_updated on 'Deploy notes' in space OPS"),
            "{text}"
        );
        insta::assert_snapshot!(format!("content_top_{w}x{h}"), term.backend());
        let links = scroll_to(&mut app, w, h, "Links (y copies)").await;
        let text = flow(&links);
        assert!(
            text.contains("1 content https://acme.atlassian.net/wiki/spac"),
            "{text}"
        );
        assert!(text.contains("2 site https://acme.atlassian.net"), "{text}");
        assert!(
            text.contains("3 admin page https://admin.atlassian.com/o/org-7f"),
            "{text}"
        );
        // y offers the id and each link; 1 copies the page's URL whole (the screen may cut it).
        app.press(key('y')).await;
        assert!(app.copied.is_empty(), "y alone copies nothing yet");
        app.press(key('1')).await;
        assert_eq!(
            app.copied.last().map(String::as_str),
            Some("https://acme.atlassian.net/wiki/spaces/OPS/pages/98231")
        );
        app.press(key('y')).await;
        app.press(key('3')).await;
        assert_eq!(
            app.copied.last().map(String::as_str),
            Some("https://admin.atlassian.com/o/org-7f3c/users/acc-bo")
        );
        // Any other key closes the menu and is not taken as a command.
        app.press(key('y')).await;
        app.press(key('a')).await;
        assert_eq!(app.state.current_alert().unwrap().status, AlertStatus::Open);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_links_on_screen_are_reported_for_hyperlinks() {
    let (_dir, mut app) = detail_of("sensitive-content", 120, 40).await;
    scroll_to(&mut app, 120, 40, "Links (y copies)").await;
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mut info = None;
    term.draw(|f| info = Some(app.draw_measured(f))).unwrap();
    let info = info.unwrap();
    let content = info
        .links
        .iter()
        .find(|l| l.url.ends_with("/pages/98231"))
        .expect("the content link is on screen");
    let buf = term.backend().buffer();
    let shown: String = (content.x..content.x + content.width)
        .map(|x| buf[(x, content.y)].symbol().to_string())
        .collect();
    assert!(
        shown.starts_with("https://acme.atlassian.net/wiki/spac"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_stops_at_the_last_line_and_k_moves_back_at_once() {
    for (w, h) in [(80, 24), (120, 40)] {
        let (_dir, mut app) = detail_of("page-crawling", w, h).await;
        app.update(Msg::Action(Action::LastRow));
        let term = draw(&mut app, w, h);
        let screen = screen_rows(&term);
        // The pane's last row (above its border and the footer) holds the detail's last line.
        assert!(
            screen[usize::from(h) - 3].contains("(not sent anywhere)"),
            "{w}x{h}:\n{}",
            screen.join("\n")
        );
        let bottom = app.state.detail.scroll;
        app.update(Msg::Action(Action::PrevRow));
        assert_eq!(
            app.state.detail.scroll,
            bottom - 1,
            "one k after G scrolls at once"
        );
        app.update(Msg::Action(Action::LastRow));
        app.update(Msg::Action(Action::LastRow));
        assert_eq!(app.state.detail.scroll, bottom);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enter_on_any_timeline_event_opens_its_fields() {
    let (_dir, mut app) = detail_of("login-new-country", 120, 40).await;
    app.press(key('3')).await;
    assert_eq!(app.state.pane, Pane::Timeline);
    // Rows: the new login (evidence), its alert, Bo reading a page (evidence of nothing), …
    app.press(code(KeyCode::Home)).await;
    app.press(key('j')).await;
    app.press(key('j')).await;
    app.press(code(KeyCode::Enter)).await;
    let view = app.state.event_view.as_ref().expect("event view open");
    assert!(view.alert.is_none());
    let term = draw(&mut app, 120, 40);
    let text = screen_rows(&term).join("\n");
    assert!(text.contains("action"), "{text}");
    assert!(text.contains("page_viewed"), "{text}");
    assert!(
        text.contains("container[0].attributes.siteHostName"),
        "{text}"
    );
    assert!(text.contains("content.title"), "{text}");
    assert!(text.contains("Team handbook"), "{text}");
    assert!(text.contains("not evidence of an alert"), "{text}");
    // Esc closes it; q closes it too, and does not quit.
    app.press(key('q')).await;
    assert!(app.state.event_view.is_none());
    assert!(!app.quit);
    // The evidence login leads on to its alert.
    app.press(code(KeyCode::Home)).await;
    app.press(code(KeyCode::Enter)).await;
    let view = app.state.event_view.as_ref().expect("event view open");
    assert_eq!(view.event.id, "login-new");
    assert!(view.alert.is_some());
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.pane, Pane::Detail);
    assert_eq!(
        app.state.current_alert().map(|a| a.detection.as_str()),
        Some("login-new-country")
    );
}

/// Moving through the queue beside the detail reads no 90-day baseline (it reads the actor's whole quarter
/// on every `j`); the detail taking the focus reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baseline_is_read_when_the_detail_has_the_focus() {
    let (_dir, handle) = engine();
    let opts = UiOptions {
        user: "tester".into(),
        ..Default::default()
    };
    let (mut app, e) = App::new(handle, &opts, t(14, 0));
    app.settle(e).await;
    let e = app.update(Msg::Resize(120, 40));
    app.settle(e).await;
    for _ in 0..10 {
        if app
            .state
            .current_alert()
            .is_some_and(|a| a.detection.as_str() == "login-new-country")
        {
            break;
        }
        app.press(key('j')).await;
    }
    let id = app.state.current_alert().unwrap().id;
    let ev = app.state.detail.evidence_of(id).unwrap().as_ref().unwrap();
    assert!(!ev.baseline_read && ev.baseline.is_empty());
    let text = flow(&draw(&mut app, 120, 40));
    assert!(
        text.contains("Enter opens the detail with the logins of the last 90 days"),
        "{text}"
    );
    app.press(code(KeyCode::Enter)).await;
    let ev = app.state.detail.evidence_of(id).unwrap().as_ref().unwrap();
    assert!(ev.baseline_read);
    assert_eq!(ev.baseline.len(), 2);
}
