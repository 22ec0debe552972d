//! Keys drive the real app (keymap → state → effects → engine) against a seeded store; the store is checked.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod tui_support;

use crossterm::event::KeyCode;
use tui_support::*;
use vigil::detect::tuning::ExclusionKind;
use vigil::model::AlertStatus;

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
