//! Keys → actions: the keymap as data (`keymap.toml`), user overrides, chord state, and the keys each `?` help line
//! lists (the line's text is [`Action::help`]).
//!
//! Resolving a key never changes application state; the caller applies the [`Action`] (STYLE: "Keys → actions →
//! state → view"). Chords such as `g g` are entries in the table, not code. Bad user entries are collected as
//! [`KeymapError`]s — the keymap keeps every valid binding — so a typo in one line never locks anyone out.

use std::fmt;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Deserialize;
use serde::de::IntoDeserializer;

use super::action::Action;

/// The default bindings, compiled in so vigil works with no files at all; the same text documents the format.
const DEFAULTS: &str = include_str!("../../keymap.toml");

/// The name errors in the built-in keymap are reported under.
const DEFAULTS_NAME: &str = "keymap.toml (built in)";

/// The only table a keymap file may contain today; named so that other modes can be added later.
const NORMAL: &str = "normal";

/// The action name that removes a binding instead of setting one.
const UNBIND: &str = "none";

/// The kebab-case name `keymap.toml` uses for an action (its serde name).
pub fn action_name(action: Action) -> String {
    match serde_json::to_value(action) {
        Ok(serde_json::Value::String(s)) => s,
        // Only reachable for variants serde cannot name (`#[serde(skip)]`), which are not bindable anyway.
        _ => format!("{action:?}"),
    }
}

/// Parses an action name as written in `keymap.toml`; internal (`#[serde(skip)]`) actions are refused by serde.
fn parse_action(name: &str) -> Option<Action> {
    let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        name.into_deserializer();
    Action::deserialize(de).ok()
}

/// One problem in a keymap file, with its place, so `vigil check` and the start-up banner can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}{}: {message}", line_suffix(.line))]
pub struct KeymapError {
    /// The file as the user knows it (the path given, or `keymap.toml (built in)`).
    pub path: String,
    /// 1-based line, when the problem has one (an unreadable file has none).
    pub line: Option<usize>,
    /// What is wrong, quoting the bad key or action.
    pub message: String,
}

fn line_suffix(line: &Option<usize>) -> String {
    line.map(|n| format!(" line {n}")).unwrap_or_default()
}

/// What a key press means once the keymap has seen it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// Apply this action.
    Action(Action),
    /// The key started (or continued) a chord; wait for the next key. [`Keymap::pending`] says what was typed.
    Pending,
    /// The key means nothing here (or cancelled a half-typed chord).
    Unbound,
}

/// One key with its modifiers, normalised so that a binding and a terminal event compare equal: a character
/// carries its own case (no SHIFT), and shift-tab is always `BackTab`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    code: KeyCode,
    mods: KeyModifiers,
}

impl Key {
    /// The normal form of a terminal key event; `None` for keys no binding can name (media keys, lone modifiers).
    fn from_event(ev: &KeyEvent) -> Option<Key> {
        let mut mods =
            ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match ev.code {
            KeyCode::Char(c) => {
                // Terminals report `G` as Char('G') with or without SHIFT, and some (kitty protocol) as Char('g')
                // with SHIFT: the character's case is the only truth kept.
                let shifted = mods.contains(KeyModifiers::SHIFT);
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(if shifted && c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c
                })
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            c @ (KeyCode::Enter
            | KeyCode::Esc
            | KeyCode::Tab
            | KeyCode::Backspace
            | KeyCode::Delete
            | KeyCode::Insert
            | KeyCode::Up
            | KeyCode::Down
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::Home
            | KeyCode::End
            | KeyCode::PageUp
            | KeyCode::PageDown
            | KeyCode::F(_)) => c,
            _ => return None,
        };
        Some(Key { code, mods })
    }

    /// Parses one key as written in `keymap.toml` (`j`, `G`, `ctrl-d`, `shift-tab`, `f5`, `space`).
    fn parse(s: &str) -> Option<Key> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        'prefixes: loop {
            for (prefix, m) in [
                ("ctrl-", KeyModifiers::CONTROL),
                ("alt-", KeyModifiers::ALT),
                ("shift-", KeyModifiers::SHIFT),
            ] {
                // `get` rather than slicing: the text is user input and may split a multi-byte character.
                if rest.len() > prefix.len()
                    && rest
                        .get(..prefix.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
                {
                    if mods.contains(m) {
                        return None;
                    }
                    mods |= m;
                    rest = &rest[prefix.len()..];
                    continue 'prefixes;
                }
            }
            break;
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                if c.is_whitespace() || c.is_control() {
                    return None;
                }
                if mods.contains(KeyModifiers::SHIFT) {
                    // `shift-1` depends on the keyboard layout; only letters have a portable shifted form.
                    if !c.is_ascii_alphabetic() {
                        return None;
                    }
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::Char(c.to_ascii_uppercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            _ => {
                let name = rest.to_ascii_lowercase();
                let code = match name.as_str() {
                    "enter" | "return" | "cr" => KeyCode::Enter,
                    "esc" | "escape" => KeyCode::Esc,
                    "tab" => KeyCode::Tab,
                    "backtab" => KeyCode::BackTab,
                    "space" | "spc" => KeyCode::Char(' '),
                    "backspace" | "bs" => KeyCode::Backspace,
                    "delete" | "del" => KeyCode::Delete,
                    "insert" | "ins" => KeyCode::Insert,
                    "up" => KeyCode::Up,
                    "down" => KeyCode::Down,
                    "left" => KeyCode::Left,
                    "right" => KeyCode::Right,
                    "home" => KeyCode::Home,
                    "end" => KeyCode::End,
                    "pageup" | "pgup" => KeyCode::PageUp,
                    "pagedown" | "pgdn" | "pgdown" => KeyCode::PageDown,
                    f if f.starts_with('f') => match f[1..].parse::<u8>() {
                        Ok(n @ 1..=24) if !f[1..].starts_with('0') => KeyCode::F(n),
                        _ => return None,
                    },
                    _ => return None,
                };
                match code {
                    KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
                        mods.remove(KeyModifiers::SHIFT);
                        KeyCode::BackTab
                    }
                    // `shift-space` cannot be told apart from space by most terminals.
                    KeyCode::Char(_) if mods.contains(KeyModifiers::SHIFT) => return None,
                    other => other,
                }
            }
        };
        Some(Key { code, mods })
    }
}

impl fmt::Display for Key {
    /// The canonical spelling, which [`Key::parse`] reads back: what help and the footer show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pageup"),
            KeyCode::PageDown => f.write_str("pagedown"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

fn display_keys(keys: &[Key]) -> String {
    keys.iter()
        .map(Key::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a binding came from, so a conflict is reported against the line that caused it.
#[derive(Debug, Clone)]
struct Origin {
    layer: usize,
    path: String,
    line: usize,
}

#[derive(Debug, Clone)]
struct Binding {
    keys: Vec<Key>,
    action: Action,
    origin: Origin,
}

/// The live key bindings plus the half-typed chord, if any.
#[derive(Debug, Clone)]
pub struct Keymap {
    /// In file order (defaults first, user additions after), so an action's first key is its primary one.
    bindings: Vec<Binding>,
    pending: Vec<Key>,
}

/// One valid line of a keymap file.
struct Entry {
    keys: Vec<Key>,
    /// `None` unbinds.
    action: Option<Action>,
    line: usize,
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Reads one keymap file into its valid entries (in file order) and the errors of the rest.
fn parse_file(text: &str, path: &str) -> (Vec<Entry>, Vec<KeymapError>) {
    use toml::de::{DeTable, DeValue};

    let err = |line: Option<usize>, message: String| KeymapError {
        path: path.to_string(),
        line,
        message,
    };
    let (doc, parse_errors) = DeTable::parse_recoverable(text);
    let mut errors: Vec<KeymapError> = parse_errors
        .iter()
        .map(|e| {
            err(
                e.span().map(|s| line_of(text, s.start)),
                e.message().trim().to_string(),
            )
        })
        .collect();
    let mut entries = Vec::new();
    let mut tables: Vec<_> = doc.get_ref().iter().collect();
    tables.sort_by_key(|(k, _)| k.span().start);
    for (name, value) in tables {
        let line = Some(line_of(text, name.span().start));
        let DeValue::Table(table) = value.get_ref() else {
            errors.push(err(
                line,
                format!(
                    "\"{}\": bindings belong in the [{NORMAL}] table",
                    name.get_ref()
                ),
            ));
            continue;
        };
        if name.get_ref() != NORMAL {
            errors.push(err(
                line,
                format!(
                    "unknown table [{}]; the only table is [{NORMAL}]",
                    name.get_ref()
                ),
            ));
            continue;
        }
        let mut rows: Vec<_> = table.iter().collect();
        rows.sort_by_key(|(k, _)| k.span().start);
        for (key, value) in rows {
            let line = line_of(text, key.span().start);
            let key_text = key.get_ref().as_ref();
            let keys: Option<Vec<Key>> = if key_text.trim().is_empty() {
                None
            } else {
                key_text.split_whitespace().map(Key::parse).collect()
            };
            let Some(keys) = keys else {
                errors.push(err(Some(line), format!("\"{key_text}\": not a key")));
                continue;
            };
            let Some(name) = value.get_ref().as_str() else {
                errors.push(err(
                    Some(line),
                    format!(
                        "\"{key_text}\": the action must be a string such as \"next-row\", not a {}",
                        value.get_ref().type_str()
                    ),
                ));
                continue;
            };
            let action = if name == UNBIND {
                None
            } else {
                match parse_action(name) {
                    Some(a) => Some(a),
                    None => {
                        errors.push(err(
                            Some(line),
                            format!("\"{key_text}\": unknown action \"{name}\"{}", suggest(name)),
                        ));
                        continue;
                    }
                }
            };
            entries.push(Entry { keys, action, line });
        }
    }
    (entries, errors)
}

/// A hint for a misspelt action name: the known names sharing a word with it.
fn suggest(name: &str) -> String {
    let words: Vec<&str> = name
        .split(['-', '_', ' '])
        .filter(|w| w.len() > 2)
        .collect();
    let close: Vec<String> = Action::ALL
        .iter()
        .map(|a| action_name(*a))
        .filter(|n| words.iter().any(|w| n.contains(&w.to_ascii_lowercase())))
        .take(4)
        .collect();
    if close.is_empty() {
        format!("; `?` in vigil lists the action names, or use \"{UNBIND}\" to unbind")
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

impl Keymap {
    /// The built-in bindings from the embedded `keymap.toml` (a test keeps that file free of errors).
    pub fn defaults() -> Keymap {
        Self::from_strs(DEFAULTS, None).0
    }

    /// The defaults overlaid with the user's keymap file. A missing file is normal (no error); an unreadable one is
    /// reported and ignored. Never fails: the errors come back beside the best keymap that could be built.
    pub fn load(user: Option<&Path>) -> (Keymap, Vec<KeymapError>) {
        match user.map(read_user) {
            None | Some(Ok(None)) => Self::from_strs(DEFAULTS, None),
            Some(Ok(Some((text, name)))) => Self::from_strs(DEFAULTS, Some((&text, &name))),
            Some(Err(e)) => {
                let (map, mut errors) = Self::from_strs(DEFAULTS, None);
                errors.push(e);
                (map, errors)
            }
        }
    }

    /// [`Keymap::load`] from text: `defaults` is a whole keymap, `user` (text, name for errors) overrides single
    /// bindings. Exposed so tests need no files.
    pub fn from_strs(defaults: &str, user: Option<(&str, &str)>) -> (Keymap, Vec<KeymapError>) {
        let mut map = Keymap {
            bindings: Vec::new(),
            pending: Vec::new(),
        };
        let mut errors = Vec::new();
        let layers = std::iter::once((defaults, DEFAULTS_NAME)).chain(user);
        for (layer, (text, path)) in layers.enumerate() {
            let (entries, errs) = parse_file(text, path);
            errors.extend(errs);
            for e in entries {
                let origin = Origin {
                    layer,
                    path: path.to_string(),
                    line: e.line,
                };
                map.set(e.keys, e.action, origin, &mut errors);
            }
        }
        map.drop_shadowed_chords(&mut errors);
        (map, errors)
    }

    /// Binds (or unbinds) one key sequence; a later layer replaces silently, a repeat within one file is reported
    /// (TOML already refuses the same string twice, so this is `G` versus `shift-g`).
    fn set(
        &mut self,
        keys: Vec<Key>,
        action: Option<Action>,
        origin: Origin,
        errors: &mut Vec<KeymapError>,
    ) {
        if let Some(i) = self.bindings.iter().position(|b| b.keys == keys) {
            let old = &self.bindings[i].origin;
            if old.layer == origin.layer {
                errors.push(KeymapError {
                    path: origin.path.clone(),
                    line: Some(origin.line),
                    message: format!(
                        "\"{}\": already bound on line {}; the later line wins",
                        display_keys(&keys),
                        old.line
                    ),
                });
            }
            match action {
                Some(action) => {
                    self.bindings[i].action = action;
                    self.bindings[i].origin = origin;
                }
                None => {
                    self.bindings.remove(i);
                }
            }
        } else if let Some(action) = action {
            self.bindings.push(Binding {
                keys,
                action,
                origin,
            });
        }
    }

    /// A key bound on its own and also the start of a chord would make the chord untypable (there is no timeout).
    /// Keep the binding from the later file (the user's intent), else the earlier line, and report the other.
    fn drop_shadowed_chords(&mut self, errors: &mut Vec<KeymapError>) {
        loop {
            let mut conflict = None;
            'outer: for (i, short) in self.bindings.iter().enumerate() {
                for (j, long) in self.bindings.iter().enumerate() {
                    if long.keys.len() > short.keys.len() && long.keys.starts_with(&short.keys) {
                        conflict = Some((i, j));
                        break 'outer;
                    }
                }
            }
            let Some((i, j)) = conflict else { return };
            let (a, b) = (&self.bindings[i], &self.bindings[j]);
            let later = |x: &Origin, y: &Origin| (x.layer, x.line) > (y.layer, y.line);
            let (keep, drop) = if a.origin.layer != b.origin.layer {
                if a.origin.layer > b.origin.layer {
                    (i, j)
                } else {
                    (j, i)
                }
            } else if later(&a.origin, &b.origin) {
                (j, i)
            } else {
                (i, j)
            };
            let (k, d) = (&self.bindings[keep], &self.bindings[drop]);
            let reported = if k.origin.layer > d.origin.layer {
                k
            } else {
                d
            };
            errors.push(KeymapError {
                path: reported.origin.path.clone(),
                line: Some(reported.origin.line),
                message: format!(
                    "\"{}\" ({}) and \"{}\" ({}) conflict: a key cannot both act and start a chord; \"{}\" is ignored",
                    display_keys(&self.bindings[i].keys),
                    action_name(self.bindings[i].action),
                    display_keys(&self.bindings[j].keys),
                    action_name(self.bindings[j].action),
                    display_keys(&d.keys),
                ),
            });
            self.bindings.remove(drop);
        }
    }

    /// Feeds one key event. Keeps the chord state: a prefix of a chord answers `Pending`; Esc or a key that
    /// continues no chord cancels it (`Unbound`, and the key is not reinterpreted). Key releases change nothing;
    /// auto-repeat acts like a press.
    pub fn resolve(&mut self, key: KeyEvent) -> Resolved {
        if key.kind == KeyEventKind::Release {
            return if self.pending.is_empty() {
                Resolved::Unbound
            } else {
                Resolved::Pending
            };
        }
        let Some(k) = Key::from_event(&key) else {
            self.pending.clear();
            return Resolved::Unbound;
        };
        if !self.pending.is_empty() && k.code == KeyCode::Esc && k.mods.is_empty() {
            self.pending.clear();
            return Resolved::Unbound;
        }
        let mut seq = std::mem::take(&mut self.pending);
        seq.push(k);
        if let Some(b) = self.bindings.iter().find(|b| b.keys == seq) {
            return Resolved::Action(b.action);
        }
        if self
            .bindings
            .iter()
            .any(|b| b.keys.len() > seq.len() && b.keys.starts_with(&seq))
        {
            self.pending = seq;
            return Resolved::Pending;
        }
        Resolved::Unbound
    }

    /// Forgets a half-typed chord (on focus changes, or when a prompt opens).
    pub fn reset_pending(&mut self) {
        self.pending.clear();
    }

    /// The half-typed chord in display form (`"g"`), for the footer; `None` when no chord is in progress.
    pub fn pending(&self) -> Option<String> {
        (!self.pending.is_empty()).then(|| display_keys(&self.pending))
    }

    /// Every action in enum order with its keys (possibly none), for the `?` help: one line per action.
    pub fn bindings(&self) -> Vec<(Action, Vec<String>)> {
        Action::ALL
            .iter()
            .map(|a| (*a, self.keys_for(*a)))
            .collect()
    }

    /// The keys bound to an action in display form (`["j", "down"]`, `["g g", "home"]`), primary key first.
    pub fn keys_for(&self, action: Action) -> Vec<String> {
        self.bindings
            .iter()
            .filter(|b| b.action == action)
            .map(|b| display_keys(&b.keys))
            .collect()
    }
}

/// Reads a user keymap: `Ok(None)` when it does not exist.
fn read_user(path: &Path) -> Result<Option<(String, String)>, KeymapError> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some((text, name))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KeymapError {
            path: name,
            line: None,
            message: format!("cannot read: {e}"),
        }),
    }
}

/// Validates a user keymap file against the built-in defaults, for `vigil check`. A missing file is not an error
/// (as in [`Keymap::load`]: the defaults apply).
pub fn check_file(path: &Path) -> Vec<KeymapError> {
    Keymap::load(Some(path)).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_display_round_trips() {
        for s in [
            "j",
            "G",
            "ctrl-d",
            "alt-x",
            "ctrl-alt-x",
            "space",
            "shift-tab",
            "f5",
            "+",
            "-",
            "ctrl--",
            "pageup",
            "shift-up",
        ] {
            let k = Key::parse(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(Key::parse(&k.to_string()), Some(k), "{s}");
        }
    }
}
