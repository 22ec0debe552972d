//! The alert queue: one row per alert, only the rows on screen are handed to the table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::block;
use crate::tui::state::{AppState, SortOrder};
use crate::tui::theme::Theme;
use crate::tui::widgets::{clean, clean_opt, sev_label, short_time, status_label};

/// Draw the queue into `area`; `focused` decides the border emphasis.
pub fn draw(f: &mut Frame, area: Rect, s: &AppState, theme: Theme, focused: bool) {
    let q = &s.queue;
    let mut title = format!(" Queue ({} ", q.rows.len());
    if q.more_older || q.more_newer {
        title.push_str("loaded");
    } else {
        title.push_str("alerts");
    }
    title.push(')');
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
    let block: Block = block(title, theme, focused);
    let inner = block.inner(area);
    f.render_widget(block, area);

    if q.rows.is_empty() {
        let text = if let Some(e) = &q.error {
            Line::styled(
                format!("could not load alerts: {}", clean(e, 200)),
                theme.error(),
            )
        } else if !q.loaded {
            Line::styled("loading…", theme.dim())
        } else if q.filter_text.is_empty() {
            Line::styled(
                "No alerts yet. New ones appear here as the engine raises them.",
                theme.dim(),
            )
        } else {
            Line::styled("No alert matches the filter (/ to change it).", theme.dim())
        };
        f.render_widget(Paragraph::new(text), inner);
        return;
    }

    let narrow = inner.width < 90;
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
                Cell::from(clean(&a.title, 60)),
                Cell::from(clean(actor, 24)),
                Cell::from(a.count.to_string()),
            ];
            if !narrow {
                cells.push(Cell::from(clean_opt(a.subject.as_deref(), 60)));
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
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(11),
        Constraint::Fill(3),
        Constraint::Fill(2),
        Constraint::Length(5),
    ];
    let mut head = vec![
        "",
        "SEV",
        "STAT",
        "TIME (UTC)",
        "DETECTION",
        "ACTOR",
        "COUNT",
    ];
    if !narrow {
        widths.push(Constraint::Fill(2));
        head.push("SUBJECT");
    }
    let header = Row::new(
        head.into_iter()
            .map(|h| Cell::from(Span::styled(h, theme.dim()))),
    );
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    f.render_widget(table, inner);
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
