//! Keys drive the real app (keymap → state → effects → engine) against a seeded store; the store is checked.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod tui_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tui_support::*;
use vigil::detect::tuning::ExclusionKind;
use vigil::engine::Change;
use vigil::model::AlertStatus;
use vigil::tui::App;
use vigil::tui::action::Action;
use vigil::tui::backend::CompactBackend;
use vigil::tui::state::{Effect, Msg};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn j_j_enter_a_acknowledges_the_third_row_with_history() {
    let (_dir, handle) = engine();
    let mut app = app(handle.clone(), 80, 24).await;
    // Newest first: rows are #5, #4, #3 …; j j selects #3.
    keys(&mut app, "jj").await;
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.pane, vigil::tui::state::Pane::Detail);
    keys(&mut app, "a").await;
    let a = handle.alert(id(3)).await.unwrap().unwrap();
    assert_eq!(a.status, AlertStatus::Acknowledged);
    assert_eq!(a.version, 2, "version bumped");
    let h = a.history.last().expect("history entry");
    assert_eq!(h.who, "tester");
    assert!(h.what.contains("acknowledged"), "{}", h.what);
    assert!(app.state.message.as_ref().is_some_and(|m| !m.error));
    // The queue picked the change up through the feed.
    assert!(
        app.state
            .queue
            .rows
            .iter()
            .any(|r| r.id == id(3) && r.status == AlertStatus::Acknowledged)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn space_select_two_then_e_marks_both_expected() {
    let (_dir, handle) = engine();
    let mut app = app(handle.clone(), 120, 40).await;
    keys(&mut app, "  e").await;
    for n in [5, 4] {
        let a = handle.alert(id(n)).await.unwrap().unwrap();
        assert_eq!(a.status, AlertStatus::Expected, "alert {n}");
    }
    assert_eq!(
        handle.alert(id(3)).await.unwrap().unwrap().status,
        AlertStatus::Open
    );
    assert!(app.state.queue.marked.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_filter_applies_on_enter() {
    let (_dir, handle) = engine();
    handle
        .execute(vigil::engine::Command::SetStatus {
            ids: vec![id(1), id(2)],
            status: AlertStatus::Expected,
            who: "x".into(),
        })
        .await
        .unwrap();
    let mut app = app(handle.clone(), 80, 24).await;
    assert_eq!(app.state.queue.rows.len(), 5);
    keys(&mut app, "/status:open").await;
    assert_eq!(app.state.mode(), vigil::tui::state::Mode::Filter);
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.mode(), vigil::tui::state::Mode::Normal);
    assert_eq!(app.state.queue.filter_text, "status:open");
    assert_eq!(app.state.queue.filter.statuses, vec![AlertStatus::Open]);
    assert_eq!(
        app.state.queue.rows.len(),
        3,
        "two of the five alerts were triaged above"
    );
    assert!(
        app.state
            .queue
            .rows
            .iter()
            .all(|a| a.status == AlertStatus::Open)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclude_actor_from_an_alert_reaches_the_detection() {
    let (_dir, handle) = engine();
    let mut app = app(handle.clone(), 80, 24).await;
    // Row 5 (last) is #1, page-crawling by Ana.
    keys(&mut app, "G").await;
    assert_eq!(app.state.queue.selected_alert().map(|a| a.id), Some(id(1)));
    let effects = app.update(vigil::tui::state::Msg::Action(
        vigil::tui::action::Action::ExcludeActor,
    ));
    app.settle(effects).await;
    assert_eq!(app.state.mode(), vigil::tui::state::Mode::Input);
    keys(&mut app, "2027-01-31").await;
    app.press(code(KeyCode::Enter)).await;
    let det = handle
        .detections()
        .into_iter()
        .find(|d| d.id == "page-crawling")
        .unwrap();
    let ex = det.settings.exclusions.first().expect("exclusion stored");
    assert_eq!(ex.kind, ExclusionKind::Actor);
    assert_eq!(ex.value, "acc-Ana");
    assert!(ex.until.is_some());
    // The detections pane shows it too (TuningChanged → reload).
    let shown = app
        .state
        .detections
        .items
        .iter()
        .find(|d| d.id == "page-crawling")
        .unwrap();
    assert_eq!(shown.settings.exclusions.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn note_editor_saves_with_ctrl_s_and_copy_id_uses_the_clipboard() {
    let (_dir, handle) = engine();
    let mut app = app(handle.clone(), 80, 24).await;
    keys(&mut app, "n").await;
    assert_eq!(app.state.mode(), vigil::tui::state::Mode::Note);
    keys(&mut app, "line one").await;
    app.press(code(KeyCode::Enter)).await;
    keys(&mut app, "line two").await;
    app.press(crossterm::event::KeyEvent::new(
        KeyCode::Char('s'),
        crossterm::event::KeyModifiers::CONTROL,
    ))
    .await;
    let a = handle.alert(id(5)).await.unwrap().unwrap();
    assert_eq!(
        a.notes.last().map(|n| n.text.as_str()),
        Some("line one\nline two")
    );
    keys(&mut app, "y").await;
    assert_eq!(app.copied, vec![id(5).to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_asks_before_overwriting() {
    let (dir, handle) = engine();
    let mut app = app(handle.clone(), 80, 24).await;
    let path = dir.path().join("out.csv");
    std::fs::write(&path, "old").unwrap();
    keys(&mut app, "x").await;
    keys(&mut app, &path.display().to_string()).await;
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.mode(), vigil::tui::state::Mode::Confirm);
    keys(&mut app, "y").await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("id,created"), "{text}");
    assert_eq!(text.lines().count(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s_reloads_the_queue_most_severe_first_from_the_store() {
    let (_dir, handle) = engine();
    let mut app = app(handle.clone(), 80, 24).await;
    keys(&mut app, "s").await;
    let shown: Vec<_> = app
        .state
        .queue
        .rows
        .iter()
        .map(|a| (a.severity, a.id))
        .collect();
    let mut want = shown.clone();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        shown, want,
        "most severe first, newest first within a severity"
    );
    assert!(app.state.queue.filter.statuses.is_empty());
    // The store served that order: the same page straight from the engine matches.
    let page = handle
        .alerts_page(
            vigil::model::AlertFilter {
                by_severity: true,
                ..Default::default()
            },
            None,
            200,
        )
        .await
        .unwrap();
    assert_eq!(
        page.alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
        shown.iter().map(|s| s.1).collect::<Vec<_>>()
    );
    keys(&mut app, "s").await;
    let ids: Vec<_> = app.state.queue.rows.iter().map(|a| a.id).collect();
    let mut newest_first = ids.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first);
}

/// Everything the terminal was sent, readable while the terminal owns the writer.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn len(&self) -> usize {
        self.0.lock().map(|b| b.len()).unwrap_or(0)
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The terminal the loop draws on, over an in-memory writer.
fn tty(w: u16, h: u16) -> (Terminal<CompactBackend<Sink>>, Sink) {
    let sink = Sink::default();
    let term = Terminal::with_options(
        CompactBackend::new(sink.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
        },
    )
    .unwrap();
    (term, sink)
}

/// What the loop does on its 1 Hz tick: the clock message plus a fetch of the header figures.
async fn tick(app: &mut App, minute: u32) {
    let mut effects = vec![Effect::Stats];
    effects.extend(app.update(Msg::Tick(t(12, minute))));
    app.settle(effects).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_draws_a_frame_only_when_the_screen_changed() {
    let (_dir, handle) = engine();
    let mut app = app(handle, 80, 24).await;
    let (mut term, sink) = tty(80, 24);
    assert!(app.draw_if_dirty(&mut term).unwrap(), "the first frame");
    assert!(
        !app.draw_if_dirty(&mut term).unwrap(),
        "nothing changed since"
    );
    let sent = sink.len();
    assert!(sent > 0);

    // (a) Ignored input and events that change nothing on screen: no frame, not a byte.
    app.press(code(KeyCode::F(12))).await; // unbound
    app.press(KeyEvent::new_with_kind(
        KeyCode::Char('j'),
        KeyModifiers::NONE,
        KeyEventKind::Release,
    ))
    .await;
    tick(&mut app, 1).await;
    tick(&mut app, 2).await;
    // Facts from the feed whose reloads bring back what is already shown.
    let e = app.update(Msg::Change(Change::TuningChanged));
    app.settle(e).await;
    let e = app.update(Msg::Change(Change::AlertsChanged {
        ids: Vec::new(),
        raised: 0,
    }));
    assert!(
        !e.is_empty(),
        "at the top of the queue a change reloads the window"
    );
    app.settle(e).await;
    assert!(!app.state.is_dirty());
    assert!(!app.draw_if_dirty(&mut term).unwrap());
    assert_eq!(sink.len(), sent, "nothing was sent to the terminal");
    assert_eq!(app.frames, 1);

    // (b) `j` on a list with rows moves the cursor: one frame.
    assert!(app.state.queue.rows.len() > 1);
    keys(&mut app, "j").await;
    assert!(app.state.is_dirty());
    assert!(app.draw_if_dirty(&mut term).unwrap());
    assert!(sink.len() > sent);
    // … but not at the last row, where it moves nothing.
    keys(&mut app, "G").await;
    assert!(app.draw_if_dirty(&mut term).unwrap());
    keys(&mut app, "j").await;
    assert!(!app.draw_if_dirty(&mut term).unwrap(), "j at the last row");

    // (c) A resize: one frame.
    let e = app.update(Msg::Resize(80, 24));
    app.settle(e).await;
    assert!(app.draw_if_dirty(&mut term).unwrap());

    // A triage key: the command's outcome reaches the footer and the row through the feed.
    keys(&mut app, "a").await;
    assert!(app.draw_if_dirty(&mut term).unwrap());
    assert_eq!(app.frames, 5);
}

/// The other direction: whatever changes the drawn screen must have marked the state dirty (otherwise the loop
/// would leave a stale frame up). Every action, in many orders and panes, each followed by what it causes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_on_screen_marks_the_state_dirty() {
    for (w, h) in [(80, 24), (120, 40)] {
        let (_dir, handle) = engine();
        let mut app = app(handle, w, h).await;
        let n = Action::ALL.len();
        let mut before = render(&app, w, h);
        app.state.take_dirty();
        for i in 0..4 * n {
            // Strides coprime with the number of actions visit them in varied orders.
            let action = Action::ALL[(i * 7 + i / n) % n];
            if action == Action::Quit {
                continue;
            }
            let e = app.update(Msg::Action(action));
            app.settle(e).await;
            let after = render(&app, w, h);
            let dirty = app.state.take_dirty();
            assert!(
                dirty || after.backend().buffer() == before.backend().buffer(),
                "{w}x{h} step {i}: {action:?} changed the screen without marking it dirty"
            );
            before = after;
        }
    }
}
