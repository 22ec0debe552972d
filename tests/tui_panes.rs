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
    help_end: [Action::Help, Action::LastRow];
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
        ..Default::default()
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

/// The integrations pane over [`outbound_engine`], at both sizes, with the cursor on the healthy, the failing,
/// the disabled and the dead-lettered integration in turn (the lower half shows the selected one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_pane_states() {
    for (w, h) in [(80, 24), (120, 35)] {
        let (_dir, handle, _store) = outbound_engine();
        let mut app = app(handle, w, h).await;
        let e = app.update(Msg::Action(Action::ShowIntegrations));
        app.settle(e).await;
        for (row, label) in ["healthy", "failing", "disabled", "dead_letters"]
            .iter()
            .enumerate()
        {
            if row > 0 {
                let e = app.update(Msg::Action(Action::NextRow));
                app.settle(e).await;
            }
            let shown = &app.state.integrations.items[app.state.integrations.selected];
            assert_eq!(
                shown.integration.name,
                ["secops-slack", "siem", "teams-sec", "jira-sec"][row]
            );
            let term = render(&app, w, h);
            insta::assert_snapshot!(format!("integrations_{label}_{w}x{h}"), term.backend());
        }
    }
}

/// What the pane shows comes from the store through the handle: states, counts, the last attempt, no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_pane_shows_states_counts_and_no_secret() {
    use vigil::engine::IntegrationCondition as C;
    let (_dir, handle, _store) = outbound_engine();
    let views = handle.integrations().await.unwrap();
    let by = |name: &str| views.iter().find(|v| v.integration.name == name).unwrap();
    let slack = by("secops-slack");
    assert_eq!((slack.condition, slack.state.as_str()), (C::Ok, "ok"));
    assert_eq!((slack.pending, slack.dead, slack.delivered), (0, 0, 42));
    assert_eq!(slack.endpoint, "https://hooks.slack.com/…");
    assert_eq!(slack.recent.last().map(|a| a.at), Some(t(10, 5)));
    let siem = by("siem");
    assert_eq!(siem.condition, C::Failing);
    assert_eq!(siem.state, "failing since 2026-11-02 09:40:00Z");
    assert_eq!((siem.pending, siem.dead), (2, 0));
    assert!(siem.enabled);
    let teams = by("teams-sec");
    assert_eq!(teams.condition, C::Disabled);
    assert!(!teams.enabled && teams.integration.enabled);
    assert_eq!(
        teams.state,
        "disabled: disabled by ana at 2026-11-02 09:50:00Z"
    );
    let jira = by("jira-sec");
    assert_eq!((jira.pending, jira.dead), (0, 2));
    assert_eq!(jira.endpoint, "https://acme.atlassian.net/…");

    let term = render(
        &app_on(handle, Action::ShowIntegrations, 120, 35).await,
        120,
        35,
    );
    let text = screen_rows(&term).join("\n");
    for secret in [
        "slacksecret",
        "hooksecret",
        "teamsecret",
        "whsec_",
        "jira-literal-token",
        "hec-literal-token",
        "services/T0",
    ] {
        assert!(!text.contains(secret), "{secret} on screen:\n{text}");
    }
    for shown in [
        "hooks.slack.com",
        "failing 11-02 09:40",
        "11-02 09:45 15.0 s timed out",
    ] {
        assert!(text.contains(shown), "{shown} not on screen:\n{text}");
    }
}

/// An app at `w`x`h` over `handle` after one action.
async fn app_on(
    handle: vigil::engine::EngineHandle,
    action: Action,
    w: u16,
    h: u16,
) -> vigil::tui::App {
    let mut app = app(handle, w, h).await;
    let e = app.update(Msg::Action(action));
    app.settle(e).await;
    app
}

/// Endpoints read from a file or the environment are shown as scheme and host, or as the reference when they
/// cannot be read (then the integration says why it cannot be used); never the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_from_files_and_the_environment_are_masked() {
    use vigil::engine::IntegrationCondition as C;
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("teams.url");
    std::fs::write(
        &url_file,
        "https://acme.webhook.office.com/workflows/filesecret?sig=abc\n",
    )
    .unwrap();
    let config = vigil::config::parse(
        &format!(
            "[[integrations]]\nname = \"from-file\"\nkind = \"teams\"\nurl = \"file:{}\"\n\n\
             [[integrations]]\nname = \"from-env\"\nkind = \"slack\"\nurl = \"env:VIGIL_TEST_UNSET_URL_7Q\"\n",
            url_file.display()
        ),
        std::path::Path::new("vigil.toml"),
    )
    .unwrap();
    let store = vigil::store::Store::open(dir.path().join("data").as_path()).unwrap();
    let handle = vigil::engine::EngineHandle::new(
        store,
        vigil::detect::tuning::Tuning::default(),
        config.integrations,
        None,
    )
    .unwrap();
    let views = handle.integrations().await.unwrap();
    assert_eq!(views[0].endpoint, "https://acme.webhook.office.com/…");
    assert_eq!(views[0].condition, C::Ok);
    assert_eq!(views[1].endpoint, "env:VIGIL_TEST_UNSET_URL_7Q");
    assert_eq!(views[1].condition, C::Unusable);
    assert!(
        views[1]
            .state
            .starts_with("cannot be used: cannot read its url"),
        "{}",
        views[1].state
    );
    let term = render(
        &app_on(handle, Action::ShowIntegrations, 120, 35).await,
        120,
        35,
    );
    let text = screen_rows(&term).join("\n");
    assert!(
        !text.contains("filesecret") && !text.contains("sig=abc"),
        "{text}"
    );
    assert!(text.contains("unusable"), "{text}");
}

/// Names and errors in CJK and emoji (two columns each) and with escape sequences keep every border in place
/// and reach the screen inert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_and_hostile_text_keeps_the_integrations_table_in_its_frame() {
    let name = "通知チャンネル🚨セキュリティ運用チーム警報";
    let config = vigil::config::parse(
        &format!(
            "[[integrations]]\nname = \"{name}\"\nkind = \"webhook\"\n\
             url = \"https://例え.example.com/hook\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n"
        ),
        std::path::Path::new("vigil.toml"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = vigil::store::Store::open(dir.path()).unwrap();
    store
        .put_integration_health(
            name,
            &vigil::model::IntegrationHealth {
                failing_since: Some(t(9, 0)),
                disabled: None,
                recent: vec![attempt(
                    t(9, 0),
                    Some(400),
                    12,
                    "HTTP 400 不正なリクエストです🚫🚫🚫\x1b]0;pwned\x07 受信者が拒否しました全角全角全角全角全角",
                )],
                delivered: 0,
            },
        )
        .unwrap();
    let handle = vigil::engine::EngineHandle::new(
        store,
        vigil::detect::tuning::Tuning::default(),
        config.integrations,
        None,
    )
    .unwrap();
    for (w, h) in [(80, 24), (120, 35), (61, 20)] {
        let app = app_on(handle.clone(), Action::ShowIntegrations, w, h).await;
        let term = render(&app, w, h);
        let buf = term.backend().buffer();
        // Rows 2 .. h-2 are the pane: its left and right borders sit in the first and last column.
        for y in 3..h - 2 {
            for x in [0, w - 1] {
                assert_eq!(buf[(x, y)].symbol(), "┃", "{w}x{h}: border at ({x}, {y})");
            }
        }
        assert!(
            buf.content()
                .iter()
                .all(|c| !c.symbol().chars().any(|c| c.is_control())),
            "{w}x{h}: a control character reached a cell"
        );
        let text = screen_rows(&term).join("\n");
        // A wide character fills its cell and the next (which the test backend shows as a space).
        assert!(
            text.contains("通 知"),
            "{w}x{h}: the name is shown:\n{text}"
        );
    }
}

/// The detail lists where the alert went: per delivery its integration, event, state, tries, last attempt
/// and the Jira key; alert #5 has four deliveries in [`outbound_engine`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_with_deliveries() {
    for (w, h, pages) in [(80, 24, 3), (120, 40, 1)] {
        let (_dir, handle, _store) = outbound_engine();
        let mut app = app(handle, w, h).await;
        for a in [Action::Open]
            .into_iter()
            .chain(std::iter::repeat_n(Action::HalfPageDown, pages))
        {
            let e = app.update(Msg::Action(a));
            app.settle(e).await;
        }
        let term = render(&app, w, h);
        let text = screen_rows(&term).join("\n");
        for shown in [
            "Deliveries (4)",
            "jira-sec manual delivered SEC-42",
            "siem created pending (next 11-02 10:15)",
            "2 tries · last 11-02 09:45 timed out · 15.0 s",
            "teams-sec created pending",
        ] {
            assert!(
                text.contains(shown),
                "{w}x{h}: {shown} not on screen:\n{text}"
            );
        }
        insta::assert_snapshot!(format!("detail_deliveries_{w}x{h}"), term.backend());
    }
}

/// The state column is coloured (ok green, failing red, disabled grey) in 16-colour names, and with
/// `NO_COLOR` keeps its word and its emphasis (failing bold, disabled dim) without any colour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_states_are_coloured_and_readable_without_colour() {
    use ratatui::style::Modifier;
    for no_color in [false, true] {
        let (_dir, handle, _store) = outbound_engine();
        let opts = vigil::tui::UiOptions {
            user: "tester".into(),
            keymap_path: None,
            no_color,
            title: "t".into(),
            ..Default::default()
        };
        let (mut app, e) = vigil::tui::App::new(handle, &opts, t(12, 0));
        app.settle(e).await;
        for m in [Msg::Resize(80, 24), Msg::Action(Action::ShowIntegrations)] {
            let e = app.update(m);
            app.settle(e).await;
        }
        let term = render(&app, 80, 24);
        let buf = term.backend().buffer();
        let rows = screen_rows(&term);
        // The first cell of `word` in the row of integration `name` (row 0 carries the cursor: not used).
        let cell = |name: &str, word: &str| {
            let y = rows.iter().position(|r| r.contains(name)).unwrap();
            let x = rows[y][..rows[y].find(word).unwrap()].chars().count() as u16;
            buf[(x, y as u16)].clone()
        };
        let failing = cell("siem ", "failing");
        let disabled = cell("teams-sec ", "disabled");
        let ok = cell("jira-sec ", "ok ");
        if no_color {
            assert!(
                buf.content()
                    .iter()
                    .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
            );
            assert!(failing.modifier.contains(Modifier::BOLD));
            assert!(disabled.modifier.contains(Modifier::DIM));
        } else {
            assert_eq!(failing.fg, Color::LightRed);
            assert_eq!(disabled.fg, Color::DarkGray);
            assert_eq!(ok.fg, Color::LightGreen);
        }
    }
}
