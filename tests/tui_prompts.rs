//! Prompts, help, the detections pane and the footer, driven by keys through the real app over a seeded
//! store: what the analyst sees (screen rows, footer, mode) and what the store holds afterwards.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod tui_support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_support::*;
use vigil::engine::EngineHandle;
use vigil::tui::App;
use vigil::tui::state::{Mode, Msg, Pane};

/// The screen as one string per row.
fn rows(app: &App, w: u16, h: u16) -> Vec<String> {
    screen_rows(&render(app, w, h))
}

fn footer_text(app: &App) -> String {
    app.state
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

async fn exclusions(handle: &EngineHandle, det: &str) -> Vec<vigil::detect::tuning::Exclusion> {
    handle
        .detections()
        .into_iter()
        .find(|d| d.id == det)
        .unwrap()
        .settings
        .exclusions
}

/// Go to the detections pane and put the cursor on `det`.
async fn select_detection(app: &mut App, det: &str) {
    keys(app, "4").await;
    let at = app
        .state
        .detections
        .items
        .iter()
        .position(|d| d.id == det)
        .unwrap();
    app.press(code(KeyCode::Home)).await;
    for _ in 0..at {
        keys(app, "j").await;
    }
    assert_eq!(
        app.state.detections.current().map(|d| d.id.as_str()),
        Some(det)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q_in_the_help_closes_the_help_and_the_app_goes_on() {
    let (_dir, handle) = engine();
    let mut app = app(handle, 80, 24).await;
    keys(&mut app, "?").await;
    assert!(app.state.help.is_some());
    keys(&mut app, "q").await;
    assert!(app.state.help.is_none(), "q closed the help");
    assert!(!app.quit, "q inside the help must not quit");
    keys(&mut app, "q").await;
    assert!(app.quit, "q outside the help still quits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_help_teaches_the_filter_and_the_commands() {
    let (_dir, handle) = engine();
    let mut app = app(handle, 120, 40).await;
    keys(&mut app, "?G").await;
    let screen = rows(&app, 120, 40).join("\n");
    for needle in [
        "status:open",
        "sev:>=high",
        "det:page-crawling",
        "actor:\"Ana Lima\"",
        "assignee:me",
        "since:7d",
        "until:",
        "\"bulk export\"",
        ":export csv ~/q3.csv",
        ":sensitivity page-crawling fewer",
        ":assign ana",
        ":filter status:open",
        ":sort time",
    ] {
        assert!(
            screen.contains(needle),
            "the help's end lacks {needle:?}:\n{screen}"
        );
    }
    // From the end, one k moves at once (the scroll stops at the last line, not beyond).
    let end = app.state.help;
    keys(&mut app, "k").await;
    assert_eq!(app.state.help, end.map(|s| s - 1));
    // Every example of a filter term parses (the grammar and its help agree), assignee: aside until the
    // queue's grammar has it.
    for (examples, _) in vigil::tui::panes::help::FILTER_TERMS {
        for ex in examples.split("  ").filter(|e| !e.starts_with("assignee:")) {
            vigil::model::query::parse(ex, t(12, 0)).unwrap_or_else(|e| panic!("{ex}: {e}"));
        }
    }
    vigil::model::query::parse(vigil::tui::panes::help::FILTER_EXAMPLE, t(12, 0)).unwrap();
    for (ex, _) in vigil::tui::panes::help::COMMANDS {
        let first = ex.split("  ").next().unwrap().trim_start_matches(':');
        vigil::tui::cmdline::parse(first).unwrap_or_else(|e| panic!("{ex}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_reopens_with_the_filter_and_a_space_so_typing_adds_a_term() {
    let (_dir, handle) = engine();
    let mut app = app(handle, 80, 24).await;
    keys(&mut app, "/status:open").await;
    app.press(code(KeyCode::Enter)).await;
    keys(&mut app, "/").await;
    let typed = app.state.prompt.as_ref().unwrap().input.value().to_string();
    assert_eq!(typed, "status:open ");
    keys(&mut app, "sev:high").await;
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.queue.filter_text, "status:open sev:high");
    // An empty filter reopens empty (no leading blank).
    keys(&mut app, "/").await;
    app.press(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL))
        .await;
    app.press(code(KeyCode::Enter)).await;
    keys(&mut app, "/").await;
    assert_eq!(app.state.prompt.as_ref().unwrap().input.value(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_detection_in_the_filter_is_refused_with_the_closest_id() {
    let (_dir, handle) = engine();
    let mut app = app(handle, 80, 24).await;
    keys(&mut app, "/det:page-crawlin").await;
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.mode(), Mode::Filter, "the prompt stays open");
    assert_eq!(app.state.queue.filter.detection, None, "nothing applied");
    let err = app
        .state
        .prompt
        .as_ref()
        .unwrap()
        .error()
        .unwrap()
        .to_string();
    assert!(
        err.contains("'page-crawlin'") && err.contains("det:page-crawling"),
        "{err}"
    );
    // The footer shows it whole at 80 columns, the prompt line keeps the typed text.
    let screen = rows(&app, 80, 24);
    assert!(
        screen[23].contains("did you mean det:page-crawling"),
        "{}",
        screen[23]
    );
    assert!(screen[22].contains("det:page-crawlin"), "{}", screen[22]);
    keys(&mut app, "g").await;
    assert!(
        app.state.prompt.as_ref().unwrap().error().is_none(),
        "fixed as typed"
    );
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.mode(), Mode::Normal);
    assert_eq!(
        app.state.queue.filter.detection.as_deref(),
        Some("page-crawling")
    );
    assert_eq!(app.state.queue.rows.len(), 1);
    // Nothing close at all: refused without a guess.
    keys(&mut app, ":filter det:zzzzzzzzzzzzzzzzzzzz").await;
    app.press(code(KeyCode::Enter)).await;
    let msg = app.state.message.clone().unwrap();
    assert!(msg.error && msg.text.contains("no detection") && !msg.text.contains("did you mean"));
    assert_eq!(
        app.state.queue.filter.detection.as_deref(),
        Some("page-crawling")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_prompt_scrolls_so_the_cursor_and_the_typed_end_stay_visible() {
    let (_dir, handle) = engine();
    let mut app = app(handle, 80, 24).await;
    let long =
        "status:open sev:>=medium actor:ana@example.com since:2026-10-01 until:2026-12-01 crawl";
    keys(&mut app, &format!("/{long}")).await;
    let term = render(&app, 80, 24);
    let line: String = (0..80)
        .map(|x| term.backend().buffer()[(x, 22)].symbol().to_string())
        .collect();
    assert!(line.trim_end().ends_with("crawl"), "{line}");
    assert!(line.starts_with("/…"), "the hidden start is marked: {line}");
    let cursor =
        ratatui::backend::Backend::get_cursor_position(&mut term.backend().clone()).unwrap();
    assert_eq!(cursor.y, 22);
    assert!(cursor.x < 80);
    assert_eq!(
        cursor.x as usize,
        line.trim_end().chars().count(),
        "cursor after the text"
    );
    // Home brings the start back into view.
    app.press(code(KeyCode::Home)).await;
    let line = &rows(&app, 80, 24)[22];
    assert!(line.starts_with("/status:open"), "{line}");
    // A bad term's error is in the footer, readable whole.
    app.press(code(KeyCode::End)).await;
    keys(&mut app, " frob:x").await;
    let screen = rows(&app, 80, 24);
    assert!(screen[23].contains("frob"), "{}", screen[23]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exclusion_prompt_names_the_actor_and_refuses_a_past_date() {
    let (_dir, handle) = engine();
    let mut app = app(handle.clone(), 80, 24).await;
    keys(&mut app, "G").await; // #1, page-crawling by Ana
    keys(&mut app, "4").await;
    keys(&mut app, "1").await;
    app.press(KeyEvent::new(KeyCode::Char('X'), KeyModifiers::SHIFT))
        .await;
    let label = app.state.prompt.as_ref().unwrap().label();
    assert_eq!(
        label,
        "exclude Ana Admin (ana@example.com) from page-crawling until: "
    );
    assert!(!label.contains("acc-Ana"), "named, not by id");
    // The UI's clock is 2026-11-02: yesterday and today are over.
    for past in ["2026-11-01", "2026-11-02", "2020-01-01"] {
        keys(&mut app, past).await;
        app.press(code(KeyCode::Enter)).await;
        let err = app
            .state
            .prompt
            .as_ref()
            .unwrap()
            .error()
            .unwrap()
            .to_string();
        assert!(err.contains("not in the future"), "{past}: {err}");
        assert!(exclusions(&handle, "page-crawling").await.is_empty());
        app.press(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL))
            .await;
    }
    keys(&mut app, "2026-11-03").await;
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.mode(), Mode::Normal);
    let stored = exclusions(&handle, "page-crawling").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].value, "acc-Ana");
    assert_eq!(
        stored[0].label.as_deref(),
        Some("Ana Admin (ana@example.com)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn u_lists_the_exclusions_and_removes_the_chosen_one() {
    let (_dir, handle) = engine();
    let mut app = app(handle.clone(), 80, 24).await;
    // Two exclusions of page-crawling: Ana's (from her alert, named) and one by id only.
    keys(&mut app, "G").await;
    app.press(KeyEvent::new(KeyCode::Char('X'), KeyModifiers::SHIFT))
        .await;
    keys(&mut app, "2027-01-31").await;
    app.press(code(KeyCode::Enter)).await;
    let mut settings = handle
        .detections()
        .into_iter()
        .find(|d| d.id == "page-crawling")
        .unwrap()
        .settings;
    settings.exclusions.push(vigil::detect::tuning::Exclusion {
        kind: vigil::detect::tuning::ExclusionKind::Actor,
        value: "acc-Zed".into(),
        until: None,
        label: None,
    });
    let e = app.update(Msg::Action(vigil::tui::action::Action::Refresh));
    app.settle(e).await;
    handle
        .execute(vigil::engine::Command::SetDetection {
            id: "page-crawling".into(),
            settings,
            who: "tester".into(),
        })
        .await
        .unwrap();
    select_detection(&mut app, "page-crawling").await;
    let e = app.update(Msg::Lagged);
    app.settle(e).await;
    let screen = rows(&app, 80, 24).join("\n");
    assert!(
        screen.contains("1. actor Ana Admin (ana@example.com)  until 2027-01-31"),
        "{screen}"
    );
    assert!(screen.contains("2. actor acc-Zed  no end"), "{screen}");
    keys(&mut app, "u").await;
    let label = app.state.prompt.as_ref().unwrap().label();
    assert!(
        label.contains("remove which exclusion of page-crawling? (1-2)"),
        "{label}"
    );
    keys(&mut app, "7").await;
    app.press(code(KeyCode::Enter)).await;
    assert!(
        app.state
            .prompt
            .as_ref()
            .unwrap()
            .error()
            .unwrap()
            .contains("'7'")
    );
    assert_eq!(exclusions(&handle, "page-crawling").await.len(), 2);
    app.press(code(KeyCode::Backspace)).await;
    keys(&mut app, "1").await;
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.mode(), Mode::Normal);
    let left = exclusions(&handle, "page-crawling").await;
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].value, "acc-Zed",
        "the chosen one went, not the last"
    );
    // A detection without exclusions says so and asks nothing.
    select_detection(&mut app, "bulk-export").await;
    keys(&mut app, "u").await;
    assert!(app.state.prompt.is_none());
    assert!(
        footer_text(&app).contains("no exclusions"),
        "{}",
        footer_text(&app)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitivity_on_a_detection_without_a_threshold_changes_nothing_and_says_why() {
    let (_dir, handle) = engine();
    let mut app = app(handle.clone(), 80, 24).await;
    select_detection(&mut app, "admin-impersonation").await;
    let before = exclusions(&handle, "admin-impersonation").await;
    let sens = |h: &EngineHandle| {
        h.detections()
            .into_iter()
            .find(|d| d.id == "admin-impersonation")
            .unwrap()
            .settings
            .sensitivity
    };
    let was = sens(&handle);
    app.press(KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT))
        .await;
    assert_eq!(sens(&handle), was);
    assert_eq!(exclusions(&handle, "admin-impersonation").await, before);
    let msg = footer_text(&app);
    assert!(msg.contains("no threshold to tune"), "{msg}");
    // A counting detection still cycles.
    select_detection(&mut app, "page-crawling").await;
    app.press(KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT))
        .await;
    let now = handle
        .detections()
        .into_iter()
        .find(|d| d.id == "page-crawling")
        .unwrap()
        .settings
        .sensitivity;
    assert_eq!(now, vigil::detect::tuning::Sensitivity::More);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esc_on_a_note_with_text_asks_before_discarding() {
    let (_dir, handle) = engine();
    let mut app = app(handle.clone(), 80, 24).await;
    keys(&mut app, "n").await;
    keys(&mut app, "called Ana").await;
    app.press(code(KeyCode::Esc)).await;
    assert!(app.state.note.is_some(), "the draft is still there");
    assert_eq!(app.state.mode(), Mode::Confirm);
    let screen = rows(&app, 80, 24);
    assert!(
        screen[23].contains("discard the note? y/n"),
        "{}",
        screen[23]
    );
    // n (or any key but y) goes back to the draft, untouched.
    keys(&mut app, "n").await;
    assert_eq!(app.state.mode(), Mode::Note);
    assert_eq!(app.state.note.as_ref().unwrap().text(), "called Ana");
    app.press(code(KeyCode::Esc)).await;
    keys(&mut app, "y").await;
    assert!(app.state.note.is_none());
    assert!(handle.alert(id(5)).await.unwrap().unwrap().notes.is_empty());
    // An empty draft closes at once.
    keys(&mut app, "n").await;
    app.press(code(KeyCode::Esc)).await;
    assert!(app.state.note.is_none());
    assert_eq!(app.state.mode(), Mode::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn footer_messages_expire_on_the_clock() {
    let (_dir, handle) = engine();
    let mut app = app(handle, 80, 24).await;
    let tick = |app: &mut App, secs: i64| {
        let e = app.update(Msg::Tick(t(12, 0) + chrono::Duration::seconds(secs)));
        drop(e);
    };
    keys(&mut app, "a").await;
    assert!(app.state.message.as_ref().is_some_and(|m| !m.error));
    tick(&mut app, 7);
    assert!(app.state.message.is_some(), "still fresh at 7 s");
    tick(&mut app, 8);
    assert!(app.state.message.is_none(), "information goes after 8 s");
    assert!(app.state.take_dirty(), "and the footer is redrawn");
    // An error stays longer.
    app.state.complain("boom");
    tick(&mut app, 20);
    assert!(app.state.message.is_some(), "an error is kept past 8 s");
    tick(&mut app, 28);
    assert!(app.state.message.is_none(), "and goes after 20 s");
    // A newer message restarts the clock.
    app.state.say("one");
    tick(&mut app, 34);
    app.state.say("two");
    tick(&mut app, 37);
    assert_eq!(footer_text(&app), "two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn footer_words_are_plain_english() {
    let (_dir, handle) = engine();
    let mut app = app(handle, 80, 24).await;
    keys(&mut app, "t").await;
    let msg = footer_text(&app);
    assert!(msg.contains("true positive"), "{msg}");
    assert!(
        !msg.contains("true_positive") && !msg.contains("(s)"),
        "{msg}"
    );
    assert_eq!(app.state.pane, Pane::Queue);
}
