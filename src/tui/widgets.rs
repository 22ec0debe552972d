//! Small drawing helpers shared by the panes: the header, the footer, the prompt line, text cleaning and
//! time formats. Every string that came from an event or alert passes through [`clean`] before a cell.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::model::{AlertStatus, Attempt, Severity, text};
use crate::tui::action::Action;
use crate::tui::keymap::Keymap;
use crate::tui::state::{AppState, Mode, Pane, PromptKind};
use crate::tui::theme::Theme;

/// Outside text made safe for a cell (control characters inert) and cut to `max` characters.
pub fn clean(s: &str, max: usize) -> String {
    text::truncate(&text::sanitize(s), max)
}

/// Outside text made safe for a cell and cut to `width` terminal columns, the cut marked with `…`. Widths
/// are display widths (a CJK character or most emoji take two columns) and the cut falls between grapheme
/// clusters, so an emoji with its modifiers or a letter with its combining marks is kept whole or dropped
/// whole. A table cell must be given text fitted to its real column width: the table itself cuts without
/// a mark, and an analyst cannot tell a cut name from a short one.
pub fn clean_fit(s: &str, width: usize) -> String {
    use unicode_segmentation::UnicodeSegmentation;
    use unicode_width::UnicodeWidthStr;

    let s = text::sanitize(s);
    if s.width() <= width {
        return s;
    }
    let room = width.saturating_sub(1);
    let mut out = String::with_capacity(width + 3);
    let mut used = 0;
    for g in s.graphemes(true) {
        let w = g.width();
        if used + w > room {
            break;
        }
        used += w;
        out.push_str(g);
    }
    if width > 0 {
        // `Audit stream…`, not `Audit stream …`: the mark sits on the last word kept.
        out.truncate(out.trim_end().len());
        out.push('…');
    }
    out
}

/// An optional outside string, or a dash.
pub fn clean_opt(s: Option<&str>, max: usize) -> String {
    s.map_or_else(|| "-".into(), |s| clean(s, max))
}

/// Compact UTC time for lists: `11-02 09:35`.
pub fn short_time(t: DateTime<Utc>) -> String {
    t.format("%m-%d %H:%M").to_string()
}

/// Full UTC time for the detail: `2026-11-02 09:35:15Z`.
pub fn full_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// What came of a delivery attempt, in a few words: `HTTP 201`, `HTTP 500 Internal Server Error`,
/// `timed out`. The error text comes from the worker and, through it, from the receiver: cleaned.
pub fn attempt_result(a: &Attempt) -> String {
    match (a.status, a.error.is_empty()) {
        (Some(code), true) => format!("HTTP {code}"),
        (None, true) => "ok".into(),
        (_, false) => clean(&a.error, 120),
    }
}

/// An attempt's latency: `340 ms`, `15.0 s`.
pub fn latency(ms: u64) -> String {
    if ms < 10_000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// A severity in four characters.
pub fn sev_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::High => "HIGH",
        Severity::Medium => "MED",
        Severity::Low => "LOW",
    }
}

/// A status in at most eight characters, in words (not `exp`, `tp`), for the queue and a narrow header.
pub fn status_label(s: AlertStatus) -> &'static str {
    match s {
        AlertStatus::Open => "open",
        AlertStatus::Acknowledged => "acked",
        AlertStatus::Expected => "expected",
        AlertStatus::TruePositive => "true pos",
    }
}

/// A status in words for people: `true positive`, not `true_positive`.
pub fn status_name(s: AlertStatus) -> &'static str {
    match s {
        AlertStatus::Open => "open",
        AlertStatus::Acknowledged => "acknowledged",
        AlertStatus::Expected => "expected",
        AlertStatus::TruePositive => "true positive",
    }
}

/// Seconds as `10m`, `1h`, `2d`.
pub fn span(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Two header lines: title, counts by status, ingest rate, health and unseen; then the pane tabs.
pub fn header(f: &mut Frame, area: Rect, s: &AppState, theme: Theme) {
    let st = &s.stats;
    let mut first = vec![
        Span::styled(format!(" {} ", clean(&s.title, 30)), theme.badge()),
        Span::raw(" "),
    ];
    // Whole words when they fit; the queue's short labels on a narrow screen.
    let words = s.width >= 100;
    for status in AlertStatus::ALL {
        let label = if words {
            status_name(status)
        } else {
            status_label(status)
        };
        first.push(Span::styled(label, theme.status(status)));
        first.push(Span::raw(format!(" {}  ", st.alerts.get(status))));
    }
    first.push(Span::styled(
        format!("{:.1} ev/s", st.ingest_rate),
        theme.dim(),
    ));
    let health = clean(&st.health, 30);
    first.push(Span::raw("  "));
    first.push(if health == "ok" {
        Span::styled("ok", theme.ok())
    } else {
        Span::styled(health, theme.error())
    });
    if s.queue.unseen > 0 {
        first.push(Span::raw("  "));
        first.push(Span::styled(
            format!("{} new", s.queue.unseen),
            theme.marked(),
        ));
    }
    let mut tabs = vec![Span::raw(" ")];
    for (i, p) in Pane::ALL.iter().enumerate() {
        let label = format!("{} {}", i + 1, p.name());
        let on = *p == s.pane || (s.wide() && s.pane == Pane::Detail && *p == Pane::Queue);
        tabs.push(if *p == s.pane {
            Span::styled(format!("[{label}]"), theme.heading())
        } else if on {
            Span::styled(format!(" {label} "), theme.bold())
        } else {
            Span::styled(format!(" {label} "), theme.dim())
        });
    }
    let lines = vec![Line::from(first), Line::from(tabs)];
    f.render_widget(Paragraph::new(lines), area);
}

/// The footer: mode badge, then a message, the pending chord, or key hints from the live keymap. While a
/// prompt is open, its error (or hint) has the footer: the prompt line has no room for a sentence at 80
/// columns. Whatever does not fit is cut with `…` by display width.
pub fn footer(f: &mut Frame, area: Rect, s: &AppState, keymap: &Keymap, theme: Theme) {
    let mode = s.mode();
    let badge = format!(" {} ", mode.label());
    let room = usize::from(area.width).saturating_sub(badge.chars().count() + 1);
    let mut spans = vec![Span::styled(badge, theme.badge()), Span::raw(" ")];
    let prompt_error = s.prompt.as_ref().and_then(|p| p.error());
    if let Some(menu) = &s.copy_menu {
        spans.push(Span::styled("copy: ", theme.heading()));
        for (k, label, _) in menu {
            spans.push(Span::styled(k.to_string(), theme.bold()));
            spans.push(Span::styled(format!(" {label}  "), theme.dim()));
        }
        spans.push(Span::styled("any other key cancels", theme.dim()));
    } else if let Some(p) = &s.pending_keys {
        spans.push(Span::styled(format!("{} …", clean(p, 20)), theme.marked()));
    } else if let Some(e) = prompt_error {
        spans.push(Span::styled(fit(&text::sanitize(e), room), theme.error()));
    } else if s.note.as_ref().is_some_and(|n| n.confirm_discard) {
        spans.push(Span::styled(
            fit(
                "discard the note? y/n (any other key goes back to it)",
                room,
            ),
            theme.error(),
        ));
    } else if let Some(h) = s.prompt.as_ref().and_then(|p| p.hint()) {
        // The open prompt's hint is about what is being typed now: it wins over an older message.
        spans.push(Span::styled(fit(&text::sanitize(&h), room), theme.dim()));
    } else if let Some(m) = &s.message {
        let style = if m.error { theme.error() } else { theme.ok() };
        spans.push(Span::styled(fit(&text::sanitize(&m.text), room), style));
    } else {
        let hints: &[(Action, &str)] = match (mode, s.pane) {
            (Mode::Note, _) => &[],
            (Mode::Normal, Pane::Detections) => &[
                (Action::ToggleDetection, "on/off"),
                (Action::CycleSensitivity, "sensitivity"),
                (Action::RemoveExclusion, "remove exclusion"),
                (Action::Help, "help"),
            ],
            (Mode::Normal, Pane::Timeline) => &[
                (Action::Open, "jump"),
                (Action::WidenTimeline, "widen"),
                (Action::NarrowTimeline, "narrow"),
                (Action::Help, "help"),
            ],
            (Mode::Normal, Pane::Integrations) => &[
                (Action::TestIntegration, "test"),
                (Action::ReplayDeadLetters, "replay dead"),
                (Action::ToggleIntegration, "on/off"),
                (Action::Help, "help"),
            ],
            (Mode::Normal, Pane::Queue | Pane::Detail) => &[
                (Action::Acknowledge, "ack"),
                (Action::MarkExpected, "expected"),
                (Action::ToggleSelect, "select"),
                (Action::Filter, "filter"),
                (Action::Help, "help"),
                (Action::Quit, "quit"),
            ],
            (Mode::Filter | Mode::Command | Mode::Confirm | Mode::Input, _) => &[],
        };
        if mode == Mode::Note {
            spans.push(Span::styled(
                "ctrl-s / alt-enter save · esc cancel",
                theme.dim(),
            ));
        } else if mode != Mode::Normal {
            spans.push(Span::styled("enter apply · esc cancel", theme.dim()));
        }
        for (action, what) in hints {
            if let Some(k) = keymap.keys_for(*action).first() {
                spans.push(Span::styled(k.clone(), theme.bold()));
                spans.push(Span::styled(format!(" {what}  "), theme.dim()));
            }
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `s` cut to `width` display columns, the cut marked with `…` (which takes the last column).
pub fn fit(s: &str, width: usize) -> String {
    crate::tui::wrap::fit(s, width)
}

/// `s` cut to `width` display columns in the middle, keeping its end: a prompt's question ends with what
/// it asks ("… from page-crawling until: "), which must stay readable when a long name is cut.
pub fn fit_keeping_end(s: &str, width: usize) -> String {
    if Span::raw(s).width() <= width {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    let tail_len = (width / 2).min(28).min(chars.len());
    let tail: String = chars[chars.len() - tail_len..].iter().collect();
    let head_room = width.saturating_sub(Span::raw(tail.as_str()).width());
    let head = fit(s, head_room);
    format!("{head}{tail}")
}

/// The one-line prompt (filter, command, assignee, path, expiry, confirm), with the filter's bad token
/// underlined in the error style and the cursor placed.
///
/// The line scrolls sideways so that the cursor is always on screen: when the text is wider than the room
/// after the question, its start is hidden behind a `…`. A question too long for half the line is cut
/// with `…` too (its error and hint are in the footer, see [`footer`]). Widths are display widths of the
/// text as drawn (sanitised, wide characters counted twice).
pub fn prompt_line(f: &mut Frame, area: Rect, s: &AppState, theme: Theme) {
    let Some(p) = &s.prompt else { return };
    let width = usize::from(area.width);
    // The question keeps at most what leaves 16 columns (or half the line) for the answer; a y/N question
    // takes one key, so it may have the whole line.
    let label_room = if p.mode() == Mode::Confirm {
        width.saturating_sub(1)
    } else {
        width.saturating_sub(16.min(width / 2))
    };
    let label = fit_keeping_end(&p.label(), label_room);
    let label_w = Span::raw(label.as_str()).width();
    let value = p.input.value();
    let bad = match &p.kind {
        PromptKind::Filter {
            error: Some((start, end, _)),
        } => Some((*start, *end)),
        _ => None,
    };
    // Each character as drawn, with its width and whether it is in the underlined span.
    let mut pieces: Vec<(String, usize, bool)> = Vec::with_capacity(value.len());
    for (at, c) in value.char_indices() {
        let shown = text::sanitize(c.encode_utf8(&mut [0; 4]));
        let w = Span::raw(shown.as_str()).width();
        let underline = bad.is_some_and(|(a, b)| at >= a && at < b.max(a + 1));
        pieces.push((shown, w, underline));
    }
    let cursor_col: usize = pieces.iter().take(p.input.cursor()).map(|p| p.1).sum();
    let room = width.saturating_sub(label_w).max(1);
    // Columns of text hidden on the left; when any, a `…` takes the first column.
    let skip = if cursor_col < room {
        0
    } else {
        cursor_col + 2 - room
    };
    let mut spans = vec![Span::styled(label, theme.heading())];
    if skip > 0 {
        spans.push(Span::styled("…", theme.dim()));
    }
    let plain_style = Style::default();
    let bad_style = theme
        .error()
        .add_modifier(ratatui::style::Modifier::UNDERLINED);
    let mut col = 0;
    let mut run = String::new();
    let mut run_bad = false;
    for (shown, w, underline) in pieces {
        let start = col;
        col += w;
        if start < skip {
            // A wide character cut by the left edge: its visible half is a blank.
            run.push_str(&" ".repeat(col.saturating_sub(skip)));
            continue;
        }
        if underline != run_bad && !run.is_empty() {
            let style = if run_bad { bad_style } else { plain_style };
            spans.push(Span::styled(std::mem::take(&mut run), style));
        }
        run_bad = underline;
        run.push_str(&shown);
    }
    if !run.is_empty() {
        let style = if run_bad { bad_style } else { plain_style };
        spans.push(Span::styled(run, style));
    }
    // An error at the end of the text (a missing value) underlines the blank after it.
    if bad.is_some_and(|(a, _)| a >= value.len()) {
        spans.push(Span::styled(" ", bad_style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    let x = label_w + cursor_col - skip + usize::from(skip > 0);
    let x = area.x
        + u16::try_from(x)
            .unwrap_or(u16::MAX)
            .min(area.width.saturating_sub(1));
    f.set_cursor_position(Position::new(x, area.y));
}

/// A style helper for "label: value" lines.
pub fn field<'a>(label: &'a str, value: String, theme: Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{label:<12}"), theme.dim()),
        Span::raw(value),
    ])
}

/// A blank style, for symmetry with the theme calls.
pub fn plain() -> Style {
    Style::default()
}

#[cfg(test)]
mod tests {
    use super::clean_fit as fit;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn clean_fit_cuts_by_display_width_with_an_ellipsis_and_whole_graphemes() {
        assert_eq!(fit("Ana Admin", 9), "Ana Admin");
        assert_eq!(fit("Ana Admin", 8), "Ana Adm…");
        assert_eq!(fit("Ana", 0), "");
        assert_eq!(fit("Ana", 1), "…");
        // Two columns each: three fit in 7 with the ellipsis, and a half character is never shown.
        assert_eq!(fit("李小龍李小龍", 7), "李小龍…");
        assert_eq!(fit("李小龍李小龍", 6), "李小…");
        // An emoji with a skin-tone modifier and a combining accent stay whole.
        let thumbs = "👍🏽👍🏽👍🏽";
        assert_eq!(fit(thumbs, 5), "👍🏽👍🏽…");
        assert_eq!(fit("e\u{301}e\u{301}e\u{301}x", 3), "e\u{301}e\u{301}…");
        // A bidi override is made visible and inert before the cut.
        let spoof = fit("\u{202e}gnp.exe", 20);
        assert!(!spoof.contains('\u{202e}'), "{spoof:?}");
        for (s, w) in [("🦊 fox 李", 4), ("\u{202e}abc李", 3), ("abc", 2)] {
            assert!(fit(s, w).width() <= w, "{s:?} in {w}");
        }
    }
}
