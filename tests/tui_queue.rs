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

/// The five fixed alerts, owned: #5 by "Tester" (the app's user, other case), #4 by bob, #3 by 李小龍, the
/// rest by nobody; #4 with a title too long for its column.
fn owned() -> Vec<Alert> {
    let mut all = alerts();
    for a in &mut all {
        a.assignee = match a.id {
            x if x == id(5) => Some("Tester".into()),
            x if x == id(4) => Some("bob".into()),
            x if x == id(3) => Some("李小龍".into()),
            _ => None,
        };
        if a.id == id(4) {
            a.title = "Credentials in content of a page about the quarterly deploy runbook".into();
        }
    }
    all
}

fn shown_ids(app: &App) -> Vec<ulid::Ulid> {
    app.state.queue.rows.iter().map(|a| a.id).collect()
}

async fn filter(app: &mut App, query: &str) {
    keys(app, "/").await;
    app.press(key_ctrl('u')).await;
    keys(app, query).await;
    app.press(code(crossterm::event::KeyCode::Enter)).await;
}

fn key_ctrl(c: char) -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(c),
        crossterm::event::KeyModifiers::CONTROL,
    )
}

/// The queue pane's title (the top border's text) on screen.
fn queue_title(app: &App) -> String {
    screen(app, app.state.width, app.state.height)[2].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignee_me_is_the_user_and_m_toggles_the_mine_view() {
    let (_dir, handle, _store) = engine_with(&owned(), &events());
    let mut app = app(handle, 80, 24).await;
    filter(&mut app, "assignee:me").await;
    assert_eq!(shown_ids(&app), [id(5)], "tester owns #5 (as Tester)");
    filter(&mut app, "assignee:none").await;
    assert_eq!(shown_ids(&app), [id(2), id(1)]);
    filter(&mut app, "assignee:BOB").await;
    assert_eq!(shown_ids(&app), [id(4)]);

    // `M`: the previous filter plus assignee:me, then back to the previous filter.
    filter(&mut app, "sev:>=high").await;
    assert_eq!(shown_ids(&app), [id(5), id(4), id(3)]);
    keys(&mut app, "M").await;
    assert_eq!(shown_ids(&app), [id(5)]);
    let title = queue_title(&app);
    assert!(title.contains("mine"), "{title}");
    assert!(title.contains("1 alert)"), "one alert, singular: {title}");
    assert_eq!(app.state.queue.filter_text, "assignee:me sev:>=high");
    keys(&mut app, "M").await;
    assert_eq!(shown_ids(&app), [id(5), id(4), id(3)]);
    assert_eq!(app.state.queue.filter_text, "sev:>=high");
    assert!(!queue_title(&app).contains("mine"), "{}", queue_title(&app));
    assert!(
        queue_title(&app).contains("3 alerts)"),
        "{}",
        queue_title(&app)
    );

    // Nothing of mine among the medium ones: the pane says so, and how to leave.
    filter(&mut app, "sev:medium").await;
    keys(&mut app, "M").await;
    assert!(shown_ids(&app).is_empty());
    let text = screen(&app, 80, 24).join("\n");
    assert!(text.contains("Nothing assigned to you"), "{text}");
    keys(&mut app, "M").await;
    assert_eq!(shown_ids(&app), [id(2), id(1)]);

    // From someone else's alerts, `M` shows mine and comes back to theirs.
    filter(&mut app, "assignee:bob").await;
    keys(&mut app, "M").await;
    assert_eq!(shown_ids(&app), [id(5)]);
    keys(&mut app, "M").await;
    assert_eq!(shown_ids(&app), [id(4)]);
    assert_eq!(app.state.queue.filter_text, "assignee:bob");
}

/// The header, the queue pane and the footer as text, one line per screen line: at 100 columns and more
/// only the queue's part of each line (the detail beside it is another pane's snapshot). A wide symbol's
/// second cell is skipped, so each line reads as the terminal shows it.
fn queue_region(app: &App, term: &Terminal<TestBackend>) -> String {
    use unicode_width::UnicodeWidthStr;
    let buf = term.backend().buffer();
    let (w, h) = (buf.area.width, buf.area.height);
    let right = if app.state.wide() { w * 55 / 100 } else { w };
    let mut out = String::new();
    for y in 0..h {
        let mut x = 0;
        out.push('|');
        while x < right {
            let sym = buf[(x, y)].symbol();
            out.push_str(sym);
            x += u16::try_from(sym.width().max(1)).unwrap();
        }
        out.push_str("|\n");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_queue_snapshots() {
    for (w, h) in [(80, 24), (120, 40)] {
        let (_dir, handle, _store) = engine_with(&owned(), &events());
        let mut app = app(handle, w, h).await;
        keys(&mut app, "j").await;
        let term = render(&app, w, h);
        let text = lines(&term).join("\n");
        assert!(text.contains("ASSIGNEE"), "{w}x{h}:\n{text}");
        assert!(text.contains("2/5"), "position indicator, {w}x{h}:\n{text}");
        assert!(text.contains("Credentials in c"), "{text}");
        insta::assert_snapshot!(format!("queue_owned_{w}x{h}"), queue_region(&app, &term));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_store_says_how_to_load_events() {
    for (w, h) in [(80, 24), (120, 40)] {
        let (_dir, handle, _store) = engine_with(&[], &[]);
        let app = app(handle, w, h).await;
        let term = render(&app, w, h);
        let text = lines(&term).join("\n");
        assert!(text.contains("vigil ingest FILE"), "{w}x{h}:\n{text}");
        assert!(text.contains("[[sources]]"), "{w}x{h}:\n{text}");
        insta::assert_snapshot!(format!("queue_empty_{w}x{h}"), queue_region(&app, &term));
    }
}

/// The symbols of line `y`, one per cell (a wide symbol's second cell is its own entry), so a column index is
/// a screen column.
fn cell_widths(term: &Terminal<TestBackend>, y: u16) -> Vec<String> {
    let buf = term.backend().buffer();
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_and_hostile_names_are_cut_to_their_columns_with_an_ellipsis() {
    let mut hostile = owned();
    for (i, a) in hostile.iter_mut().enumerate() {
        a.assignee = Some(
            [
                "李小龍李小龍李小龍",
                "🦊🦊🦊 fox team lead",
                "\u{202e}nimda\u{202c} admin account",
                "Zoë Ångström-Łukasiewicz",
                "e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}",
            ][i]
                .into(),
        );
        a.actor.name = Some(format!(
            "{}李小龍 🦊 \u{202e}evil\u{202c} actor name {i}",
            "x".repeat(i)
        ));
        a.title = format!("Title {i} 👍🏽 with 李小龍 and a long tail of words to cut");
    }
    for (w, h) in [(60, 24), (80, 24), (100, 30), (120, 40), (160, 40)] {
        let (_dir, handle, _store) = engine_with(&hostile, &events());
        let mut app = app(handle, w, h).await;
        for step in 0..6 {
            let term = render(&app, w, h);
            let text = lines(&term).join("\n");
            assert!(
                !text.contains('\u{202e}') && !text.chars().any(|c| c.is_control() && c != '\n'),
                "{w}x{h}: a bidi override or control reached the screen:\n{text}"
            );
            // Every table line keeps the queue's right border in its column: nothing spilled over it.
            let right = if app.state.wide() { w * 55 / 100 } else { w } - 1;
            for y in 4..8u16 {
                let cells = cell_widths(&term, y);
                assert!(
                    ["┃", "│"].contains(&cells[usize::from(right)].as_str()),
                    "{w}x{h} step {step}: line {y} lost its border at {right}:\n{text}"
                );
            }
            // Every name too long for its column ends in the ellipsis (in the queue; the detail beside it
            // wraps them whole).
            let queue: String = (4..9u16)
                .map(|y| cell_widths(&term, y)[..=usize::from(right)].concat() + "\n")
                .collect();
            assert!(queue.matches('…').count() >= 5, "{w}x{h}:\n{queue}");
            for long in ["actor name", "tail of words to cut"] {
                assert!(
                    !queue.contains(long),
                    "{w}x{h}: {long} should be cut:\n{queue}"
                );
            }
            keys(&mut app, "j").await;
        }
        let has_assignee = lines(&render(&app, w, h)).join("\n").contains("ASSIGNEE");
        // The queue is the whole width below 100 columns, else 55% of it beside the detail.
        let inner = if w >= 100 { w * 55 / 100 } else { w } - 2;
        assert_eq!(
            has_assignee,
            inner >= 60,
            "{w}x{h}: ASSIGNEE goes first when narrow"
        );
    }
}

/// Everything the terminal was sent.
#[derive(Clone, Default)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The bar of DESIGN's bench, as a test: one `j` at 120x40 over a full window of assigned alerts sends at
/// most 2 KB (only the rows that changed are redrawn, and only the rows on screen are built).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_j_at_120x40_sends_at_most_2_kb() {
    use ratatui::layout::Rect;
    use ratatui::{TerminalOptions, Viewport};
    let mut many: Vec<Alert> = (1..=250).map(numbered).collect();
    for (i, a) in many.iter_mut().enumerate() {
        a.assignee = (i % 3 != 0).then(|| ["ana", "李小龍", "bob"][i % 3].to_string());
        a.actor.name = Some(format!("Actor {i} 🦊"));
    }
    let (_dir, handle, _store) = engine_with(&many, &[]);
    let mut app = app(handle, 120, 40).await;
    let sink = Sink::default();
    let mut term = Terminal::with_options(
        vigil::tui::backend::CompactBackend::new(sink.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 120, 40)),
        },
    )
    .unwrap();
    assert!(app.draw_if_dirty(&mut term).unwrap());
    let mut sent = Vec::new();
    for _ in 0..60 {
        let before = sink.0.lock().unwrap().len();
        keys(&mut app, "j").await;
        assert!(app.draw_if_dirty(&mut term).unwrap());
        sent.push(sink.0.lock().unwrap().len() - before);
    }
    sent.sort_unstable();
    eprintln!("bytes per j: {sent:?}");
    let median = sent[sent.len() / 2];
    assert!(median <= 2048, "a j sent {median} bytes (median)");
}
