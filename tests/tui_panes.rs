//! Snapshots of every pane at 80x24 and 120x40 over fixed data, plus a style check and the hostile-title check.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod tui_support;

use ratatui::style::Color;
use tui_support::*;
use vigil::tui::action::Action;
use vigil::tui::keymap::{Keymap, action_name};
use vigil::tui::state::Msg;

async fn show(
    w: u16,
    h: u16,
    actions: &[Action],
) -> ratatui::Terminal<ratatui::backend::TestBackend> {
    let (_dir, handle) = engine();
    let mut app = app(handle, w, h).await;
    for a in actions {
        let e = app.update(Msg::Action(*a));
        app.settle(e).await;
    }
    render(&app, w, h)
}

macro_rules! pane_snapshots {
    ($($name:ident: $actions:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for (w, h) in [(80, 24), (120, 40)] {
                let term = show(w, h, &$actions).await;
                insta::assert_snapshot!(format!("{}_{w}x{h}", stringify!($name)), term.backend());
            }
        }
    )*};
}

pane_snapshots! {
    queue: [];
    detail: [Action::NextRow, Action::Open];
    timeline: [Action::NextRow, Action::ShowTimeline];
    detections: [Action::ShowDetections];
    integrations: [Action::ShowIntegrations];
    help: [Action::Help];
}

/// The screen as one string per row.
fn screen_rows(term: &ratatui::Terminal<ratatui::backend::TestBackend>) -> Vec<String> {
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_shows_every_bindable_action_with_its_help_text() {
    // Tall and wide enough for every line, unscrolled and unclipped.
    let term = show(140, 60, &[Action::Help]).await;
    let rows = screen_rows(&term);
    let defaults = include_str!("../keymap.toml");
    let mut bindable = 0;
    for action in Action::ALL {
        // Bindable = a user keymap line can name it (internal actions are refused by name).
        let line = format!("[normal]\n\"f12\" = \"{}\"\n", action_name(*action));
        let (map, errors) = Keymap::from_strs(defaults, Some((&line, "probe.toml")));
        if !errors.is_empty() {
            continue;
        }
        bindable += 1;
        assert_eq!(
            map.keys_for(*action).last().map(String::as_str),
            Some("f12")
        );
        let help = action.help();
        assert!(!help.is_empty(), "{action:?} has no help text");
        assert!(
            rows.iter().any(|r| r.contains(help)),
            "the ? help does not show {action:?}: {help:?}"
        );
    }
    assert!(bindable > 0, "no action could be bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_severity_is_styled_and_hostile_titles_are_inert() {
    let term = show(120, 40, &[Action::NextRow]).await;
    let buf = term.backend().buffer();
    // Row 0 of the table is the critical alert (#5): its SEV cell is light red.
    let mut found = false;
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        if let Some(col) = line.find("CRIT") {
            let x = line[..col].chars().count() as u16;
            assert_eq!(buf[(x, y)].fg, Color::LightRed);
            found = true;
            break;
        }
    }
    assert!(found, "a CRIT cell is on screen");
    for cell in buf.content() {
        assert!(
            !cell.symbol().chars().any(|c| c.is_control()),
            "control char in a cell"
        );
    }
    let text: String = buf.content().iter().map(|c| c.symbol()).collect();
    assert!(
        text.contains("Deploy\u{fffd}]0;pwned\u{fffd} notes"),
        "the hostile subject is shown, defused"
    );

    // The timeline shows the same hostile page title from the event, also inert.
    let term = show(120, 40, &[Action::NextRow, Action::ShowTimeline]).await;
    let buf = term.backend().buffer();
    assert!(
        buf.content()
            .iter()
            .all(|c| !c.symbol().chars().any(|c| c.is_control()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_draws_without_colours() {
    let (_dir, handle) = engine();
    let opts = vigil::tui::UiOptions {
        user: "tester".into(),
        keymap_path: None,
        no_color: true,
        title: "t".into(),
    };
    let (mut app, e) = vigil::tui::App::new(handle, &opts, t(12, 0));
    app.settle(e).await;
    let term = render(&app, 80, 24);
    assert!(
        term.backend()
            .buffer()
            .content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
}

/// The integrations pane names each kind as the config file does (`splunk_hec`), never Rust's `Debug`
/// spelling, and shows no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_show_config_kind_names_and_no_secret() {
    let config = vigil::config::parse(
        "[[integrations]]\nname = \"siem\"\nkind = \"splunk_hec\"\nurl = \"https://splunk.example:8088\"\n\
         token = \"hec-literal-token-1234\"\n\n[[integrations]]\nname = \"chat\"\nkind = \"slack\"\n\
         url = \"https://hooks.slack.com/services/T0/B0/secretpart\"\n",
        std::path::Path::new("vigil.toml"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = vigil::store::Store::open(dir.path()).unwrap();
    let handle = vigil::engine::EngineHandle::new(
        store,
        vigil::detect::tuning::Tuning::default(),
        config.integrations,
        None,
    )
    .unwrap();
    let mut app = app(handle, 120, 40).await;
    let e = app.update(Msg::Action(Action::ShowIntegrations));
    app.settle(e).await;
    let term = render(&app, 120, 40);
    let text: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(text.contains("splunk_hec"), "{text}");
    assert!(!text.contains("splunkhec"));
    assert!(text.contains("slack"));
    assert!(!text.contains("secretpart") && !text.contains("hec-literal-token-1234"));
}
