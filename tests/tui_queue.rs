//! The queue as an analyst sees it: new alerts arriving in sight, `G` ending on the pane's last line, the
//! ASSIGNEE column and the "mine" view, cut cells marked with an ellipsis, the position indicator, the empty
//! store, and the bytes one `j` costs. Keys drive the real app over a seeded store; the screen is checked.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod tui_support;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tui_support::*;
use vigil::detect::tuning::Tuning;
use vigil::engine::{Change, EngineHandle};
use vigil::model::{Alert, AuditEvent};
use vigil::store::Store;
use vigil::tui::App;
use vigil::tui::state::Msg;

/// Alert `n` of a long queue: a medium failed-login alert for Bob, created `n` minutes after 08:00.
fn numbered(n: u64) -> Alert {
    let mut a = alerts()[1].clone();
    a.id = id(n);
    a.title = format!("Alert {n}");
    a.created = t(8, 0) + chrono::Duration::minutes(n as i64);
    a.time_start = a.created;
    a.group_key = format!("failed-login-burst|acc-Bob|{n}");
    a.evidence = vec![format!("ev-{n}")];
    a
}

/// Event `n` of a long timeline for Ana, `n` seconds after 08:00.
fn event(n: i64) -> AuditEvent {
    let mut e = events()[0].clone();
    e.id = format!("evt-{n}");
    e.time = t(8, 0) + chrono::Duration::seconds(n);
    if let Some(c) = e.content.as_mut() {
        c.title = Some(format!("Event page {n}"));
    }
    e
}

/// A store holding `alerts` and `events`, a handle over it, and the store itself (to add alerts later).
fn engine_with(
    alerts: &[Alert],
    events: &[AuditEvent],
) -> (tempfile::TempDir, EngineHandle, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    store.insert_events(events).expect("events");
    store.save_alerts(alerts).expect("alerts");
    store.flush().expect("flush");
    let handle = EngineHandle::new(store.clone(), Tuning::default(), vec![], None).expect("handle");
    (dir, handle, store)
}

/// The screen as one string per line.
fn lines(term: &Terminal<TestBackend>) -> Vec<String> {
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            line
        })
        .collect()
}

fn screen(app: &App, w: u16, h: u16) -> Vec<String> {
    lines(&render(app, w, h))
}

/// The header's first line (the figures, and "N new").
fn header(app: &App) -> String {
    screen(app, app.state.width, app.state.height)[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_g_the_last_row_sits_on_the_pane_s_last_line() {
    let many: Vec<Alert> = (1..=60).map(numbered).collect();
    let evs: Vec<AuditEvent> = (0..80).map(event).collect();
    for (w, h) in [(80, 24), (120, 40)] {
        let (_dir, handle, _store) = engine_with(&many, &evs);
        let mut queue = app(handle, w, h).await;
        keys(&mut queue, "G").await;
        let rows = screen(&queue, w, h);
        // Footer on the last line, the bottom border above it: the last table line is the one above that.
        let last = &rows[usize::from(h) - 3];
        assert!(
            last.contains("Alert 1 "),
            "{w}x{h}: the oldest alert is on the pane's last line:\n{}",
            rows.join("\n")
        );
        keys(&mut queue, "k").await;
        let rows = screen(&queue, w, h);
        assert!(
            rows[usize::from(h) - 3].contains("Alert 1 "),
            "{w}x{h}: k from the last row does not scroll:\n{}",
            rows.join("\n")
        );

        // The timeline of an alert of Ana's (events every second from 08:00): G ends on the last line too.
        let (_dir, handle, _store) = engine_with(&alerts(), &evs);
        let mut timeline = app(handle, w, h).await;
        keys(&mut timeline, "jjjj3G").await;
        let rows = screen(&timeline, w, h);
        let inside = |line: &str| {
            line.chars()
                .skip(1)
                .take(usize::from(w) - 2)
                .collect::<String>()
        };
        assert!(
            !inside(&rows[usize::from(h) - 3]).trim().is_empty(),
            "{w}x{h}: the timeline's last row is on the pane's last line:\n{}",
            rows.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_alerts_appear_above_the_cursor_and_are_seen_by_scrolling_up() {
    let (w, h) = (80, 24);
    let (_dir, handle, store) = engine_with(&(1..=5).map(numbered).collect::<Vec<_>>(), &[]);
    let mut app = app(handle, w, h).await;
    keys(&mut app, "j").await;
    assert_eq!(app.state.queue.selected_alert().map(|a| a.id), Some(id(4)));

    // Two alerts raised live: newer than everything, so they sort above the cursor.
    let raise = |store: &Store, ns: &[u64]| {
        let fresh: Vec<Alert> = ns.iter().map(|n| numbered(*n)).collect();
        store.save_alerts(&fresh).expect("save");
        Change::AlertsChanged {
            ids: fresh.iter().map(|a| a.id).collect(),
            raised: fresh.len(),
        }
    };
    let e = app.update(Msg::Change(raise(&store, &[6, 7])));
    app.settle(e).await;
    let rows = screen(&app, w, h);
    let text = rows.join("\n");
    assert!(
        text.contains("Alert 7") && text.contains("Alert 6"),
        "the new rows are on screen:\n{text}"
    );
    assert_eq!(app.state.queue.offset, 0, "the view stays at the top");
    assert_eq!(
        app.state.queue.selected_alert().map(|a| a.id),
        Some(id(4)),
        "the cursor stays on its alert"
    );
    assert!(header(&app).contains("2 new"), "{}", header(&app));
    // Passing the new rows counts them as seen: one above the cursor, then none.
    keys(&mut app, "k").await;
    assert!(header(&app).contains("2 new"), "{}", header(&app));
    keys(&mut app, "k").await;
    assert!(header(&app).contains("1 new"), "{}", header(&app));
    keys(&mut app, "k").await;
    assert!(!header(&app).contains("new"), "{}", header(&app));

    // `gg` clears the count at once.
    keys(&mut app, "jjj").await;
    let e = app.update(Msg::Change(raise(&store, &[8])));
    app.settle(e).await;
    assert!(header(&app).contains("1 new"), "{}", header(&app));
    keys(&mut app, "j").await;
    assert!(header(&app).contains("1 new"), "moving down sees nothing");
    keys(&mut app, "gg").await;
    assert!(!header(&app).contains("new"), "{}", header(&app));
    assert_eq!(app.state.queue.selected_alert().map(|a| a.id), Some(id(8)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_top_the_view_scrolls_only_to_keep_the_cursor_on_screen() {
    let (w, h) = (80, 24);
    let (_dir, handle, store) = engine_with(&(1..=40).map(numbered).collect::<Vec<_>>(), &[]);
    let mut app = app(handle, w, h).await;
    let view = app.state.view_rows(vigil::tui::state::Pane::Queue);
    // The cursor on the screen's last row: three new rows push it down, the view follows by three.
    for _ in 1..view {
        keys(&mut app, "j").await;
    }
    let on = app.state.queue.selected_alert().map(|a| a.id);
    assert_eq!(app.state.queue.offset, 0);
    let fresh: Vec<Alert> = (41..=43).map(numbered).collect();
    store.save_alerts(&fresh).expect("save");
    let e = app.update(Msg::Change(Change::AlertsChanged {
        ids: fresh.iter().map(|a| a.id).collect(),
        raised: 3,
    }));
    app.settle(e).await;
    assert_eq!(app.state.queue.selected_alert().map(|a| a.id), on);
    assert_eq!(app.state.queue.offset, 3);
    let rows = screen(&app, w, h);
    let title = app.state.queue.selected_alert().unwrap().title.clone();
    assert!(
        rows[usize::from(h) - 3].contains(&format!("{title} ")),
        "the cursor's alert is still on screen, on the last line:\n{}",
        rows.join("\n")
    );
}
