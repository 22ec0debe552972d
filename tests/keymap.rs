//! The keymap: embedded defaults, chords, user overrides, errors with their place, and key normalisation.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use proptest::prelude::*;
use vigil::tui::action::Action;
use vigil::tui::keymap::{Keymap, KeymapError, Resolved, check_file};

const DEFAULTS: &str = include_str!("../keymap.toml");

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

fn with(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, mods)
}

fn user(text: &str) -> (Keymap, Vec<KeymapError>) {
    Keymap::from_strs(DEFAULTS, Some((text, "my-keys.toml")))
}

#[test]
fn defaults_parse_cleanly_and_bind_every_action() {
    let (map, errors) = Keymap::from_strs(DEFAULTS, None);
    assert_eq!(errors, vec![]);
    let bindings = map.bindings();
    assert!(bindings.len() >= 39);
    for (action, keys) in &bindings {
        assert!(!keys.is_empty(), "{action:?} has no default key");
        assert!(!action.help().is_empty());
    }
    // Enum order, one line per action.
    assert_eq!(bindings[0].0, Action::NextRow);
    assert_eq!(bindings.last().map(|b| b.0), Some(Action::Quit));
    let mut seen: Vec<Action> = bindings.iter().map(|b| b.0).collect();
    seen.dedup();
    assert_eq!(seen.len(), bindings.len());
    // The same map as the one `defaults()` and `load(None)` give.
    assert_eq!(Keymap::defaults().bindings(), bindings);
    let (loaded, errors) = Keymap::load(None);
    assert!(errors.is_empty());
    assert_eq!(loaded.bindings(), bindings);
}

#[test]
fn documented_defaults() {
    let mut map = Keymap::defaults();
    for (ev, action) in [
        (ch('j'), Action::NextRow),
        (key(KeyCode::Down), Action::NextRow),
        (ch('k'), Action::PrevRow),
        (key(KeyCode::Up), Action::PrevRow),
        (ch('G'), Action::LastRow),
        (key(KeyCode::Tab), Action::NextPane),
        (key(KeyCode::BackTab), Action::PrevPane),
        (ch('1'), Action::ShowQueue),
        (ch('5'), Action::ShowIntegrations),
        (ch('?'), Action::Help),
        (ch('/'), Action::Filter),
        (ch(':'), Action::CommandLine),
        (ch(' '), Action::ToggleSelect),
        (key(KeyCode::Esc), Action::Back),
        (key(KeyCode::Enter), Action::Open),
        (ch('q'), Action::Quit),
        (ch('a'), Action::Acknowledge),
        (ch('A'), Action::Assign),
        (ch('+'), Action::WidenTimeline),
        (ch('-'), Action::NarrowTimeline),
        (ch('d'), Action::ToggleDetection),
        (key(KeyCode::F(1)), Action::Help),
    ] {
        assert_eq!(map.resolve(ev), Resolved::Action(action), "{ev:?}");
    }
    assert_eq!(map.keys_for(Action::NextRow), vec!["j", "down"]);
    assert_eq!(map.keys_for(Action::FirstRow), vec!["g g", "home"]);
    assert_eq!(map.keys_for(Action::PrevPane), vec!["shift-tab", "h"]);
}

#[test]
fn chord_g_g() {
    let mut map = Keymap::defaults();
    assert_eq!(map.pending(), None);
    assert_eq!(map.resolve(ch('g')), Resolved::Pending);
    assert_eq!(map.pending().as_deref(), Some("g"));
    assert_eq!(map.resolve(ch('g')), Resolved::Action(Action::FirstRow));
    assert_eq!(map.pending(), None);

    // Esc cancels a half-typed chord without acting as Back.
    assert_eq!(map.resolve(ch('g')), Resolved::Pending);
    assert_eq!(map.resolve(key(KeyCode::Esc)), Resolved::Unbound);
    assert_eq!(map.pending(), None);
    assert_eq!(
        map.resolve(key(KeyCode::Esc)),
        Resolved::Action(Action::Back)
    );

    // A key that continues no chord cancels it and is not reinterpreted.
    assert_eq!(map.resolve(ch('g')), Resolved::Pending);
    assert_eq!(map.resolve(ch('j')), Resolved::Unbound);
    assert_eq!(map.resolve(ch('j')), Resolved::Action(Action::NextRow));

    assert_eq!(map.resolve(ch('g')), Resolved::Pending);
    map.reset_pending();
    assert_eq!(map.pending(), None);
    assert_eq!(map.resolve(ch('j')), Resolved::Action(Action::NextRow));
}

#[test]
fn shifted_letters_with_or_without_shift_modifier() {
    let mut map = Keymap::defaults();
    assert_eq!(map.resolve(ch('G')), Resolved::Action(Action::LastRow));
    assert_eq!(
        map.resolve(with(KeyCode::Char('G'), KeyModifiers::SHIFT)),
        Resolved::Action(Action::LastRow)
    );
    // Some terminals (kitty protocol) report the unshifted character plus SHIFT.
    assert_eq!(
        map.resolve(with(KeyCode::Char('g'), KeyModifiers::SHIFT)),
        Resolved::Action(Action::LastRow)
    );
    // Lower case stays distinct.
    assert_eq!(map.resolve(ch('g')), Resolved::Pending);
    map.reset_pending();
    // Shift-tab either way.
    assert_eq!(
        map.resolve(with(KeyCode::Tab, KeyModifiers::SHIFT)),
        Resolved::Action(Action::PrevPane)
    );
    assert_eq!(
        map.resolve(with(KeyCode::BackTab, KeyModifiers::SHIFT)),
        Resolved::Action(Action::PrevPane)
    );
    // `?` arrives with SHIFT on most layouts.
    assert_eq!(
        map.resolve(with(KeyCode::Char('?'), KeyModifiers::SHIFT)),
        Resolved::Action(Action::Help)
    );
}

#[test]
fn ctrl_keys() {
    let mut map = Keymap::defaults();
    assert_eq!(
        map.resolve(with(KeyCode::Char('d'), KeyModifiers::CONTROL)),
        Resolved::Action(Action::HalfPageDown)
    );
    assert_eq!(
        map.resolve(with(KeyCode::Char('u'), KeyModifiers::CONTROL)),
        Resolved::Action(Action::HalfPageUp)
    );
    // ctrl-d is not d.
    assert_ne!(
        map.resolve(with(KeyCode::Char('d'), KeyModifiers::CONTROL)),
        Resolved::Action(Action::ToggleDetection)
    );
    assert_eq!(
        map.resolve(with(KeyCode::Char('x'), KeyModifiers::ALT)),
        Resolved::Unbound
    );
    assert_eq!(
        map.keys_for(Action::HalfPageDown),
        vec!["ctrl-d", "pagedown"]
    );
}

#[test]
fn releases_are_ignored_and_repeats_act() {
    let mut map = Keymap::defaults();
    let mut release = ch('j');
    release.kind = KeyEventKind::Release;
    assert_eq!(map.resolve(release), Resolved::Unbound);
    let repeat = KeyEvent::new_with_kind_and_state(
        KeyCode::Char('j'),
        KeyModifiers::NONE,
        KeyEventKind::Repeat,
        KeyEventState::NONE,
    );
    assert_eq!(map.resolve(repeat), Resolved::Action(Action::NextRow));
    // A release in the middle of a chord keeps it.
    assert_eq!(map.resolve(ch('g')), Resolved::Pending);
    let mut release_g = ch('g');
    release_g.kind = KeyEventKind::Release;
    assert_eq!(map.resolve(release_g), Resolved::Pending);
    assert_eq!(map.resolve(ch('g')), Resolved::Action(Action::FirstRow));
}

#[test]
fn user_override_replaces_one_binding_and_keeps_the_rest() {
    let (mut map, errors) = user("[normal]\n\"j\" = \"prev-row\"\n\"ctrl-n\" = \"next-row\"\n");
    assert_eq!(errors, vec![]);
    assert_eq!(map.resolve(ch('j')), Resolved::Action(Action::PrevRow));
    assert_eq!(
        map.resolve(with(KeyCode::Char('n'), KeyModifiers::CONTROL)),
        Resolved::Action(Action::NextRow)
    );
    assert_eq!(
        map.resolve(key(KeyCode::Down)),
        Resolved::Action(Action::NextRow)
    );
    assert_eq!(map.resolve(ch('k')), Resolved::Action(Action::PrevRow));
    assert_eq!(map.resolve(ch('q')), Resolved::Action(Action::Quit));
    assert_eq!(map.keys_for(Action::NextRow), vec!["down", "ctrl-n"]);
    assert_eq!(map.keys_for(Action::PrevRow), vec!["j", "k", "up"]);
}

#[test]
fn unbinding() {
    let (mut map, errors) =
        user("[normal]\n\"x\" = \"none\"\n\"g g\" = \"none\"\n\"zz\" = \"none\"\n");
    // "zz" is not a key (two characters, no name): reported; the valid lines still apply.
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(map.resolve(ch('x')), Resolved::Unbound);
    assert_eq!(map.resolve(ch('g')), Resolved::Unbound);
    assert!(map.keys_for(Action::Export).is_empty());
    assert_eq!(map.keys_for(Action::FirstRow), vec!["home"]);
    // Unbound actions still get a help line.
    assert!(
        map.bindings()
            .iter()
            .any(|(a, k)| *a == Action::Export && k.is_empty())
    );
}

#[test]
fn bad_entries_are_reported_with_lines_and_the_rest_applies() {
    let text = "# my keys\n[normal]\n\"j\" = \"prev-row\"\n\"ctrl-shift-nope\" = \"quit\"\n\"k\" = \"frobnicate\"\n\"l\" = 3\n\"v\" = \"next-row\"\n";
    let (mut map, errors) = user(text);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(
        errors[0].to_string(),
        "my-keys.toml line 4: \"ctrl-shift-nope\": not a key"
    );
    assert_eq!(errors[0].line, Some(4));
    assert_eq!(errors[0].path, "my-keys.toml");
    assert_eq!(errors[1].line, Some(5));
    assert!(
        errors[1].message.contains("unknown action \"frobnicate\""),
        "{}",
        errors[1]
    );
    assert_eq!(errors[2].line, Some(6));
    assert!(errors[2].message.contains("string"), "{}", errors[2]);
    assert_eq!(map.resolve(ch('j')), Resolved::Action(Action::PrevRow));
    assert_eq!(map.resolve(ch('v')), Resolved::Action(Action::NextRow));
    // Bad lines leave the defaults in place.
    assert_eq!(map.resolve(ch('k')), Resolved::Action(Action::PrevRow));
    assert_eq!(map.resolve(ch('l')), Resolved::Action(Action::NextPane));
}

#[test]
fn misspelt_action_gets_a_suggestion() {
    let (_, errors) = user("[normal]\n\"z\" = \"next-rows\"\n");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("next-row"), "{}", errors[0]);
}

#[test]
fn toml_syntax_errors_and_wrong_tables() {
    let (map, errors) = user("[normal]\n\"j\" = \"prev-row\n");
    assert!(!errors.is_empty());
    assert_eq!(errors[0].line, Some(2), "{errors:?}");
    assert!(!map.bindings().is_empty());

    let (_, errors) = user("j = \"next-row\"\n[insert]\n\"a\" = \"quit\"\n");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].line, Some(1));
    assert!(errors[0].message.contains("[normal]"));
    assert_eq!(errors[1].line, Some(2));
    assert!(errors[1].message.contains("[insert]"));
}

#[test]
fn key_that_shadows_a_chord_is_reported_and_the_user_wins() {
    let (mut map, errors) = user("[normal]\n\"g\" = \"refresh\"\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "my-keys.toml");
    assert_eq!(errors[0].line, Some(2));
    assert!(errors[0].message.contains("\"g g\""), "{}", errors[0]);
    assert_eq!(map.resolve(ch('g')), Resolved::Action(Action::Refresh));

    // The other way round: a user chord starting with a default key.
    let (mut map, errors) = user("[normal]\n\"q q\" = \"quit\"\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(map.resolve(ch('q')), Resolved::Pending);
    assert_eq!(map.resolve(ch('q')), Resolved::Action(Action::Quit));
}

#[test]
fn same_key_twice_in_one_file() {
    let (mut map, errors) = user("[normal]\n\"G\" = \"quit\"\n\"shift-g\" = \"refresh\"\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, Some(3));
    assert_eq!(map.resolve(ch('G')), Resolved::Action(Action::Refresh));
}

#[test]
fn key_spellings() {
    let (mut map, errors) = user(concat!(
        "[normal]\n",
        "\"CTRL-Alt-x\" = \"quit\"\n",
        "\"shift-up\" = \"first-row\"\n",
        "\"f12\" = \"refresh\"\n",
        "\"pgdn\" = \"last-row\"\n",
        "\"ctrl--\" = \"narrow-timeline\"\n",
        "\"Escape\" = \"quit\"\n",
        "\"z z\" = \"help\"\n",
    ));
    assert_eq!(errors, vec![]);
    assert_eq!(
        map.resolve(with(
            KeyCode::Char('x'),
            KeyModifiers::CONTROL | KeyModifiers::ALT
        )),
        Resolved::Action(Action::Quit)
    );
    assert_eq!(
        map.resolve(with(KeyCode::Up, KeyModifiers::SHIFT)),
        Resolved::Action(Action::FirstRow)
    );
    assert_eq!(
        map.resolve(key(KeyCode::F(12))),
        Resolved::Action(Action::Refresh)
    );
    assert_eq!(
        map.resolve(key(KeyCode::PageDown)),
        Resolved::Action(Action::LastRow)
    );
    assert_eq!(
        map.resolve(with(KeyCode::Char('-'), KeyModifiers::CONTROL)),
        Resolved::Action(Action::NarrowTimeline)
    );
    assert_eq!(
        map.resolve(key(KeyCode::Esc)),
        Resolved::Action(Action::Quit)
    );
    assert_eq!(map.keys_for(Action::Help), vec!["?", "f1", "z z"]);

    for bad in [
        "ctrl-",
        "f0",
        "f25",
        "f01",
        "shift-1",
        "ctrl-ctrl-x",
        "hyper-x",
        "",
        " ",
        "shift-space",
    ] {
        let (_, errors) = user(&format!("[normal]\n\"{bad}\" = \"quit\"\n"));
        assert_eq!(errors.len(), 1, "{bad:?}: {errors:?}");
        assert!(
            errors[0].message.contains("not a key"),
            "{bad:?}: {}",
            errors[0]
        );
    }
}

#[test]
fn load_and_check_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let (map, errors) = Keymap::load(Some(&missing));
    assert!(errors.is_empty());
    assert_eq!(map.bindings(), Keymap::defaults().bindings());
    assert!(check_file(&missing).is_empty());

    let path = dir.path().join("keymap.toml");
    std::fs::write(&path, "[normal]\n\"j\" = \"prev-row\"\n\"k\" = \"nope\"\n").unwrap();
    let (mut map, errors) = Keymap::load(Some(&path));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, path.display().to_string());
    assert_eq!(errors[0].line, Some(3));
    assert_eq!(map.resolve(ch('j')), Resolved::Action(Action::PrevRow));
    assert_eq!(check_file(&path), errors);

    // A directory cannot be read: reported without a line, defaults kept.
    let (map, errors) = Keymap::load(Some(dir.path()));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, None);
    assert!(!errors[0].to_string().contains("line"));
    assert_eq!(map.bindings(), Keymap::defaults().bindings());
}

proptest! {
    /// No user file, however broken, panics the loader.
    #[test]
    fn arbitrary_user_text_never_panics(text in "\\PC{0,200}") {
        let _ = user(&text);
    }

    #[test]
    fn arbitrary_keys_never_panic(k in "\\PC{0,24}", a in "[a-z-]{0,20}") {
        let text = format!("[normal]\n{} = {}\n", toml_str(&k), toml_str(&a));
        let (mut map, errors) = user(&text);
        for e in &errors {
            prop_assert!(e.line.is_some());
        }
        let _ = map.resolve(ch('g'));
        let _ = map.resolve(ch('x'));
    }

    #[test]
    fn arbitrary_events_never_panic(c in any::<char>(), bits in 0u8..16) {
        let mut map = Keymap::defaults();
        let mods = KeyModifiers::from_bits_truncate(bits);
        let _ = map.resolve(with(KeyCode::Char(c), mods));
        let _ = map.pending();
    }
}

/// A TOML basic string for any text.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The outbound keys are shifted letters nobody else had: the lower-case ones keep their triage and tuning
/// meaning (`t` true positive, `e` expected, `S` sensitivity), so the new keys change no one's habits.
#[test]
fn outbound_keys_take_no_existing_binding() {
    let mut map = Keymap::defaults();
    for (c, action) in [
        ('T', Action::TestIntegration),
        ('R', Action::ReplayDeadLetters),
        ('E', Action::ToggleIntegration),
        ('J', Action::CreateJiraIssue),
        ('F', Action::SendTo),
        ('t', Action::MarkTruePositive),
        ('e', Action::MarkExpected),
        ('S', Action::CycleSensitivity),
    ] {
        assert_eq!(map.resolve(ch(c)), Resolved::Action(action), "{c}");
    }
    // Each new action has exactly its one default key, so none was added on top of an old binding.
    for action in [
        Action::TestIntegration,
        Action::ReplayDeadLetters,
        Action::ToggleIntegration,
        Action::CreateJiraIssue,
        Action::SendTo,
    ] {
        assert_eq!(map.keys_for(action).len(), 1, "{action:?}");
    }
    // And they are remappable like any other.
    let (mut map, errors) = user("[normal]\n\"ctrl-t\" = \"test-integration\"\n\"T\" = \"none\"\n");
    assert_eq!(errors, vec![]);
    assert_eq!(
        map.resolve(with(KeyCode::Char('t'), KeyModifiers::CONTROL)),
        Resolved::Action(Action::TestIntegration)
    );
    assert_eq!(map.resolve(ch('T')), Resolved::Unbound);
}
