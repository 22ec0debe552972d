//! The alert queue: one row per alert, only the rows on screen are handed to the table.
//!
//! Columns give way to the pane's width: ASSIGNEE goes first (below [`ASSIGNEE_FROM`] columns inside the
//! border), SUBJECT shows only from [`SUBJECT_FROM`]. Every text cell is cut to its column's real width with
//! an ellipsis, so a cut name never passes for a short one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::block;
use crate::tui::state::{AppState, QueueState, SortOrder};
use crate::tui::theme::Theme;
use crate::tui::widgets::{clean, clean_fit, sev_label, short_time, status_label};

/// Inner width from which the ASSIGNEE column is shown (the queue beside the detail at 120 columns is 64
/// wide inside; a whole 80-column terminal gives 78).
pub const ASSIGNEE_FROM: u16 = 60;
/// Inner width from which the SUBJECT column is shown.
pub const SUBJECT_FROM: u16 = 90;
/// Blank columns between two columns.
const SPACING: u16 = 1;

/// Draw the queue into `area`; `focused` decides the border emphasis.
pub fn draw(f: &mut Frame, area: Rect, s: &AppState, theme: Theme, focused: bool) {
    let q = &s.queue;
    let mut block: Block = block(title(q), theme, focused);
    if !q.rows.is_empty() {
        block = block.title_bottom(Line::from(position(q)).right_aligned());
    }
    let inner = block.inner(area);
    f.render_widget(block, area);

    if q.rows.is_empty() {
        f.render_widget(Paragraph::new(empty_text(q, theme)), inner);
        return;
    }

    let with_assignee = inner.width >= ASSIGNEE_FROM;
    let with_subject = inner.width >= SUBJECT_FROM;
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Fill(3),
        Constraint::Fill(2),
    ];
    let dim = |h: &'static str| Line::from(Span::styled(h, theme.dim()));
    let mut head = vec![
        dim(""),
        dim("SEV"),
        dim("STATUS"),
        dim("TIME (UTC)"),
        dim("DETECTION"),
        dim("ACTOR"),
    ];
    if with_assignee {
        widths.push(Constraint::Length(if with_subject { 12 } else { 8 }));
        head.push(dim("ASSIGNEE"));
    }
    widths.push(Constraint::Length(5));
    head.push(dim("COUNT").right_aligned());
    if with_subject {
        widths.push(Constraint::Fill(2));
        head.push(dim("SUBJECT"));
    }
    // The widths the table will give each column (it lays them out with the same constraints, spacing and
    // flex), so that text is cut, with its ellipsis, before the table would cut it silently.
    let cols: Vec<usize> = Layout::horizontal(widths.iter().copied())
        .flex(Flex::Start)
        .spacing(SPACING)
        .split(Rect::new(0, 0, inner.width, 1))
        .iter()
        .map(|r| usize::from(r.width))
        .collect();
    let width = |i: usize| cols.get(i).copied().unwrap_or(0);
    let (title_w, actor_w) = (width(4), width(5));
    let assignee_w = width(6);
    let subject_w = cols.last().copied().unwrap_or(0);

    let height = usize::from(inner.height.saturating_sub(1)).max(1);
    let offset = visible_offset(q.selected, q.offset, height);
    let rows = q
        .rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, a)| {
            let marked = q.marked.contains(&a.id);
            let actor = a
                .actor
                .name
                .as_deref()
                .or(a.actor.email.as_deref())
                .unwrap_or(&a.actor.id);
            let mut cells = vec![
                // Style only a visible mark: a styled blank costs escape bytes on every row of every frame.
                if marked {
                    Cell::from("●").style(theme.marked())
                } else {
                    Cell::from(" ")
                },
                Cell::from(sev_label(a.severity)).style(theme.severity(a.severity)),
                Cell::from(status_label(a.status)).style(theme.status(a.status)),
                Cell::from(short_time(a.time_start)),
                Cell::from(clean_fit(&a.title, title_w)),
                Cell::from(clean_fit(actor, actor_w)),
            ];
            if with_assignee {
                cells.push(Cell::from(
                    a.assignee
                        .as_deref()
                        .filter(|w| !w.trim().is_empty())
                        .map_or_else(|| "-".into(), |w| clean_fit(w, assignee_w)),
                ));
            }
            cells.push(Cell::from(
                Line::from(clean_fit(&a.count.to_string(), 5)).right_aligned(),
            ));
            if with_subject {
                cells.push(Cell::from(
                    a.subject
                        .as_deref()
                        .map_or_else(|| "-".into(), |t| clean_fit(t, subject_w)),
                ));
            }
            let row = Row::new(cells);
            if i == q.selected {
                row.style(theme.cursor())
            } else if marked {
                row.style(theme.marked())
            } else {
                row
            }
        });
    let header = Row::new(head.into_iter().map(Cell::from));
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(SPACING)
        .flex(Flex::Start);
    f.render_widget(table, inner);
}

/// The pane's title: what is listed (`1 alert`, `5 alerts`, `200 loaded` when the store holds more), the
/// "mine" view, the filter as typed, the sort and the selection.
fn title(q: &QueueState) -> String {
    let n = q.rows.len();
    let count = if q.more_older || q.more_newer {
        format!("{n} loaded")
    } else if n == 1 {
        "1 alert".to_string()
    } else {
        format!("{n} alerts")
    };
    let mut title = if q.is_mine() {
        format!(" Queue · mine ({count})")
    } else {
        format!(" Queue ({count})")
    };
    if !q.filter_text.is_empty() {
        title.push_str(&format!(" /{}", clean(&q.filter_text, 40)));
    }
    if q.sort == SortOrder::Severity {
        title.push_str(" · by severity");
    }
    if !q.marked.is_empty() {
        title.push_str(&format!(" · {} selected", q.marked.len()));
    }
    title.push(' ');
    title
}

/// Where the cursor is among the rows loaded, for the bottom border: `3/75`, and `3/200+` while older rows
/// can still be paged in (positions count from the newest alert, also after the window moved down).
fn position(q: &QueueState) -> String {
    let more = if q.more_older { "+" } else { "" };
    format!(
        " {}/{}{more} ",
        q.window_start + q.selected + 1,
        q.window_start + q.rows.len()
    )
}

/// What an empty queue says: an error, "loading", a filter that matches nothing, or — an empty store — how
/// to get events in (short enough for an 80x24 terminal and for the queue beside the detail).
fn empty_text(q: &QueueState, theme: Theme) -> Vec<Line<'static>> {
    if let Some(e) = &q.error {
        return vec![Line::styled(
            format!("could not load alerts: {}", clean(e, 200)),
            theme.error(),
        )];
    }
    if !q.loaded {
        return vec![Line::styled("loading…", theme.dim())];
    }
    if q.is_mine() {
        return vec![Line::styled(
            "Nothing assigned to you matches (M shows everyone's, / changes the filter).",
            theme.dim(),
        )];
    }
    if !q.filter_text.is_empty() {
        return vec![Line::styled(
            "No alert matches the filter (/ to change it).",
            theme.dim(),
        )];
    }
    vec![
        Line::styled(
            "No alerts yet. New ones appear here as they are raised.",
            theme.dim(),
        ),
        Line::raw(""),
        Line::styled("To load audit events:", theme.dim()),
        Line::from(vec![
            Span::raw("  vigil ingest FILE  "),
            Span::styled("   once, from a file", theme.dim()),
        ]),
        Line::from(vec![
            Span::raw("  [[sources]] entry  "),
            Span::styled("   in the config, to follow a stream", theme.dim()),
        ]),
    ]
}

/// First visible row: the state's scroll position, corrected if the pane is shorter than the state assumed.
pub fn visible_offset(selected: usize, offset: usize, height: usize) -> usize {
    if selected < offset {
        selected
    } else if selected >= offset + height {
        selected + 1 - height
    } else {
        offset
    }
}
