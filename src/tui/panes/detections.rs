//! The detections catalogue with the settings in force; tuning keys act on the selected row.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use super::block;
use super::queue::visible_offset;
use crate::detect::tuning::Sensitivity;
use crate::tui::state::AppState;
use crate::tui::theme::Theme;
use crate::tui::widgets::{clean, sev_label, span};

/// Draw the detections table.
pub fn draw(f: &mut Frame, area: Rect, s: &AppState, theme: Theme, focused: bool) {
    let d = &s.detections;
    let b = block(format!(" Detections ({}) ", d.items.len()), theme, focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let wide = inner.width >= 100;
    let height = usize::from(inner.height.saturating_sub(1)).max(1);
    let offset = visible_offset(d.selected, d.offset, height);
    let rows = d
        .items
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, v)| {
            let sens = match v.settings.sensitivity {
                Sensitivity::Default => "default",
                other => other.as_str(),
            };
            let threshold = v
                .threshold
                .map_or_else(|| "-".to_string(), |(w, t)| format!("{t}/{}", span(w)));
            let mut cells = vec![
                Cell::from(if v.settings.enabled { "on" } else { "off" }).style(
                    if v.settings.enabled {
                        theme.ok()
                    } else {
                        theme.dim()
                    },
                ),
                Cell::from(clean(&v.id, 30)),
            ];
            if wide {
                cells.push(Cell::from(clean(&v.title, 40)));
            }
            cells.extend([
                Cell::from(clean(&v.category, 18)),
                Cell::from(sev_label(v.severity)).style(theme.severity(v.severity)),
                Cell::from(if v.threshold.is_some() { sens } else { "-" }),
                Cell::from(threshold),
                Cell::from(v.settings.exclusions.len().to_string()),
            ]);
            let row = Row::new(cells);
            if i == d.selected {
                row.style(theme.cursor())
            } else {
                row
            }
        });
    let mut widths = vec![Constraint::Length(3), Constraint::Fill(2)];
    let mut head = vec!["ON", "ID"];
    if wide {
        widths.push(Constraint::Fill(2));
        head.push("TITLE");
    }
    widths.extend([
        Constraint::Length(17),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(4),
    ]);
    head.extend(["CATEGORY", "SEV", "SENS", "THRESH", "EXCL"]);
    let header = Row::new(
        head.into_iter()
            .map(|h| Cell::from(Span::styled(h, theme.dim()))),
    );
    f.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        inner,
    );
}
