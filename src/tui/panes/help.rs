//! The `?` help: what every key does (from the live keymap, so remapped keys show as they are), then the
//! filter language of `/` term by term and the `:` commands, each with an example to copy — the things a
//! key list cannot teach.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::block;
use crate::tui::action::Action;
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;

/// The filter terms (`/`, `:filter`): an example, and what it selects. Kept beside the grammar's own
/// documentation in `model::query`; `tests/tui_panes.rs` checks that each example parses.
pub const FILTER_TERMS: &[(&str, &str)] = &[
    (
        "status:open  status:open,ack",
        "any of these statuses: open, ack, expected, tp",
    ),
    (
        "sev:high  sev:>=high  sev:<medium",
        "severity, exactly or bounded (low medium high critical)",
    ),
    (
        "det:page-crawling",
        "one detection, by its id (the detections pane, 4, lists them)",
    ),
    (
        "actor:ana  actor:ana@example.com",
        "part of a name, e-mail or id; with @ or a digit, exact",
    ),
    (
        "actor:\"Ana Lima\"",
        "quote a value that holds spaces (\\\" inside quotes)",
    ),
    (
        "assignee:bob  assignee:me  assignee:none",
        "who it is assigned to; me is you, none nobody",
    ),
    (
        "since:7d  since:2026-11-01  since:today",
        "created at or after: s m h d w ago, a date (UTC), yesterday",
    ),
    ("until:2026-11-30", "created before (same forms)"),
    (
        "bulk export  \"bulk export\"",
        "free text in the title, subject, actor or detection",
    ),
];

/// A whole filter, as an analyst would type it.
pub const FILTER_EXAMPLE: &str = "status:open sev:>=high since:24h det:bulk-export";

/// The `:` commands, each with an example and what it does.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        ":status acknowledged",
        "set the status (also :ack :expected :tp :reopen)",
    ),
    (
        ":assign ana  :assign me",
        "assign the selection; :unassign clears",
    ),
    (
        ":note called Ana, expected travel",
        "add a note with the rest of the line",
    ),
    (
        ":export csv ~/q3.csv",
        "export the selection or filtered view; :export! overwrites",
    ),
    (
        ":sensitivity page-crawling fewer",
        "fewer, default or more alerts from a counting detection",
    ),
    (
        ":enable page-crawling  :disable …",
        "switch a detection on or off",
    ),
    (
        ":filter status:open sev:>=high",
        "filter like /; :filter alone clears it",
    ),
    (":sort time  :sort severity", "order of the queue"),
    (
        ":suspend  :restore acme",
        "the alert's actor in the org (K, alt-k); asks first",
    ),
    (":help  :quit", "this help; leave vigil"),
];

/// Lines before the key list: how to move around the help.
const INTRO: usize = 2;

/// Columns from which an example and its meaning share a line; narrower, the meaning goes on the line
/// below, indented, so that 80 columns cut neither.
pub const SIDE_BY_SIDE: u16 = 100;

/// How many lines the help has at `width` columns: the key list (one line per action), the filter and
/// command sections. The state clamps its scroll to this, so `G` reaches the end and `k` moves at once
/// from there.
pub fn line_count(width: u16) -> usize {
    let per = if width >= SIDE_BY_SIDE { 1 } else { 2 };
    INTRO + Action::ALL.len() + 1 + 2 + per * FILTER_TERMS.len() + 2 + 1 + 2 + per * COMMANDS.len()
}

/// Draw the help over `area` (the whole body), scrolled by `scroll` lines.
pub fn draw(f: &mut Frame, area: Rect, keymap: &Keymap, theme: Theme, scroll: usize) {
    let heading = |t: &str| Line::styled(t.to_string(), theme.heading());
    let side_by_side = area.width >= SIDE_BY_SIDE;
    let row = |left: &str, right: &str, width: usize| -> Vec<Line<'static>> {
        if side_by_side {
            vec![Line::from(vec![
                Span::styled(format!("{left:<width$}"), theme.bold()),
                Span::raw(" "),
                Span::raw(right.to_string()),
            ])]
        } else {
            vec![
                Line::styled(left.to_string(), theme.bold()),
                Line::raw(format!("    {right}")),
            ]
        }
    };
    let mut lines = vec![
        Line::styled(
            "Keys first, then filter terms (/) and : commands (G jumps there). q closes.",
            theme.dim(),
        ),
        heading("Keys"),
    ];
    lines.extend(keymap.bindings().into_iter().map(|(action, keys)| {
        let keys = if keys.is_empty() {
            "(unbound)".to_string()
        } else {
            keys.join(", ")
        };
        Line::from(vec![
            Span::styled(format!("{keys:<22}"), theme.bold()),
            Span::raw(action.help()),
        ])
    }));
    lines.push(Line::raw(""));
    lines.push(heading(
        "Filter (/ or :filter): terms separated by spaces, all must hold",
    ));
    lines.push(Line::styled(
        "Keys are case-insensitive; an unknown key or detection is refused, not ignored.",
        theme.dim(),
    ));
    lines.extend(FILTER_TERMS.iter().flat_map(|(ex, what)| row(ex, what, 40)));
    lines.push(Line::from(vec![
        Span::styled("Example: ", theme.dim()),
        Span::styled(FILTER_EXAMPLE, theme.bold()),
    ]));
    lines.push(Line::styled(
        "/ opens with the filter in force: type to add a term, ctrl-u clears it.",
        theme.dim(),
    ));
    lines.push(Line::raw(""));
    lines.push(heading(
        "Commands (:) act on the selection, else the current alert",
    ));
    lines.push(Line::styled(
        "Type the line, then enter; a mistake is explained in the footer. esc leaves.",
        theme.dim(),
    ));
    lines.extend(COMMANDS.iter().flat_map(|(ex, what)| row(ex, what, 36)));
    debug_assert_eq!(lines.len(), line_count(area.width));
    let max = lines
        .len()
        .saturating_sub(usize::from(area.height.saturating_sub(2)));
    let scroll = u16::try_from(scroll.min(max)).unwrap_or(0);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .block(block(" Help (q or esc closes) ".into(), theme, true))
            .scroll((scroll, 0)),
        area,
    );
}
