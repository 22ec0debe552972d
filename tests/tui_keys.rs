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
            seen: vec![],
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
    for (w, h, integrations) in [
        (80, 24, false),
        (120, 40, false),
        (80, 24, true),
        (120, 40, true),
    ] {
        // With integrations configured, the outbound actions open prompts, send and reload the pane too.
        let (_dir, handle) = if integrations {
            let (dir, handle, _) = outbound_engine();
            (dir, handle)
        } else {
            engine()
        };
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

/// An app over [`outbound_engine`] showing the integrations pane with the cursor on row `row`
/// (0 secops-slack, 1 siem, 2 teams-sec, 3 jira-sec, 4 soc-forward).
async fn on_integration(handle: vigil::engine::EngineHandle, row: usize) -> App {
    let mut app = app(handle, 120, 40).await;
    keys(&mut app, "5").await;
    for _ in 0..row {
        keys(&mut app, "j").await;
    }
    app
}

fn footer(app: &App) -> (String, bool) {
    let m = app.state.message.clone().expect("a footer message");
    (m.text, m.error)
}

/// Pending deliveries of `name` with their events, straight from the store.
fn queued(store: &vigil::store::Store, name: &str) -> Vec<vigil::model::Delivery> {
    store
        .due_deliveries(t(23, 59) + chrono::Duration::days(3650), 1000)
        .unwrap()
        .into_iter()
        .filter(|d| d.integration == name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_t_queues_a_test_alert_for_the_selected_integration() {
    use vigil::model::DeliveryEvent;
    let (_dir, handle, store) = outbound_engine();
    // Outside its pane the key sends nothing.
    let mut app = app(handle.clone(), 120, 40).await;
    keys(&mut app, "T").await;
    assert_eq!(
        store.outbox_counts(Some("secops-slack")).unwrap().pending,
        0
    );

    let mut app = on_integration(handle.clone(), 0).await;
    keys(&mut app, "T").await;
    assert_eq!(
        store.outbox_counts(Some("secops-slack")).unwrap().pending,
        1
    );
    let q = queued(&store, "secops-slack");
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].event, q[0].alert), (DeliveryEvent::Test, None));
    assert_eq!(
        footer(&app),
        ("test alert queued for secops-slack".into(), false)
    );
    // The pane reloaded through the change feed.
    assert_eq!(app.state.integrations.items[0].pending, 1);

    // A disabled integration is told, not queued for: the test would wait unseen.
    keys(&mut app, "jj").await;
    keys(&mut app, "T").await;
    assert_eq!(queued(&store, "teams-sec").len(), 1, "only the parked #5");
    let (text, error) = footer(&app);
    assert!(error && text.contains("disabled by ana"), "{text}");
    // An audit forwarder takes no alerts, test ones included.
    keys(&mut app, "jj").await;
    keys(&mut app, "T").await;
    assert_eq!(store.outbox_counts(Some("soc-forward")).unwrap().pending, 0);
    assert!(footer(&app).1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_r_asks_then_replays_the_dead_letters() {
    use vigil::model::OutboxCounts;
    let (_dir, handle, store) = outbound_engine();
    let mut app = on_integration(handle.clone(), 3).await;
    let before = OutboxCounts {
        pending: 0,
        dead: 2,
    };
    assert_eq!(store.outbox_counts(Some("jira-sec")).unwrap(), before);
    keys(&mut app, "R").await;
    assert_eq!(app.state.mode(), vigil::tui::state::Mode::Confirm);
    keys(&mut app, "n").await;
    assert_eq!(store.outbox_counts(Some("jira-sec")).unwrap(), before);
    assert_eq!(footer(&app), ("not replayed".into(), false));

    keys(&mut app, "Ry").await;
    assert_eq!(
        store.outbox_counts(Some("jira-sec")).unwrap(),
        OutboxCounts {
            pending: 2,
            dead: 0
        }
    );
    assert_eq!(
        footer(&app),
        ("replayed 2 dead letter(s) to jira-sec".into(), false)
    );
    assert_eq!(app.state.integrations.items[3].dead, 0);
    // Nothing left: no question.
    keys(&mut app, "R").await;
    assert_eq!(app.state.mode(), vigil::tui::state::Mode::Normal);
    assert_eq!(footer(&app), ("no dead letters for jira-sec".into(), false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_e_disables_and_enables_through_the_stored_health() {
    let (_dir, handle, store) = outbound_engine();
    let mut app = on_integration(handle.clone(), 0).await;
    assert!(app.state.integrations.items[0].enabled);
    keys(&mut app, "E").await;
    let why = store.integration_health("secops-slack").unwrap().disabled;
    assert!(
        why.as_deref()
            .is_some_and(|w| w.starts_with("disabled by tester at ")),
        "{why:?}"
    );
    assert!(!app.state.integrations.items[0].enabled);
    assert_eq!(
        app.state.integrations.items[0].condition,
        vigil::engine::IntegrationCondition::Disabled
    );
    keys(&mut app, "E").await;
    assert_eq!(
        store.integration_health("secops-slack").unwrap().disabled,
        None
    );
    assert!(app.state.integrations.items[0].enabled);
    // The recorded attempts survive the switch.
    assert_eq!(
        store
            .integration_health("secops-slack")
            .unwrap()
            .recent
            .len(),
        3
    );

    // Enabling lifts a receiver's 410 as well as an operator's switch.
    let mut gone = store.integration_health("siem").unwrap();
    gone.disabled = Some("the receiver answered 410 Gone at 2026-11-02 10:00:00Z".into());
    store.put_integration_health("siem", &gone).unwrap();
    tick(&mut app, 1).await;
    keys(&mut app, "j").await;
    keys(&mut app, "E").await;
    assert_eq!(store.integration_health("siem").unwrap().disabled, None);
    let (text, error) = footer(&app);
    assert!(!error && text.contains("410 Gone"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_j_on_two_selected_alerts_queues_two_manual_jira_deliveries() {
    use vigil::model::DeliveryEvent;
    let (_dir, handle, store) = outbound_engine();
    let mut app = app(handle.clone(), 120, 40).await;
    // Space on the first two rows (#5, #4).
    keys(&mut app, "  J").await;
    assert_eq!(app.state.mode(), vigil::tui::state::Mode::Input);
    let prompt = app.state.prompt.as_ref().unwrap();
    assert_eq!(prompt.input.value(), "jira-sec", "the one Jira integration");
    app.press(code(KeyCode::Enter)).await;
    let q = queued(&store, "jira-sec");
    assert_eq!(q.len(), 2, "{q:?}");
    let mut alerts: Vec<_> = q.iter().map(|d| d.alert).collect();
    alerts.sort();
    assert_eq!(alerts, vec![Some(id(4)), Some(id(5))]);
    assert!(q.iter().all(|d| d.event == DeliveryEvent::Manual));
    let (text, error) = footer(&app);
    assert!(!error, "{text}");
    assert!(text.starts_with("2 alerts queued for jira-sec"), "{text}");
    assert!(text.contains("already linked: SEC-42"), "{text}");
    assert!(app.state.queue.marked.is_empty());
    // Who sent it is in the alert's history.
    let a = handle.alert(id(4)).await.unwrap().unwrap();
    let h = a.history.last().unwrap();
    assert_eq!(
        (h.who.as_str(), h.what.as_str()),
        ("tester", "sent to jira-sec")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_f_prompts_completes_and_sends_even_below_the_minimum_severity() {
    use vigil::model::DeliveryEvent;
    let (_dir, handle, store) = outbound_engine();
    let mut app = app(handle.clone(), 120, 40).await;
    // Row 1 is #4 (high); secops-slack takes critical only, but a manual send is the operator's call.
    keys(&mut app, "jF").await;
    assert_eq!(app.state.mode(), vigil::tui::state::Mode::Input);
    let names = match &app.state.prompt.as_ref().unwrap().kind {
        vigil::tui::state::PromptKind::SendTo { names, .. } => names.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(names, ["secops-slack", "siem", "teams-sec", "jira-sec"]);
    keys(&mut app, "nope").await;
    app.press(code(KeyCode::Enter)).await;
    let p = app.state.prompt.as_ref().expect("still asking");
    assert!(
        p.error().is_some_and(|e| e.contains("'nope'")),
        "{:?}",
        p.error()
    );
    for _ in 0..4 {
        app.press(code(KeyCode::Backspace)).await;
    }
    keys(&mut app, "se").await;
    app.press(code(KeyCode::Tab)).await;
    assert_eq!(
        app.state.prompt.as_ref().unwrap().input.value(),
        "secops-slack"
    );
    assert_eq!(app.state.prompt.as_ref().unwrap().error(), None);
    app.press(code(KeyCode::Enter)).await;
    assert_eq!(app.state.mode(), vigil::tui::state::Mode::Normal);
    let q = queued(&store, "secops-slack");
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].alert, q[0].event),
        (Some(id(4)), DeliveryEvent::Manual)
    );

    // Esc sends nothing.
    keys(&mut app, "F").await;
    app.press(code(KeyCode::Tab)).await;
    app.press(code(KeyCode::Esc)).await;
    assert_eq!(queued(&store, "secops-slack").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_commands_refuse_unknown_and_audit_forward_integrations() {
    use vigil::engine::Command;
    let (_dir, handle, store) = outbound_engine();
    let send = |integration: &str| Command::SendAlerts {
        ids: vec![id(5)],
        integration: integration.into(),
        who: "x".into(),
    };
    let e = handle.execute(send("nope")).await.unwrap_err().to_string();
    assert!(
        e.contains("no integration 'nope'") && e.contains("jira-sec"),
        "{e}"
    );
    let e = handle
        .execute(send("soc-forward"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("audit events"), "{e}");
    assert_eq!(store.outbox_counts(Some("soc-forward")).unwrap().pending, 0);
    let e = handle
        .execute(Command::TestIntegration {
            name: "nope".into(),
            who: "x".into(),
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no integration 'nope'"), "{e}");
    // Each command that changes something announces it, for every attached UI.
    let mut feed = handle.subscribe();
    handle.execute(send("siem")).await.unwrap();
    let mut seen = Vec::new();
    while let Ok(c) = feed.try_recv() {
        seen.push(c);
    }
    assert!(seen.contains(&Change::IntegrationsChanged), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integration_disabled_in_the_config_is_not_enabled_from_the_ui() {
    let config = vigil::config::parse(
        "[[integrations]]\nname = \"off\"\nkind = \"slack\"\nenabled = false\n\
         url = \"https://hooks.slack.com/services/x\"\n",
        std::path::Path::new("vigil.toml"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = vigil::store::Store::open(dir.path()).unwrap();
    let handle = vigil::engine::EngineHandle::new(
        store.clone(),
        vigil::detect::tuning::Tuning::default(),
        config.integrations,
        None,
    )
    .unwrap();
    let mut app = on_integration(handle.clone(), 0).await;
    assert_eq!(
        app.state.integrations.items[0].state,
        "disabled in the config (enabled = false)"
    );
    keys(&mut app, "E").await;
    let (text, error) = footer(&app);
    assert!(error && text.contains("enabled = false"), "{text}");
    let e = handle
        .execute(vigil::engine::Command::SetIntegrationEnabled {
            name: "off".into(),
            enabled: true,
            who: "x".into(),
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("in the config"), "{e}");
    assert_eq!(store.integration_health("off").unwrap().disabled, None);
}

/// The delivery worker records progress without announcing it: the pane and the detail pick it up at the
/// clock tick, and only when it changed anything on screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tick_polls_the_integrations_and_the_shown_deliveries() {
    use vigil::model::{DeliveryEvent, DeliveryState};
    let (_dir, handle, store) = outbound_engine();
    let mut app = on_integration(handle.clone(), 0).await;
    app.state.take_dirty();
    tick(&mut app, 1).await;
    assert!(!app.state.is_dirty(), "nothing moved");
    // What the worker would do: an attempt recorded, straight into the store.
    let mut h = store.integration_health("secops-slack").unwrap();
    h.recent.push(attempt(t(12, 1), Some(200), 50, ""));
    h.delivered += 1;
    store.put_integration_health("secops-slack", &h).unwrap();
    tick(&mut app, 2).await;
    assert!(app.state.take_dirty());
    assert_eq!(app.state.integrations.items[0].delivered, 43);

    // The detail beside the queue (wide) shows #5's deliveries; a new one appears at the next tick.
    keys(&mut app, "1").await;
    let shown = |app: &App| {
        app.state
            .detail
            .deliveries_of(id(5))
            .map(|d| d.len())
            .unwrap_or(0)
    };
    assert_eq!(shown(&app), 4);
    store
        .enqueue(&[delivery(
            "siem",
            Some(5),
            DeliveryEvent::Manual,
            t(12, 2),
            DeliveryState::Pending,
            vec![],
        )])
        .unwrap();
    app.state.take_dirty();
    tick(&mut app, 3).await;
    assert!(app.state.take_dirty());
    assert_eq!(shown(&app), 5);
}
