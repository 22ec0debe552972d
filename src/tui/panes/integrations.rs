//! The configured integrations, read-only until delivery lands.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::block;
use crate::tui::state::AppState;
use crate::tui::theme::Theme;
use crate::tui::widgets::clean;

/// Draw the integrations list and the read-only notice.
pub fn draw(f: &mut Frame, area: Rect, s: &AppState, theme: Theme, focused: bool) {
    let b = block(
        format!(" Integrations ({}) ", s.integrations.items.len()),
        theme,
        focused,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [note, list] = Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(inner);
    f.render_widget(
        Paragraph::new(Line::styled(
            "Delivery arrives with the integrations issue: this list is read-only.",
            theme.dim(),
        )),
        note,
    );
    if s.integrations.items.is_empty() {
        f.render_widget(
            Paragraph::new(Line::styled("No integrations configured.", theme.dim())),
            list,
        );
        return;
    }
    let rows = s.integrations.items.iter().enumerate().map(|(i, view)| {
        let v = &view.integration;
        let dets = if v.detections.is_empty() {
            "all".to_string()
        } else {
            clean(&v.detections.join(","), 40)
        };
        let row = Row::new(vec![
            Cell::from(if v.enabled { "on" } else { "off" }),
            Cell::from(clean(&v.name, 24)),
            Cell::from(v.kind.as_str()),
            Cell::from(clean(&view.endpoint, 48)),
            Cell::from(format!(">={}", v.min_severity)),
            Cell::from(dets),
        ]);
        if i == s.integrations.selected && focused {
            row.style(theme.cursor())
        } else {
            row
        }
    });
    let widths = [
        Constraint::Length(3),
        Constraint::Fill(2),
        Constraint::Length(11),
        Constraint::Fill(3),
        Constraint::Length(10),
        Constraint::Fill(1),
    ];
    let head = ["ON", "NAME", "KIND", "ENDPOINT", "MIN SEV", "DETECTIONS"];
    let header = Row::new(
        head.into_iter()
            .map(|h| Cell::from(Span::styled(h, theme.dim()))),
    );
    f.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        list,
    );
}
